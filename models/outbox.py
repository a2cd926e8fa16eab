"""The outbox: every mail we will send, written in the same transaction as its cause."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Enum, ForeignKey, Index, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, intpk, timestamp


class OutboxKind(enum.StrEnum):
    COPY = "copy"  # a post redistributed to one member; composed when sent
    DIGEST = "digest"  # one member's copy of a digest run; composed when sent
    NOTICE = "notice"  # a confirmation, command answer, refusal…; stored ready to send


class OutboxStatus(enum.StrEnum):
    QUEUED = "queued"
    SENT = "sent"
    FAILED = "failed"


def _enum(e: type[enum.StrEnum]) -> Enum:
    return Enum(e, native_enum=False, length=10, values_callable=lambda x: [m.value for m in x])


class Outbox(Base):
    __tablename__ = "outbox"
    __table_args__ = (
        # No member gets the same post or the same digest run twice, across restarts.
        UniqueConstraint("post_id", "member_id"),
        UniqueConstraint("digest_run_id", "member_id"),
        Index("ix_outbox_due", "status", "next_attempt_at"),
    )

    id: Mapped[intpk]
    kind: Mapped[OutboxKind] = mapped_column(_enum(OutboxKind))
    status: Mapped[OutboxStatus] = mapped_column(_enum(OutboxStatus), default=OutboxStatus.QUEUED)
    post_id: Mapped[int | None] = mapped_column(ForeignKey("post.id", ondelete="CASCADE"))
    digest_run_id: Mapped[int | None] = mapped_column(
        ForeignKey("digest_run.id", ondelete="CASCADE")
    )
    member_id: Mapped[int | None] = mapped_column(ForeignKey("member.id", ondelete="CASCADE"))
    # Set for notices only; copies take the member's current address when sent.
    recipient: Mapped[str | None] = mapped_column(String(320))
    # What a notice is about ("confirm", "refused", "help"…), for the one-per-day limit.
    notice_kind: Mapped[str] = mapped_column(String(40), default="")
    envelope_from: Mapped[str] = mapped_column(String(320), default="")
    message: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_at: Mapped[timestamp]
    next_attempt_at: Mapped[timestamp]
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str] = mapped_column(Text, default="")
    sent_at: Mapped[datetime | None]
