"""Notices we send to one person: confirmations, answers, refusals. Never to automatic mail."""

from __future__ import annotations

from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models import Outbox, OutboxKind

NOTICES_PER_DAY = 1


def compose(
    *,
    to: str,
    from_name: str,
    from_address: str,
    subject: str,
    body: str,
    list_domain: str,
    now: datetime,
    reply_to: str | None = None,
) -> bytes:
    message = EmailMessage()
    message["From"] = f'"{from_name}" <{from_address}>'
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = format_datetime(now)
    message["Message-ID"] = make_msgid(domain=list_domain)
    if reply_to:
        message["Reply-To"] = reply_to
    # RFC 3834: marks this as automatic, so that well-behaved systems never answer it.
    message["Auto-Submitted"] = "auto-replied"
    message["X-Auto-Response-Suppress"] = "All"
    message["X-Delapost-Loop"] = list_domain
    message.set_content(body, cte="quoted-printable")
    return message.as_bytes()


def already_sent_today(session: Session, to: str, kind: str, now: datetime) -> bool:
    count = session.scalar(
        select(func.count(Outbox.id)).where(
            Outbox.kind == OutboxKind.NOTICE,
            Outbox.recipient == to,
            Outbox.notice_kind == kind,
            Outbox.created_at > now - timedelta(days=1),
        )
    )
    return bool(count and count >= NOTICES_PER_DAY)


def enqueue_notice(
    session: Session, *, to: str, kind: str, message: bytes, now: datetime, limit: bool = True
) -> bool:
    """Queue a notice with a null return path; False when the daily limit held it back."""
    if limit and already_sent_today(session, to, kind, now):
        return False
    session.add(
        Outbox(
            kind=OutboxKind.NOTICE,
            recipient=to,
            notice_kind=kind,
            envelope_from="",
            message=message,
            created_at=now,
            next_attempt_at=now,
        )
    )
    return True
