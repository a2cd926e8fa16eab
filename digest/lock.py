"""One digest sender at a time across processes: an advisory lock on PostgreSQL."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine, text


def lock_key(name: str) -> int:
    """A stable signed 64-bit key for pg_try_advisory_lock, from a name."""
    digest = hashlib.sha256(f"delapost:{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


@contextmanager
def single_sender(engine: Engine, name: str) -> Iterator[bool]:
    """True while this process holds the lock `name`; False when another process does.

    On PostgreSQL a session-level advisory lock, held on a connection of its own for as long
    as the block runs, and released with it even if the process dies. SQLite has no such
    lock: one `serve` process per SQLite file is the rule there, and the unique
    (topic, period, span_end) of DigestRun turns a second run of the same digest into nothing.
    """
    if engine.dialect.name != "postgresql":
        yield True
        return
    connection = engine.connect()
    try:
        held = connection.execute(
            text("SELECT pg_try_advisory_lock(:key)"), {"key": lock_key(name)}
        ).scalar_one()
        connection.commit()
        yield bool(held)
        if held:
            # Released here, at once: a closed connection's backend may hold it a moment longer.
            connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": lock_key(name)})
            connection.commit()
    finally:
        # Closing the database session is what surely releases the lock, whatever happened.
        connection.invalidate()
        connection.close()
