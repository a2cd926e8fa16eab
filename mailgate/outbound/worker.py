"""The outbox worker: claims due outbox rows, composes and signs them, and sends them on."""

from __future__ import annotations

import asyncio
import enum
import logging
import time
from collections import defaultdict, deque
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Update, case, null, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from mailgate import addresses
from mailgate.addresses import Kind
from mailgate.outbound.compose import ListContext
from mailgate.outbound.copies import CopyMaker
from mailgate.outbound.dkim_sign import DkimSigner
from mailgate.outbound.transport import PermanentFailure, TemporaryFailure, Transport
from models import (
    DigestRun,
    Member,
    Outbox,
    OutboxKind,
    OutboxStatus,
    Subscription,
    Topic,
    utcnow,
)
from models.db import unit_of_work

log = logging.getLogger(__name__)

# Waits after the 1st, 2nd… temporary failure; the last one repeats until GIVE_UP_AFTER.
BACKOFF = tuple(timedelta(minutes=m) for m in (1, 5, 15, 30, 60, 120, 240))
GIVE_UP_AFTER = timedelta(days=5)

# Delivery is at-least-once. A claim moves next_attempt_at LEASE ahead and commits before
# anything is sent, so no other worker (or this one after a restart) takes the row while
# it is in flight; results are committed together, every _RECORD_EVERY_ROWS rows or
# _RECORD_EVERY_SECONDS seconds. Only a crash between the relay's 250 and that commit makes
# those copies go out again once the lease ends; a copy lost without trace would be worse,
# and the repeat carries the same Message-ID, which mail programs fold into one. No send
# starts later than START_WITHIN after its claim, so every send (bounded by the transport's
# timeouts) ends inside the lease.
LEASE = timedelta(minutes=15)
START_WITHIN = 300.0  # seconds
_SENDABLE = (OutboxKind.COPY, OutboxKind.NOTICE, OutboxKind.DIGEST)
_RECORD_TRIES = 3
# Results are committed together, at least this often: few writes, on a database whose one
# writer lock the SMTP gateway needs for every mail it takes.
_RECORD_EVERY_ROWS = 50
_RECORD_EVERY_SECONDS = 2.0
_CHUNK = 16


class _Result(enum.Enum):
    SENT = "sent"
    RETRY = "retry"
    FAILED = "failed"
    SKIPPED = "skipped"  # never attempted: nobody left to send it to


@dataclass(frozen=True)
class _Claim:
    id: int
    attempts: int
    created_at: datetime
    claimed_at: datetime
    lease: datetime
    kind: OutboxKind


@dataclass(frozen=True)
class _Ready:
    envelope_from: str
    recipient: str
    message: bytes  # signed when there is a signer


_Prepared = _Ready | tuple[_Result, str] | None
_Outcome = tuple[_Claim, _Result, str]


class OutboxWorker:
    """Sends what the forum queued: copies, digests and notices, with retries and no repeats."""

    def __init__(
        self,
        factory: sessionmaker[Session],
        lc: ListContext,
        transport: Transport,
        *,
        signer: DkimSigner | None = None,
        clock: Callable[[], datetime] = utcnow,
        batch: int = 100,
        concurrency: int = 4,
    ) -> None:
        self._factory = factory
        self._lc = lc
        self._transport = transport
        self._signer = signer
        self._clock = clock
        self._batch = batch
        self._concurrency = max(1, concurrency)
        self._stop: asyncio.Event | None = None
        self._copies = CopyMaker(lc)

    async def run(self, stop: asyncio.Event, interval: float = 1.0) -> None:
        """Send what is due until `stop` is set; a failed round is logged and tried again."""
        self._stop = stop
        failures = 0
        while not stop.is_set():
            try:
                handled = await self.run_once()
                failures = 0
            except Exception:
                failures += 1
                log.exception("outbox round failed (%d in a row)", failures)
                handled = 0
            if handled < self._batch:
                wait = min(interval * 2 ** min(failures, 6), max(interval, 60.0))
                with suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), wait)

    async def run_once(self) -> int:
        """Claim up to `batch` due rows and send them, `concurrency` at a time; return the count."""
        claims = await asyncio.to_thread(self._claim)
        if not claims:
            return 0
        started = time.monotonic()
        waiting = deque(claims)
        handled = [0]
        done: list[_Outcome] = []  # sent or given up, not yet recorded
        recorded_at = [started]
        # Each lane composes a few rows in one database session, then sends them one by one.
        chunk = max(1, min(_CHUNK, len(claims) // self._concurrency))

        async def record(*, all_now: bool = False) -> None:
            due = time.monotonic() - recorded_at[0] >= _RECORD_EVERY_SECONDS
            if done and (all_now or due or len(done) >= _RECORD_EVERY_ROWS):
                batch = done[:]
                done.clear()
                recorded_at[0] = time.monotonic()
                await self._record_all(batch)

        async def lane() -> None:
            while waiting:
                taken = [waiting.popleft() for _ in range(min(chunk, len(waiting)))]
                ready = await self._prepare_all(taken)
                for index, claim in enumerate(taken):
                    stopping = self._stop is not None and self._stop.is_set()
                    if stopping or time.monotonic() - started > START_WITHIN:
                        left = taken[index:] + list(waiting)
                        waiting.clear()
                        await asyncio.to_thread(self._release, left)
                        return
                    outcome = await self._attempt(claim, ready[claim.id])
                    if outcome is not None:
                        done.append(outcome)
                    handled[0] += 1
                await record()

        try:
            async with asyncio.TaskGroup() as group:
                for _ in range(min(self._concurrency, len(claims))):
                    group.create_task(lane())
        finally:
            await record(all_now=True)
        return handled[0]

    async def _prepare_all(self, claims: list[_Claim]) -> dict[int, _Prepared]:
        try:
            return await asyncio.to_thread(self._prepare, [claim.id for claim in claims])
        except SQLAlchemyError as exc:
            log.warning("outbox: database error while composing %d rows: %s", len(claims), exc)
            return {c.id: (_Result.RETRY, f"database error while composing: {exc}") for c in claims}

    async def _attempt(self, claim: _Claim, ready: _Prepared) -> _Outcome | None:
        if ready is None:
            return None
        if isinstance(ready, tuple):
            return (claim, *ready)
        return (claim, *await self._send(claim.id, ready))

    async def _record_all(self, outcomes: list[_Outcome]) -> None:
        """Record results in one transaction: one write instead of one per copy."""
        if not outcomes:
            return
        for attempt in range(1, _RECORD_TRIES + 1):
            try:
                return await asyncio.to_thread(self._record, outcomes)
            except SQLAlchemyError:
                # Not recorded means sent again after the lease; worth a few tries.
                if attempt == _RECORD_TRIES:
                    raise
                log.warning("outbox: could not record %d results; retrying", len(outcomes))
                await asyncio.sleep(attempt)

    async def _send(self, outbox_id: int, ready: _Ready) -> tuple[_Result, str]:
        try:
            await self._transport.send(ready.envelope_from, ready.recipient, ready.message)
        except TemporaryFailure as exc:
            log.info("outbox #%d to %s deferred: %s", outbox_id, ready.recipient, exc)
            return _Result.RETRY, str(exc)
        except PermanentFailure as exc:
            log.warning("outbox #%d to %s refused: %s", outbox_id, ready.recipient, exc)
            return _Result.FAILED, str(exc)
        except Exception as exc:
            log.exception("outbox #%d: the transport failed", outbox_id)
            return _Result.RETRY, f"transport error: {exc!r}"
        log.debug("outbox #%d sent to %s", outbox_id, ready.recipient)
        return _Result.SENT, ""

    def _claim(self) -> list[_Claim]:
        now = self._clock()
        lease = now + LEASE
        due = (
            select(Outbox.id)
            .where(
                Outbox.status == OutboxStatus.QUEUED,
                Outbox.next_attempt_at <= now,
                Outbox.kind.in_(_SENDABLE),
            )
            .order_by(Outbox.next_attempt_at, Outbox.id)
            .limit(self._batch)
            .with_for_update(skip_locked=True)
        )
        # One UPDATE … RETURNING: on SQLite it takes the write lock at once (a SELECT then
        # UPDATE could fail to upgrade its lock), on PostgreSQL SKIP LOCKED lets workers share.
        claim = (
            update(Outbox)
            .where(Outbox.id.in_(due.scalar_subquery()))
            .values(next_attempt_at=lease)
            .returning(Outbox.id, Outbox.attempts, Outbox.created_at, Outbox.kind)
        )
        with unit_of_work(self._factory) as session:
            rows = session.connection().execute(claim).all()
        claims = [
            _Claim(row.id, row.attempts, row.created_at, now, lease, row.kind) for row in rows
        ]
        return sorted(claims, key=lambda c: (c.created_at, c.id))

    def _release(self, claims: list[_Claim]) -> None:
        with unit_of_work(self._factory) as session:
            for claim in claims:
                session.connection().execute(
                    _if_still_ours(claim).values(next_attempt_at=claim.claimed_at)
                )

    def _prepare(self, outbox_ids: list[int]) -> dict[int, _Prepared]:
        """For each row, in one session: the envelope and signed bytes, or why not to send it.

        None stands for a row that is gone; a row that cannot be composed fails alone.
        """
        prepared: dict[int, _Prepared] = dict.fromkeys(outbox_ids)
        with unit_of_work(self._factory) as session:
            for row in session.scalars(select(Outbox).where(Outbox.id.in_(outbox_ids))):
                try:
                    prepared[row.id] = self._prepare_row(session, row)
                except SQLAlchemyError:
                    raise
                except Exception as exc:
                    log.exception("outbox #%d could not be composed", row.id)
                    prepared[row.id] = (_Result.FAILED, f"could not be composed: {exc!r}")
        return prepared

    def _prepare_row(self, session: Session, row: Outbox) -> _Ready | tuple[_Result, str]:
        if row.kind is OutboxKind.NOTICE:
            if not row.recipient or row.message is None:
                return _Result.SKIPPED, "a notice without a recipient or a message"
            return _Ready(row.envelope_from, row.recipient, self._sign(row.message))
        if row.kind is OutboxKind.DIGEST:
            return self._digest(session, row)
        return self._copy(session, row)

    def _digest(self, session: Session, row: Outbox) -> _Ready | tuple[_Result, str]:
        """A member's copy of a digest: built when the run was queued, sent like a copy."""
        run = session.get(DigestRun, row.digest_run_id) if row.digest_run_id is not None else None
        member = session.get(Member, row.member_id) if row.member_id is not None else None
        topic = session.get(Topic, run.topic_id) if run is not None else None
        if run is None or member is None or topic is None:
            return _Result.SKIPPED, "the digest run or the member no longer exists"
        if not row.recipient or row.message is None:
            return _Result.SKIPPED, "a digest copy without a recipient or a message"
        reason = _why_not_deliver(session, member, topic)
        if reason is not None:
            return _Result.SKIPPED, reason
        bounces = addresses.make(
            Kind.BOUNCES, topic.slug, self._lc.list_domain, addresses.verp_encode(row.recipient)
        )
        return _Ready(bounces, row.recipient, self._sign(row.message))

    def _copy(self, session: Session, row: Outbox) -> _Ready | tuple[_Result, str]:
        copy = self._copies.make(session, row)
        if isinstance(copy, str):
            return _Result.SKIPPED, copy
        return _Ready(copy.envelope_from, copy.recipient, self._sign(copy.message))

    def _sign(self, message: bytes) -> bytes:
        return self._signer.sign(message) if self._signer is not None else message

    def _record(self, outcomes: list[_Outcome]) -> None:
        """Results in one short transaction: the sent rows, the common case, in one UPDATE
        per lease, so that the write lock is held for a moment and not for a row at a time."""
        now = self._clock()
        statements: list[Update] = []
        sent: defaultdict[datetime, list[int]] = defaultdict(list)
        for claim, result, error in outcomes:
            if result is _Result.SENT:
                sent[claim.lease].append(claim.id)
            else:
                values = self._result_values(claim, result, error, now)
                statements.append(_if_still_ours(claim).values(**values))
        for lease, ids in sent.items():
            statements.append(_sent(ids, lease, now))
        with unit_of_work(self._factory) as session:
            connection = session.connection()
            done = sum(connection.execute(statement).rowcount for statement in statements)
        if done < len(outcomes):
            log.warning(
                "outbox: the lease of %d row(s) ended before their results were recorded",
                len(outcomes) - done,
            )

    @staticmethod
    def _result_values(claim: _Claim, result: _Result, error: str, now: datetime) -> dict[str, Any]:
        """The row's new values after a result other than SENT (see `_sent`)."""
        attempts = claim.attempts + 1
        values: dict[str, Any]
        if result is _Result.SKIPPED:
            values = {"status": OutboxStatus.FAILED, "last_error": error}
        elif result is _Result.FAILED:
            values = {"status": OutboxStatus.FAILED, "attempts": attempts, "last_error": error}
        else:
            give_up_at = claim.created_at + GIVE_UP_AFTER
            if now >= give_up_at:
                error = f"gave up after {attempts} attempts in {GIVE_UP_AFTER.days} days: {error}"
                values = {"status": OutboxStatus.FAILED, "attempts": attempts}
            else:
                wait = BACKOFF[min(attempts, len(BACKOFF)) - 1]
                values = {"attempts": attempts, "next_attempt_at": min(now + wait, give_up_at)}
            values["last_error"] = error
        return values


def _sent(ids: list[int], lease: datetime, now: datetime) -> Update:
    """Mark rows sent that this worker's lease still holds.

    A digest copy's bytes (tens of kB, for every member of a big topic) are of no use once
    sent; the row itself stays as the record that this member got this run.
    """
    return (
        update(Outbox)
        .where(
            Outbox.id.in_(ids),
            Outbox.status == OutboxStatus.QUEUED,
            Outbox.next_attempt_at == lease,
        )
        .values(
            status=OutboxStatus.SENT,
            sent_at=now,
            attempts=Outbox.attempts + 1,
            message=case((Outbox.kind == OutboxKind.DIGEST, null()), else_=Outbox.message),
        )
    )


def _if_still_ours(claim: _Claim) -> Update:
    """An UPDATE of the row that matches only while this claim's lease holds it."""
    return update(Outbox).where(
        Outbox.id == claim.id,
        Outbox.status == OutboxStatus.QUEUED,
        Outbox.next_attempt_at == claim.lease,
    )


def _why_not_deliver(session: Session, member: Member, topic: Topic) -> str | None:
    if member.email is None:
        return "the member has no address any more"
    if member.delivery_disabled_at is not None:
        return "delivery to the member is disabled"
    subscription = session.scalar(
        select(Subscription).where(
            Subscription.member_id == member.id, Subscription.topic_id == topic.id
        )
    )
    if subscription is None or subscription.ended_at is not None:
        return f"the member's subscription to {topic.slug} has ended"
    return None
