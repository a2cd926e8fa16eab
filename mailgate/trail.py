"""The trail of decisions about one mail: logged with its Message-ID and kept as MailEvent rows."""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import insert
from sqlalchemy.orm import Session

from mailgate.verdict import Verdict, name_of
from models import MailEvent

log = logging.getLogger("delapost.pipeline")

Trail = list[tuple[str, str]]
_NEW_EVENTS = insert(MailEvent)


def log_decision(message_id: str, address: str, verdict: Verdict, trail: Trail) -> None:
    """One line per mail and recipient: the answer, then every step's reason in order."""
    steps = "; ".join(f"{step}: {detail}" for step, detail in trail)
    log.info(
        "<%s> to %s: %s %d %s %s [%s]",
        message_id,
        address,
        name_of(verdict),
        verdict.reply.code,
        verdict.reply.status,
        verdict.detail,
        steps,
    )


def record(
    session: Session, message_id: str, verdict: Verdict, trail: Trail, now: datetime
) -> None:
    """Store the trail and the verdict, so that `delapost why` can answer later."""
    rows: list[dict[str, object]] = [
        {"message_id": message_id, "step": step, "verdict": "note", "detail": detail, "at": now}
        for step, detail in trail
    ]
    rows.append(
        {
            "message_id": message_id,
            "step": "verdict",
            "verdict": name_of(verdict),
            "detail": f"{verdict.reply.code} {verdict.reply.status} {verdict.detail}",
            "at": now,
        }
    )
    session.connection().execute(_NEW_EVENTS, rows)
