"""A digest as `digest send` would send it now, printed or sent to one address; never recorded."""

from __future__ import annotations

from datetime import datetime
from email.utils import make_msgid

from sqlalchemy import select
from sqlalchemy.orm import Session

from digest.build import Letter, build_letter
from digest.history import next_span
from digest.period import Period, Span
from digest.runner import DigestConfig
from models import Member, Outbox, OutboxKind, Topic

PREVIEW_NOTICE = "digest-preview"


def preview_letter(
    session: Session, topic: Topic, period: Period, config: DigestConfig, now: datetime
) -> tuple[Span, Letter | None]:
    """The span and digest `digest send` would send now, built without recording anything."""
    span = next_span(session, topic, period, now - config.settle, config.schedule)
    letter = build_letter(
        session,
        topic,
        period,
        span,
        lc=config.lc,
        zone=config.schedule.zone,
        message_id=make_msgid("digest-preview", domain=config.lc.list_domain),
        now=now,
    )
    return span, letter


def queue_preview(session: Session, letter: Letter, to: str, now: datetime) -> None:
    """Queue one copy of `letter` to `to` alone, as a notice: no run, no digest rows.

    A member with that address gets their own unsubscribe link; anyone else a stand-in's.
    """
    member = session.scalar(select(Member).where(Member.email == to.lower()))
    session.add(
        Outbox(
            kind=OutboxKind.NOTICE,
            recipient=to,
            notice_kind=PREVIEW_NOTICE,
            envelope_from="",
            message=letter.message_for(member, to=to),
            created_at=now,
            next_attempt_at=now,
        )
    )
