"""Send digests exactly once: record each run, queue each member's copy, finish after a crash.

A run is claimed first (a DigestRun with finished_at NULL, in its own transaction), then
its copies are queued in batches, each batch one transaction of Outbox rows whose unique
(digest_run_id, member_id) stops a second copy, then the run is marked finished. A crash at
any point leaves either nothing or an unfinished run, which the next call finishes: members
who already have their row are skipped, the others get theirs.
"""

from __future__ import annotations

import enum
import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, exists, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from digest.build import Letter, build_letter, run_message_id
from digest.history import last_end, next_span
from digest.lock import single_sender
from digest.period import Period, Span
from digest.schedule import DigestSchedule
from mailgate.outbound import ListContext
from models import (
    DigestRun,
    Member,
    Outbox,
    OutboxKind,
    Subscription,
    Topic,
    utcnow,
)
from models.db import unit_of_work

log = logging.getLogger("delapost.digest")

BATCH = 500
# A post is stamped when it arrives and committed a moment later; a digest ends this long
# before it is read, so that no post stamped inside its span is still on its way.
SETTLE = timedelta(seconds=30)


@dataclass(frozen=True)
class DigestConfig:
    lc: ListContext
    schedule: DigestSchedule
    batch: int = BATCH
    settle: timedelta = SETTLE


class Status(enum.StrEnum):
    SENT = "sent"  # copies queued
    NO_READERS = "no readers"  # nobody reads this kind of digest of the topic: recorded
    EMPTY = "empty"  # nothing arrived in the span: recorded, nothing sent
    NOT_DUE = "not due"  # the last digest already covers up to this time
    BUSY = "busy"  # another process is sending these digests right now
    STOPPED = "stopped"  # shutting down; the run is finished on the next start


@dataclass(frozen=True)
class Report:
    topic: str
    period: Period
    status: Status
    run_id: int | None = None
    span: Span | None = None
    queued: int = 0
    new_threads: int = 0
    replies: int = 0


class _Overtaken(Exception):
    """Another run of the same digest was recorded while this one was being claimed."""


def _recipients(
    session: Session, topic_id: int, period: Period, run_id: int, after: int, limit: int
) -> list[Member]:
    """Readers of this digest still without their copy of the run, by member id."""
    return list(
        session.scalars(
            select(Member)
            .join(Subscription, Subscription.member_id == Member.id)
            .where(
                Subscription.topic_id == topic_id,
                Subscription.mode == period.mode,
                Subscription.ended_at.is_(None),
                Member.email.is_not(None),
                Member.delivery_disabled_at.is_(None),
                Member.id > after,
                ~exists().where(Outbox.digest_run_id == run_id, Outbox.member_id == Member.id),
            )
            .order_by(Member.id)
            .limit(limit)
        )
    )


class DigestSender:
    """Sends the forum's digests; safe to call again and again, from any process."""

    def __init__(
        self,
        factory: sessionmaker[Session],
        config: DigestConfig,
        *,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._factory = factory
        self._config = config
        self._clock = clock
        self._stop = threading.Event()
        self._running = {period: threading.Lock() for period in Period}
        bind: Any = factory.kw["bind"]
        assert isinstance(bind, Engine)
        self._engine = bind

    def stop(self) -> None:
        """Finish the batch at hand and return; an unfinished run is finished next time."""
        self._stop.set()

    def send_due(self, period: Period) -> list[Report]:
        """Bring every topic's `period` digest up to date with the schedule.

        First finish runs a crash left half done; then, for each topic whose last digest
        (or, before the first, the topic itself) is older than the latest scheduled time,
        send one digest up to that time. Missed times are coalesced into that one run.
        """
        with self._exclusive(period) as mine:
            if not mine:
                return [Report("*", period, Status.BUSY)]
            now = self._clock()
            latest = self._config.schedule.latest_fire(period, now)
            reports = self._finish_unfinished(period)
            # Right at the scheduled time, give posts stamped just before it time to land.
            self._stop.wait(max((latest + self._config.settle - now).total_seconds(), 0))
            with self._factory() as session:
                topics = session.execute(
                    select(Topic.id, Topic.slug, Topic.created_at).order_by(Topic.id)
                ).all()
                ends = dict(
                    session.execute(
                        select(DigestRun.topic_id, func.max(DigestRun.span_end))
                        .where(DigestRun.period == period.value)
                        .group_by(DigestRun.topic_id)
                    ).all()
                )
            for topic_id, slug, created_at in topics:
                if self._stop.is_set():
                    break
                if (ends.get(topic_id) or created_at) >= latest:
                    continue
                try:
                    reports.append(self._send(topic_id, slug, period, latest))
                except Exception:
                    log.exception("the %s digest of %s failed; it is tried again", period, slug)
            return reports

    def send_now(self, slug: str, period: Period) -> Report:
        """The digest of one topic now, covering what arrived since its previous one."""
        with self._exclusive(period) as mine:
            if not mine:
                return Report(slug, period, Status.BUSY)
            with self._factory() as session:
                topic_id = session.scalar(select(Topic.id).where(Topic.slug == slug))
            if topic_id is None:
                raise LookupError(f"no topic {slug!r}")
            self._finish_unfinished(period, topic_id)
            return self._send(topic_id, slug, period, self._clock() - self._config.settle)

    @contextmanager
    def _exclusive(self, period: Period) -> Iterator[bool]:
        """True while this is the only sender of `period` digests, in and across processes."""
        running = self._running[period]
        if not running.acquire(blocking=False):
            yield False
            return
        try:
            with single_sender(self._engine, f"digest:{period.value}") as held:
                if not held:
                    log.info("another process is sending the %s digests", period)
                yield held
        finally:
            running.release()

    def _finish_unfinished(self, period: Period, topic_id: int | None = None) -> list[Report]:
        query = select(DigestRun.id).where(
            DigestRun.finished_at.is_(None), DigestRun.period == period.value
        )
        if topic_id is not None:
            query = query.where(DigestRun.topic_id == topic_id)
        with self._factory() as session:
            run_ids = list(session.scalars(query.order_by(DigestRun.id)))
        reports = []
        for run_id in run_ids:
            log.info("finishing %s digest run #%d, left unfinished", period, run_id)
            reports.append(self._enqueue(run_id))
        return reports

    def _send(self, topic_id: int, slug: str, period: Period, end: datetime) -> Report:
        run_id = self._claim(topic_id, period, end)
        if run_id is None:
            return Report(slug, period, Status.NOT_DUE)
        return self._enqueue(run_id)

    def _claim(self, topic_id: int, period: Period, end: datetime) -> int | None:
        """Record a run of the digest ending at `end`; None when it is not due."""
        with self._factory() as session:
            same = session.scalar(
                select(DigestRun).where(
                    DigestRun.topic_id == topic_id,
                    DigestRun.period == period.value,
                    DigestRun.span_end == end,
                )
            )
            if same is not None:
                return same.id if same.finished_at is None else None
            topic = session.get_one(Topic, topic_id)
            last = last_end(session, topic_id, period)
            if last is not None and last >= end:
                return None
            span = next_span(session, topic, period, end, self._config.schedule)
        try:
            # The INSERT comes first, so that SQLite takes its write lock before reading.
            with unit_of_work(self._factory) as session:
                run = DigestRun(
                    topic_id=topic_id,
                    period=period.value,
                    span_start=span.start,
                    span_end=span.end,
                    created_at=self._clock(),
                    finished_at=None,
                )
                session.add(run)
                session.flush()
                newest = session.scalar(
                    select(func.max(DigestRun.span_end)).where(
                        DigestRun.topic_id == topic_id,
                        DigestRun.period == period.value,
                        DigestRun.id != run.id,
                    )
                )
                if newest != last:
                    raise _Overtaken
                return run.id
        except (IntegrityError, _Overtaken):
            log.info("the %s digest of topic #%d was sent by another run", period, topic_id)
            return None

    def _enqueue(self, run_id: int) -> Report:
        """Queue every reader's copy of run `run_id` not yet queued, then mark it finished."""
        config = self._config
        now = self._clock()
        with self._factory() as session:
            run = session.get_one(DigestRun, run_id)
            topic = session.get_one(Topic, run.topic_id)
            period = Period(run.period)
            span = Span(run.span_start, run.span_end)
            has_readers = bool(_recipients(session, topic.id, period, run_id, 0, 1))
            letter = (
                build_letter(
                    session,
                    topic,
                    period,
                    span,
                    lc=config.lc,
                    zone=config.schedule.zone,
                    message_id=run_message_id(run_id, period, topic.slug, config.lc),
                    now=now,
                )
                if has_readers
                else None
            )
        if letter is None:
            self._finished(run_id)
            status = Status.EMPTY if has_readers else Status.NO_READERS
            log.info("%s digest of %s (run #%d): %s", period, topic.slug, run_id, status.value)
            return Report(topic.slug, period, status, run_id, span)
        queued = 0
        after = 0
        while True:
            if self._stop.is_set():
                return self._report(letter, Status.STOPPED, run_id, queued)
            with self._factory() as session:
                members = _recipients(session, topic.id, period, run_id, after, config.batch)
            if not members:
                break
            _insert_batch(self._factory, letter, run_id, members, now)
            queued += len(members)
            after = members[-1].id
        self._finished(run_id)
        report = self._report(letter, Status.SENT, run_id, queued)
        log.info(
            "%s digest of %s (run #%d): %d new threads, %d replies; %d copies queued",
            period,
            topic.slug,
            run_id,
            report.new_threads,
            report.replies,
            queued,
        )
        return report

    def _finished(self, run_id: int) -> None:
        with unit_of_work(self._factory) as session:
            session.execute(
                update(DigestRun)
                .where(DigestRun.id == run_id, DigestRun.finished_at.is_(None))
                .values(finished_at=self._clock())
            )

    @staticmethod
    def _report(letter: Letter, status: Status, run_id: int, queued: int) -> Report:
        return Report(
            letter.topic.slug,
            letter.period,
            status,
            run_id,
            letter.content.span,
            queued,
            letter.content.new_thread_count,
            letter.content.reply_count,
        )


def _insert_batch(
    factory: sessionmaker[Session],
    letter: Letter,
    run_id: int,
    members: list[Member],
    now: datetime,
) -> None:
    """One transaction of copies; the unique (digest_run_id, member_id) forbids a second."""
    rows = [
        {
            "kind": OutboxKind.DIGEST,
            "digest_run_id": run_id,
            "member_id": member.id,
            "recipient": member.email,
            "message": letter.message_for(member),
            "created_at": now,
            "next_attempt_at": now,
        }
        for member in members
    ]
    with unit_of_work(factory) as session:
        session.execute(insert(Outbox), rows)
