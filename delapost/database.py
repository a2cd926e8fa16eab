"""Open the configured database, which `delapost init` must have set up."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from delapost.settings import Settings
from models.db import checkpoint, is_initialised, make_engine

log = logging.getLogger("delapost")


class NotReady(RuntimeError):
    """The forum cannot start yet; the message says what to do."""


def open_database(settings: Settings, *, checkpoint_on_commit: bool = True) -> Engine:
    engine = make_engine(settings.database_url_resolved, checkpoint_on_commit=checkpoint_on_commit)
    try:
        ready = is_initialised(engine)
    except SQLAlchemyError as exc:
        engine.dispose()
        reason = getattr(exc, "orig", None) or exc
        first_line = str(reason).strip().splitlines()[0] if str(reason).strip() else ""
        raise NotReady(f"database_url: cannot open the database: {first_line}") from exc
    if not ready:
        engine.dispose()
        raise NotReady("the database is not set up yet; run 'delapost init' first")
    return engine


async def checkpoint_regularly(engine: Engine, stop: asyncio.Event, every: float = 1.0) -> None:
    """Until `stop`: SQLite's checkpoints on a thread of their own, for an engine made with
    `checkpoint_on_commit=False`, so that no sender waits for one before hearing 250."""
    if engine.dialect.name != "sqlite":
        return  # PostgreSQL checkpoints by itself
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), every)
        try:
            await asyncio.to_thread(checkpoint, engine)
        except Exception as exc:  # busy now; the next round tries again
            log.debug("checkpoint skipped: %s", exc)
