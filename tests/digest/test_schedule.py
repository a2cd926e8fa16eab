"""When digests go out: 07:00 in Stockholm through summer time changes, once after downtime."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from digest.period import Period
from digest.runner import DigestSender, Status
from digest.schedule import make_scheduler
from models import DigestRun, Outbox
from models.db import unit_of_work
from tests.conftest import Clock
from tests.digest.content import (
    CONFIG,
    MONDAY,
    SCHEDULE,
    STOCKHOLM,
    kost_forum,
    start_thread,
    topic_of,
)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def fire_times(job_id: str, after: datetime, count: int) -> list[datetime]:
    async def nothing(period: str) -> None:
        pass

    trigger = make_scheduler(SCHEDULE, nothing).get_job(job_id).trigger
    times: list[datetime] = []
    previous = None
    now = after
    for _ in range(count):
        moment = trigger.get_next_fire_time(previous, now)
        times.append(moment.astimezone(UTC))
        previous, now = moment, moment + timedelta(microseconds=1)
    return times


def test_the_daily_digest_goes_out_at_seven_in_stockholm_summer_time_or_not() -> None:
    # Summer time ends on Sunday 25 October 2026: 07:00 is 05:00 UTC before, 06:00 after.
    assert fire_times("digest-daily", utc(2026, 10, 23, 12, 0), 4) == [
        utc(2026, 10, 24, 5, 0),
        utc(2026, 10, 25, 6, 0),
        utc(2026, 10, 26, 6, 0),
        utc(2026, 10, 27, 6, 0),
    ]


def test_the_weekly_digest_goes_out_on_monday_at_seven_across_both_changes() -> None:
    assert fire_times("digest-weekly", utc(2026, 10, 14, 0, 0), 2) == [
        utc(2026, 10, 19, 5, 0),
        utc(2026, 10, 26, 6, 0),
    ]
    # Summer time starts on Sunday 28 March 2027.
    assert fire_times("digest-weekly", utc(2027, 3, 17, 0, 0), 2) == [
        utc(2027, 3, 22, 6, 0),
        utc(2027, 3, 29, 5, 0),
    ]


def test_a_digest_spans_one_day_of_the_clock_on_the_wall_not_24_hours() -> None:
    end = SCHEDULE.latest_fire(Period.DAILY, utc(2026, 10, 25, 9, 0))
    assert end == utc(2026, 10, 25, 6, 0)
    assert Period.DAILY.earliest_start(end, STOCKHOLM) == utc(2026, 10, 24, 5, 0)  # 25 hours
    end = SCHEDULE.latest_fire(Period.WEEKLY, utc(2027, 3, 31, 9, 0))
    assert end == utc(2027, 3, 29, 5, 0)
    assert Period.WEEKLY.earliest_start(end, STOCKHOLM) == utc(2027, 3, 22, 6, 0)


def test_the_scheduler_catches_up_on_both_digests_as_soon_as_it_starts() -> None:
    calls: list[str] = []

    async def scenario() -> None:
        async def send(period: str) -> None:
            calls.append(period)

        scheduler = make_scheduler(SCHEDULE, send)
        scheduler.start()
        try:
            for _ in range(100):
                if len(calls) >= 2:
                    break
                await asyncio.sleep(0.01)
        finally:
            scheduler.shutdown(wait=False)

    asyncio.run(scenario())

    assert calls == ["daily", "weekly"]


def test_after_three_weeks_down_the_missed_weekly_digest_is_sent_once_not_three_times(
    factory: sessionmaker[Session],
) -> None:
    monday = MONDAY.astimezone(UTC)
    with unit_of_work(factory) as session:
        people = kost_forum(session, monday - timedelta(days=60))
        topic = topic_of(session)
        session.add(
            DigestRun(
                topic_id=topic.id,
                period="weekly",
                span_start=monday - timedelta(days=28),
                span_end=monday - timedelta(days=21),
                created_at=monday - timedelta(days=21),
                finished_at=monday - timedelta(days=21),
            )
        )
        for weeks_ago in (3, 2, 1):
            start_thread(
                session,
                topic,
                people["anna"],
                f"Vecka {47 - weeks_ago + 1}",
                "Något hände.\n",
                monday - timedelta(weeks=weeks_ago, days=-2),
            )
    clock = Clock(monday + timedelta(days=2, hours=3))  # started again on Wednesday

    first = DigestSender(factory, CONFIG, clock=clock).send_due(Period.WEEKLY)
    again = DigestSender(factory, CONFIG, clock=clock).send_due(Period.WEEKLY)

    assert [r.status for r in first] == [Status.SENT]
    assert first[0].span is not None
    assert (first[0].span.start, first[0].span.end) == (monday - timedelta(days=7), monday)
    assert (first[0].new_threads, first[0].queued) == (1, 4)  # only last week's thread
    assert again == []
    with factory() as session:
        assert session.scalar(select(func.count(DigestRun.id))) == 2
        assert session.scalar(select(func.count(Outbox.id))) == 4

    clock.current = monday + timedelta(days=7, minutes=1)
    following = DigestSender(factory, CONFIG, clock=clock).send_due(Period.WEEKLY)
    assert [r.status for r in following] == [Status.EMPTY]
    assert following[0].span is not None and following[0].span.start == monday
