"""The gateway's database transactions: bounded waits for locks, retried when writers collide."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from models.db import SQLITE_IMMEDIATE, unit_of_work

log = logging.getLogger("delapost.pipeline")

T = TypeVar("T")

# PostgreSQL: lock_not_available (lock_timeout ran out), deadlock_detected, serialization_failure.
_PG_CONFLICTS = frozenset({"55P03", "40P01", "40001"})
_TWIN_RETRIES = 2  # a unique key taken by a concurrent twin of this mail is found on the retry


class DatabaseBusy(Exception):
    """The database stayed locked for longer than the gateway waits; the sender retries."""


def is_lock_conflict(error: OperationalError) -> bool:
    """True when the database refused because another writer held a lock, not because it is down."""
    orig = error.orig
    if getattr(orig, "sqlstate", None) in _PG_CONFLICTS:
        return True
    # SQLite: "database is locked" after busy_timeout, or at once when a reading transaction
    # cannot become a writer because another one committed since it began (WAL snapshot).
    message = str(orig).lower()
    return "database is locked" in message or "database table is locked" in message


class Transactions:
    """Runs units of work for the gateway within `lock_wait` seconds, or raises DatabaseBusy.

    On SQLite the gateway's own writers take turns on a lock in this process: the database
    allows one writer anyway, and threads queueing here wait in order instead of sleeping in
    SQLite's busy handler and failing to upgrade their read snapshots.
    """

    def __init__(self, factory: sessionmaker[Session], *, lock_wait: float) -> None:
        self.factory = factory
        self.lock_wait = lock_wait
        bind = factory.kw.get("bind")
        self.dialect = bind.dialect.name if isinstance(bind, Engine) else ""
        self._writer = threading.Lock() if self.dialect == "sqlite" else None

    def run(self, work: Callable[[Session], T], *, write: bool = True) -> T:
        """`work(session)` in one transaction, committed when it returns; retried on conflicts."""
        deadline = time.monotonic() + self.lock_wait
        twins = 0
        pause = 0.005
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise DatabaseBusy(f"still locked after {self.lock_wait:g} s")
            writer = self._writer if write else None
            if writer is not None and not writer.acquire(timeout=remaining):
                raise DatabaseBusy(f"no turn to write within {self.lock_wait:g} s")
            try:
                with unit_of_work(self.factory) as session:
                    if writer is not None:
                        # SQLite's write lock taken at BEGIN: a transaction that read first
                        # cannot become a writer once another process (the outbox worker)
                        # has committed since, and would have to start over.
                        session.connection(execution_options={SQLITE_IMMEDIATE: True})
                    self._bound_waits(session, deadline - time.monotonic())
                    return work(session)
            except OperationalError as error:
                if not is_lock_conflict(error):
                    raise
                log.info("database busy (%s); trying again", str(error.orig).strip()[:80])
            except IntegrityError:
                twins += 1
                if twins > _TWIN_RETRIES:
                    raise
                log.info("a concurrent transaction took the same key; trying again")
            finally:
                if writer is not None:
                    writer.release()
            time.sleep(min(pause, max(0.0, deadline - time.monotonic())))
            pause = min(pause * 2, 0.1)

    def _bound_waits(self, session: Session, seconds: float) -> None:
        # SQLite waits as long as the engine's busy_timeout says; PostgreSQL would wait for a
        # lock forever, so this transaction is told how long it may.
        if self.dialect == "postgresql":
            milliseconds = max(1, int(seconds * 1000))
            session.execute(text(f"SET LOCAL lock_timeout = {milliseconds}"))
