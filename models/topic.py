"""Topics (one mailing list each), their owners, and who subscribes how."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import Enum, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Base, intpk, timestamp

if TYPE_CHECKING:
    from models.member import Member


class Mode(enum.StrEnum):
    """How a member receives a topic's posts."""

    EACH = "each"
    DAILY = "daily"
    WEEKLY = "weekly"
    NONE = "none"


class Topic(Base):
    __tablename__ = "topic"

    id: Mapped[intpk]
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    default_mode: Mapped[Mode] = mapped_column(
        Enum(Mode, native_enum=False, length=10, values_callable=lambda e: [m.value for m in e]),
        default=Mode.WEEKLY,
    )
    created_at: Mapped[timestamp]


class TopicOwner(Base):
    __tablename__ = "topic_owner"

    topic_id: Mapped[int] = mapped_column(
        ForeignKey("topic.id", ondelete="CASCADE"), primary_key=True
    )
    email: Mapped[str] = mapped_column(String(320), primary_key=True)


class Subscription(Base):
    __tablename__ = "subscription"
    __table_args__ = (UniqueConstraint("member_id", "topic_id"),)

    id: Mapped[intpk]
    member_id: Mapped[int] = mapped_column(ForeignKey("member.id", ondelete="CASCADE"))
    topic_id: Mapped[int] = mapped_column(ForeignKey("topic.id", ondelete="CASCADE"), index=True)
    mode: Mapped[Mode] = mapped_column(
        Enum(Mode, native_enum=False, length=10, values_callable=lambda e: [m.value for m in e])
    )
    created_at: Mapped[timestamp]
    ended_at: Mapped[datetime | None]

    member: Mapped[Member] = relationship()
    topic: Mapped[Topic] = relationship()


class FollowState(enum.StrEnum):
    FOLLOW = "follow"
    MUTE = "mute"


class ThreadFollow(Base):
    """A member's choice to get one thread post by post, or never."""

    __tablename__ = "thread_follow"

    member_id: Mapped[int] = mapped_column(
        ForeignKey("member.id", ondelete="CASCADE"), primary_key=True
    )
    thread_id: Mapped[int] = mapped_column(
        ForeignKey("thread.id", ondelete="CASCADE"), primary_key=True
    )
    state: Mapped[FollowState] = mapped_column(
        Enum(
            FollowState,
            native_enum=False,
            length=10,
            values_callable=lambda e: [m.value for m in e],
        )
    )
