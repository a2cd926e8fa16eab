"""Exactly once: one copy per reader and run, across repeats, crashes and other processes."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, timedelta

import pytest
from sqlalchemy import func, select, text, update
from sqlalchemy.orm import Session, sessionmaker

import digest.runner
from digest.lock import lock_key
from digest.period import Period
from digest.runner import DigestSender, Status
from mailgate.outbound import OutboxWorker, SmtpRelay
from models import DigestRun, Member, Mode, Outbox, OutboxKind, Subscription
from models.db import unit_of_work
from tests.conftest import Clock
from tests.digest.content import (
    CONFIG,
    LC,
    MONDAY,
    add_member,
    answer,
    kost_forum,
    start_thread,
    topic_of,
)
from tests.digest.reading import parse
from tests.support.database import postgres_server_url
from tests.support.smtp_sink import SmtpSink

SENT_AT = MONDAY.astimezone(UTC) + timedelta(minutes=1)


def a_week_with_readers(factory: sessionmaker[Session]) -> dict[str, Member]:
    with unit_of_work(factory) as session:
        people = kost_forum(session, SENT_AT - timedelta(days=60))
        topic = topic_of(session)
        first = start_thread(
            session,
            topic,
            people["anna"],
            "Laktosfri mjölk i förskolan",
            "Vem levererar laktosfri mjölk?\n",
            SENT_AT - timedelta(days=3),
        )
        answer(session, first, people["erik"], "Arla.", SENT_AT - timedelta(days=2))
        return people


def digest_rows(factory: sessionmaker[Session]) -> list[tuple[int | None, str | None]]:
    with factory() as session:
        rows = session.execute(
            select(Outbox.member_id, Outbox.recipient)
            .where(Outbox.kind == OutboxKind.DIGEST)
            .order_by(Outbox.member_id)
        )
        return [(member_id, recipient) for member_id, recipient in rows]


def runs(factory: sessionmaker[Session]) -> list[tuple[str, bool]]:
    with factory() as session:
        return [
            (period, finished is not None)
            for period, finished in session.execute(
                select(DigestRun.period, DigestRun.finished_at).order_by(DigestRun.id)
            )
        ]


def test_two_runs_back_to_back_send_one_digest(factory: sessionmaker[Session]) -> None:
    people = a_week_with_readers(factory)
    clock = Clock(SENT_AT)
    sender = DigestSender(factory, CONFIG, clock=clock)

    first = sender.send_due(Period.WEEKLY)
    second = sender.send_due(Period.WEEKLY)
    clock.advance(seconds=5)
    by_hand = sender.send_now("kost", Period.WEEKLY)

    assert [(r.status, r.queued, r.new_threads, r.replies) for r in first] == [
        (Status.SENT, 4, 1, 1)
    ]
    assert second == []
    assert (by_hand.status, by_hand.queued) == (Status.EMPTY, 0)
    assert digest_rows(factory) == sorted((m.id, m.email) for m in people.values())
    assert runs(factory) == [("weekly", True), ("weekly", True)]


def test_only_active_readers_of_that_kind_of_digest_get_it(factory: sessionmaker[Session]) -> None:
    people = a_week_with_readers(factory)
    with unit_of_work(factory) as session:
        topic = topic_of(session)
        daily = add_member(session, topic, "dag@umea.se", "Dag Läsare", SENT_AT, Mode.DAILY)
        each = add_member(session, topic, "varje@umea.se", "Varje Läsare", SENT_AT, Mode.EACH)
        session.execute(
            update(Subscription)
            .where(Subscription.member_id == people["erik"].id)
            .values(ended_at=SENT_AT - timedelta(days=1))
        )
        session.execute(
            update(Member)
            .where(Member.id == people["asa"].id)
            .values(delivery_disabled_at=SENT_AT - timedelta(days=1))
        )
        session.execute(
            update(Member)
            .where(Member.id == people["karin"].id)
            .values(email=None, forgotten_at=SENT_AT - timedelta(days=1))
        )
    sender = DigestSender(factory, CONFIG, clock=Clock(SENT_AT))

    sender.send_due(Period.WEEKLY)

    assert digest_rows(factory) == [(people["anna"].id, "anna.andersson@molndal.se")]
    with unit_of_work(factory) as session:
        start_thread(
            session,
            topic_of(session),
            daily,
            "I går kväll",
            "Ny fråga.\n",
            SENT_AT - timedelta(hours=5),
        )
    sender.send_due(Period.DAILY)
    assert {member_id for member_id, _ in digest_rows(factory)} == {people["anna"].id, daily.id}
    assert each.id not in {member_id for member_id, _ in digest_rows(factory)}


def test_an_empty_week_sends_nothing_and_says_so(factory: sessionmaker[Session]) -> None:
    with unit_of_work(factory) as session:
        kost_forum(session, SENT_AT - timedelta(days=60))

    reports = DigestSender(factory, CONFIG, clock=Clock(SENT_AT)).send_due(Period.WEEKLY)

    assert [(r.status, r.queued) for r in reports] == [(Status.EMPTY, 0)]
    assert digest_rows(factory) == []
    assert runs(factory) == [("weekly", True)]


def test_a_crash_halfway_is_finished_on_restart_and_nobody_gets_two(
    factory: sessionmaker[Session],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    people = a_week_with_readers(factory)
    config = CONFIG.__class__(CONFIG.lc, CONFIG.schedule, batch=2, settle=CONFIG.settle)
    real_insert = digest.runner._insert_batch
    batches = []

    def crash_on_the_second_batch(*args: object, **kwargs: object) -> None:
        batches.append(1)
        if len(batches) == 2:
            raise ConnectionError("the server lost power")
        real_insert(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(digest.runner, "_insert_batch", crash_on_the_second_batch)
    with caplog.at_level(logging.ERROR, "delapost.digest"):
        crashed = DigestSender(factory, config, clock=Clock(SENT_AT)).send_due(Period.WEEKLY)
    assert crashed == [] and "the server lost power" in caplog.text
    assert len(digest_rows(factory)) == 2
    assert runs(factory) == [("weekly", False)]

    monkeypatch.setattr(digest.runner, "_insert_batch", real_insert)
    later = Clock(SENT_AT + timedelta(minutes=15))
    resumed = DigestSender(factory, config, clock=later).send_due(Period.WEEKLY)
    again = DigestSender(factory, config, clock=later).send_due(Period.WEEKLY)

    assert [(r.status, r.queued) for r in resumed] == [(Status.SENT, 2)]
    assert again == []
    assert digest_rows(factory) == sorted((m.id, m.email) for m in people.values())
    assert runs(factory) == [("weekly", True)]

    with SmtpSink() as sink:
        relay = SmtpRelay(sink.host, sink.port, local_hostname="localhost", timeout=5)

        async def send_all() -> int:
            try:
                return await OutboxWorker(factory, LC, relay, clock=later).run_once()
            finally:
                await relay.close()

        assert asyncio.run(send_all()) == 4
    received = sorted(r.rcpt_tos[0] for r in sink.received)
    assert received == sorted(m.email for m in people.values() if m.email)
    assert {parse(r.data)["Message-ID"] for r in sink.received} == {
        "<digest.1.weekly.kost@forum.example.se>"
    }


ON_POSTGRESQL = pytest.param(
    "postgresql",
    marks=[
        pytest.mark.skipif(postgres_server_url() is None, reason="needs PostgreSQL"),
        pytest.mark.postgres,
    ],
)


@pytest.mark.parametrize("database_url", [ON_POSTGRESQL], indirect=True)
def test_with_several_processes_on_postgresql_only_the_lock_holder_sends(
    factory: sessionmaker[Session],
) -> None:
    a_week_with_readers(factory)
    engine = factory.kw["bind"]
    with engine.connect() as other_process:
        other_process.execute(
            text("SELECT pg_advisory_lock(:key)"), {"key": lock_key("digest:weekly")}
        )
        other_process.commit()

        busy = DigestSender(factory, CONFIG, clock=Clock(SENT_AT)).send_due(Period.WEEKLY)
        by_hand = DigestSender(factory, CONFIG, clock=Clock(SENT_AT)).send_now(
            "kost", Period.WEEKLY
        )

        assert [r.status for r in busy] == [Status.BUSY]
        assert by_hand.status is Status.BUSY
        assert digest_rows(factory) == [] and runs(factory) == []
        other_process.execute(
            text("SELECT pg_advisory_unlock(:key)"), {"key": lock_key("digest:weekly")}
        )
        other_process.commit()

    sent = DigestSender(factory, CONFIG, clock=Clock(SENT_AT)).send_due(Period.WEEKLY)
    assert [(r.status, r.queued) for r in sent] == [(Status.SENT, 4)]
    with factory() as session:
        assert session.scalar(select(func.count(DigestRun.id))) == 1
