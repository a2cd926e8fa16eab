"""Throwaway databases for tests: a SQLite file, or a fresh PostgreSQL database per test."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

POSTGRES_URL_VARIABLE = "DELAPOST_TEST_DATABASE_URL"


def postgres_server_url() -> str | None:
    """The PostgreSQL server the suite may use, from DELAPOST_TEST_DATABASE_URL."""
    return os.environ.get(POSTGRES_URL_VARIABLE) or None


@contextmanager
def fresh_database(kind: str, folder: Path, *, template: str | None = None) -> Iterator[str]:
    """The URL of an empty database of `kind` ("sqlite" or "postgresql"), dropped afterwards;
    on PostgreSQL a copy of the database `template` when one is named."""
    if kind == "sqlite":
        yield f"sqlite:///{folder / 'delapost.db'}"
        return
    server = postgres_server_url()
    assert server is not None
    name = f"delapost_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            copy = f' TEMPLATE "{template}"' if template else ""
            conn.execute(text(f'CREATE DATABASE "{name}"{copy}'))
        yield make_url(server).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
