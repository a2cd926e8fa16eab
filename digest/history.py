"""What earlier digests covered, and so what the next one covers."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from digest.period import Period, Span
from digest.schedule import DigestSchedule
from models import DigestRun, Topic


def last_end(session: Session, topic_id: int, period: Period) -> datetime | None:
    """Where the topic's last digest of this kind ended, or None before the first."""
    return session.scalar(
        select(func.max(DigestRun.span_end)).where(
            DigestRun.topic_id == topic_id, DigestRun.period == period.value
        )
    )


def next_span(
    session: Session, topic: Topic, period: Period, end: datetime, schedule: DigestSchedule
) -> Span:
    """What a digest ending at `end` covers: since the previous one, at most one period."""
    earliest = period.earliest_start(end, schedule.zone)
    last = last_end(session, topic.id, period)
    return Span(max(last, earliest) if last is not None else earliest, end)
