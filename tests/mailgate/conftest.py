"""Fixtures of the gateway tests: DKIM keys of the senders' organisations, and ready databases.

`ready_factory` is `factory` from tests/conftest.py made faster: the migrated database with the
public-sector registry is built once per session and copied for each test (a file copy on
SQLite, CREATE DATABASE … TEMPLATE on PostgreSQL).
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from models import registry
from models.db import make_engine, make_sessionmaker, unit_of_work, upgrade
from tests.support.database import fresh_database, postgres_server_url

SIGNING_DOMAINS = ("molndal.se", "goteborg.se", "vaxjo.se", "orebro.se", "leverantor.se")


@pytest.fixture(scope="session")
def dkim_keys() -> dict[str, bytes]:
    """A PEM private key per sending domain; their public halves go into the test DNS."""
    return {
        domain: rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        for domain in SIGNING_DOMAINS
    }


def _prepare(url: str) -> None:
    engine = make_engine(url)
    try:
        upgrade(engine)
        with unit_of_work(make_sessionmaker(engine)) as session:
            registry.load(session, registry.shipped_rows())
    finally:
        engine.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "delapost.db"
    _prepare(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def postgres_template() -> Iterator[str]:
    server = postgres_server_url()
    assert server is not None
    name = f"delapost_template_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        _prepare(make_url(server).set(database=name).render_as_string(hide_password=False))
        yield name
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _kinds() -> list[object]:
    postgres = pytest.mark.skipif(
        postgres_server_url() is None, reason="DELAPOST_TEST_DATABASE_URL is not set"
    )
    return ["sqlite", pytest.param("postgresql", marks=[postgres, pytest.mark.postgres])]


@pytest.fixture(params=_kinds())
def ready_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of a fresh database, migrated and holding the registry, on SQLite and PostgreSQL."""
    if request.param == "sqlite":
        path = tmp_path / "delapost.db"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite:///{path}"
        return
    template = request.getfixturevalue("postgres_template")
    with fresh_database("postgresql", tmp_path, template=template) as url:
        yield url


@pytest.fixture
def ready_factory(ready_url: str) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(ready_url)
    yield make_sessionmaker(engine)
    engine.dispose()
