"""Threads, posts, the raw bytes they came from, their attachments and tags."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import (
    Column,
    ForeignKey,
    Index,
    LargeBinary,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Base, intpk, timestamp

if TYPE_CHECKING:
    from models.member import Member
    from models.organization import Organization
    from models.topic import Topic


thread_tag = Table(
    "thread_tag",
    Base.metadata,
    Column("thread_id", ForeignKey("thread.id", ondelete="CASCADE"), primary_key=True),
    Column("tag_id", ForeignKey("tag.id", ondelete="CASCADE"), primary_key=True, index=True),
)


class Tag(Base):
    __tablename__ = "tag"

    id: Mapped[intpk]
    name: Mapped[str] = mapped_column(String(64), unique=True)


class RawMessage(Base):
    """The exact bytes we accepted; everything else can be derived from them again."""

    __tablename__ = "raw_message"

    id: Mapped[intpk]
    message_id: Mapped[str] = mapped_column(String(998), index=True)
    mail_from: Mapped[str] = mapped_column(String(320))
    rcpt_to: Mapped[str] = mapped_column(Text)
    received_at: Mapped[timestamp]
    data: Mapped[bytes] = mapped_column(LargeBinary)


class Thread(Base):
    __tablename__ = "thread"
    __table_args__ = (
        Index("ix_thread_topic_activity", "topic_id", "last_post_at"),
        Index("ix_thread_conversation", "topic_id", "conversation_id"),
        Index("ix_thread_subject_key", "topic_id", "subject_key"),
    )

    id: Mapped[intpk]
    topic_id: Mapped[int] = mapped_column(ForeignKey("topic.id", ondelete="CASCADE"))
    subject: Mapped[str] = mapped_column(String(998))
    subject_key: Mapped[str] = mapped_column(String(998))
    conversation_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[timestamp]
    last_post_at: Mapped[timestamp]
    post_count: Mapped[int] = mapped_column(default=0)

    topic: Mapped[Topic] = relationship()
    posts: Mapped[list[Post]] = relationship(
        back_populates="thread", order_by="Post.created_at, Post.id"
    )
    tags: Mapped[list[Tag]] = relationship(secondary=thread_tag, order_by="Tag.name")


class Post(Base):
    __tablename__ = "post"
    __table_args__ = (
        UniqueConstraint("topic_id", "message_id"),
        Index("ix_post_thread_created", "thread_id", "created_at"),
        Index("ix_post_member_created", "member_id", "created_at"),
        Index("ix_post_org_created", "organization_id", "created_at"),
    )

    id: Mapped[intpk]
    topic_id: Mapped[int] = mapped_column(ForeignKey("topic.id", ondelete="CASCADE"))
    thread_id: Mapped[int] = mapped_column(ForeignKey("thread.id", ondelete="CASCADE"))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("post.id", ondelete="SET NULL"))
    member_id: Mapped[int | None] = mapped_column(ForeignKey("member.id", ondelete="SET NULL"))
    organization_id: Mapped[int | None] = mapped_column(
        ForeignKey("organization.id", ondelete="SET NULL")
    )
    raw_message_id: Mapped[int | None] = mapped_column(
        ForeignKey("raw_message.id", ondelete="SET NULL")
    )
    message_id: Mapped[str] = mapped_column(String(998), index=True)
    subject: Mapped[str] = mapped_column(String(998))
    full_text: Mapped[str] = mapped_column(Text)
    new_text: Mapped[str] = mapped_column(Text)
    quoted_text: Mapped[str] = mapped_column(Text, default="")
    signature: Mapped[str] = mapped_column(Text, default="")
    html: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[timestamp]

    thread: Mapped[Thread] = relationship(back_populates="posts")
    member: Mapped[Member | None] = relationship()
    organization: Mapped[Organization | None] = relationship()
    raw_message: Mapped[RawMessage | None] = relationship()
    attachments: Mapped[list[Attachment]] = relationship(
        back_populates="post", order_by="Attachment.id"
    )

    @property
    def author_name(self) -> str:
        return self.member.display_name if self.member else "borttagen medlem"


class Blob(Base):
    """Attachment content, stored once per SHA-256 however many posts carry it."""

    __tablename__ = "blob"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    size: Mapped[int]
    data: Mapped[bytes] = mapped_column(LargeBinary)


class Attachment(Base):
    __tablename__ = "attachment"

    id: Mapped[intpk]
    post_id: Mapped[int] = mapped_column(ForeignKey("post.id", ondelete="CASCADE"), index=True)
    blob_sha256: Mapped[str] = mapped_column(ForeignKey("blob.sha256"))
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(255))
    size: Mapped[int]
    download_count: Mapped[int] = mapped_column(default=0)

    post: Mapped[Post] = relationship(back_populates="attachments")
