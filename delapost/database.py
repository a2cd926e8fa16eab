"""Open the configured database, which `delapost init` must have set up."""

from __future__ import annotations

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from delapost.settings import Settings
from models.db import is_initialised, make_engine


class NotReady(RuntimeError):
    """The forum cannot start yet; the message says what to do."""


def open_database(settings: Settings) -> Engine:
    engine = make_engine(settings.database_url_resolved)
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
