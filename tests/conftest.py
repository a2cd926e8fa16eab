"""Fixtures shared by the whole suite: databases on SQLite and PostgreSQL, a fixed clock."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from models import registry
from models.db import make_engine, make_sessionmaker, unit_of_work, upgrade
from tests.support.database import fresh_database, postgres_server_url


def _database_kinds() -> list[object]:
    postgres = pytest.mark.skipif(
        postgres_server_url() is None, reason="DELAPOST_TEST_DATABASE_URL is not set"
    )
    return ["sqlite", pytest.param("postgresql", marks=[postgres, pytest.mark.postgres])]


@pytest.fixture(params=_database_kinds())
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database: every test that takes it runs on SQLite and on PostgreSQL."""
    with fresh_database(request.param, tmp_path) as url:
        yield url


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    """A migrated database holding the shipped public-sector registry."""
    engine = make_engine(database_url)
    upgrade(engine)
    with unit_of_work(make_sessionmaker(engine)) as session:
        registry.load(session, registry.shipped_rows())
    yield engine
    engine.dispose()


@pytest.fixture
def factory(engine: Engine) -> sessionmaker[Session]:
    return make_sessionmaker(engine)


class Clock:
    """A clock tests move by hand."""

    def __init__(self, start: datetime) -> None:
        self.current = start

    def __call__(self) -> datetime:
        return self.current

    def advance(self, **delta: float) -> None:
        self.current += timedelta(**delta)


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime(2026, 11, 23, 9, 30, tzinfo=UTC))
