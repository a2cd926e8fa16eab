"""What waits for a person: held posts and confirmation tokens."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Enum, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, intpk, timestamp


class HeldStatus(enum.StrEnum):
    HELD = "held"
    RELEASED = "released"
    REFUSED = "refused"
    EXPIRED = "expired"


class HeldPost(Base):
    """A post that arrived but waits: for the sender's confirmation or an owner's decision."""

    __tablename__ = "held_post"

    id: Mapped[intpk]
    topic_id: Mapped[int] = mapped_column(ForeignKey("topic.id", ondelete="CASCADE"), index=True)
    raw_message_id: Mapped[int] = mapped_column(ForeignKey("raw_message.id", ondelete="CASCADE"))
    sender: Mapped[str | None] = mapped_column(String(320))
    reason: Mapped[str] = mapped_column(Text)
    status: Mapped[HeldStatus] = mapped_column(
        Enum(
            HeldStatus, native_enum=False, length=10, values_callable=lambda e: [m.value for m in e]
        ),
        default=HeldStatus.HELD,
    )
    created_at: Mapped[timestamp]
    decided_at: Mapped[datetime | None]


class ConfirmationKind(enum.StrEnum):
    JOIN = "join"  # become a member of a topic
    POST = "post"  # become a member and publish the held post
    FORGET = "forget"  # erase me


class Confirmation(Base):
    """A one-time token mailed to an address; whoever holds the mailbox may confirm."""

    __tablename__ = "confirmation"

    id: Mapped[intpk]
    # Only a hash of the token is stored, so a database dump cannot confirm anything.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[ConfirmationKind] = mapped_column(
        Enum(
            ConfirmationKind,
            native_enum=False,
            length=10,
            values_callable=lambda e: [m.value for m in e],
        )
    )
    email: Mapped[str | None] = mapped_column(String(320))
    name: Mapped[str] = mapped_column(String(200), default="")
    topic_id: Mapped[int | None] = mapped_column(ForeignKey("topic.id", ondelete="CASCADE"))
    held_post_id: Mapped[int | None] = mapped_column(ForeignKey("held_post.id", ondelete="CASCADE"))
    created_at: Mapped[timestamp]
    expires_at: Mapped[timestamp]
    # Set by whoever proves the mailbox (a reply, or the button on the web page)...
    confirmed_at: Mapped[datetime | None]
    # ...and then by the gateway once it has acted on it (membership, held post published).
    applied_at: Mapped[datetime | None]
