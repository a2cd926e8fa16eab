"""Migrations and the public-sector registry on both databases."""

from __future__ import annotations

from sqlalchemy import Engine, inspect, select
from sqlalchemy.orm import Session, sessionmaker

from models import Organization, OrgDomain, Topic
from models.db import make_engine, unit_of_work, upgrade
from models.registry import organization_for


def test_migrations_create_every_table_and_run_twice(database_url: str) -> None:
    engine = make_engine(database_url)
    upgrade(engine)
    upgrade(engine)  # init is run on every upgrade of the software; it must be idempotent
    tables = set(inspect(engine).get_table_names())
    for table in (
        "member",
        "topic",
        "subscription",
        "thread",
        "post",
        "raw_message",
        "outbox",
        "attachment",
        "tag",
        "held_post",
        "confirmation",
        "digest_run",
        "org_domain",
    ):
        assert table in tables
    engine.dispose()


def test_sqlite_runs_in_wal_mode(engine: Engine) -> None:
    if engine.dialect.name != "sqlite":
        return
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert int(conn.exec_driver_sql("PRAGMA busy_timeout").scalar() or 0) >= 1000


def test_the_shipped_registry_has_every_kommun(factory: sessionmaker[Session]) -> None:
    with factory() as session:
        kommuner = session.scalars(select(Organization).where(Organization.kind == "kommun")).all()
        assert len(kommuner) == 290
        assert session.scalar(select(OrgDomain).where(OrgDomain.domain == "molndal.se"))


def test_registry_matches_the_longest_suffix_on_a_label_boundary(
    factory: sessionmaker[Session],
) -> None:
    with factory() as session:
        org = organization_for(session, "Anna.Berg@miljo.goteborg.se")
        assert org is not None and org.name == "Göteborgs Stad"
        assert organization_for(session, "someone@goteborg.se") == org
        assert organization_for(session, "seller@notgoteborg.se") is None
        assert organization_for(session, "seller@goteborg.se.example.com") is None
        assert organization_for(session, "x@gmail.com") is None


def test_a_topic_round_trips_swedish_text(factory: sessionmaker[Session]) -> None:
    with unit_of_work(factory) as session:
        session.add(Topic(slug="maltider", name="Offentliga måltider", description="Kök & mat"))
    with factory() as session:
        topic = session.scalar(select(Topic).where(Topic.slug == "maltider"))
        assert topic is not None and topic.name == "Offentliga måltider"


def test_the_migrations_build_exactly_the_models(database_url: str) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from models import Base, search

    engine = make_engine(database_url)
    upgrade(engine)
    with engine.connect() as conn:
        # The search index (migration 0002) is not a model: Alembic leaves it alone.
        context = MigrationContext.configure(conn, opts={"include_name": search.include_name})
        differences = compare_metadata(context, Base.metadata)
    engine.dispose()
    assert differences == [], "a model changed without a migration: add one with alembic"
