"""A record of each digest sent: which topic, which kind, which span of time."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, intpk, timestamp


class DigestRun(Base):
    __tablename__ = "digest_run"
    __table_args__ = (UniqueConstraint("topic_id", "period", "span_end"),)

    id: Mapped[intpk]
    topic_id: Mapped[int] = mapped_column(ForeignKey("topic.id", ondelete="CASCADE"))
    period: Mapped[str] = mapped_column(String(10))  # "daily" | "weekly"
    span_start: Mapped[timestamp]
    span_end: Mapped[timestamp]
    created_at: Mapped[timestamp]
    finished_at: Mapped[datetime | None]
