"""Topics, members, posts and outbox rows made straight with the models, for outbox tests."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailgate.outbound import ListContext
from models import (
    Attachment,
    Blob,
    Member,
    Mode,
    OrgDomain,
    Outbox,
    OutboxKind,
    Post,
    Subscription,
    Tag,
    Thread,
    Topic,
)

DOMAIN = "forum.example.se"
LC = ListContext(DOMAIN, "https://forum.example.se", b"a test secret, 32 bytes long...!")


@dataclass(frozen=True)
class Queued:
    """What a test made: the post's id and the outbox row id per recipient address."""

    post_id: int
    message_id: str
    rows: dict[str, int]


def add_topic(
    session: Session, now: datetime, slug: str = "kost", name: str = "Kost och måltider"
) -> Topic:
    topic = Topic(slug=slug, name=name, created_at=now)
    session.add(topic)
    session.flush()
    return topic


def add_member(
    session: Session, topic: Topic, email: str, name: str, now: datetime, mode: Mode = Mode.EACH
) -> Member:
    domain = session.get(OrgDomain, email.rpartition("@")[2])
    member = Member(
        email=email,
        name=name,
        organization_id=domain.organization_id if domain else None,
        created_at=now,
        confirmed_at=now,
    )
    session.add(member)
    session.flush()
    session.add(Subscription(member_id=member.id, topic_id=topic.id, mode=mode, created_at=now))
    session.flush()
    return member


def new_thread(
    session: Session,
    topic: Topic,
    subject: str,
    at: datetime,
    *,
    tags: Sequence[str] = (),
    post_count: int = 0,
) -> Thread:
    """A thread started at `at`, with these tags (each made when first used)."""
    thread = Thread(
        topic_id=topic.id,
        subject=subject,
        subject_key=subject.lower(),
        created_at=at,
        last_post_at=at,
        post_count=post_count,
    )
    for name in tags:
        thread.tags.append(session.scalar(select(Tag).where(Tag.name == name)) or Tag(name=name))
    session.add(thread)
    session.flush()
    return thread


def add_post(
    session: Session,
    topic: Topic,
    author: Member,
    now: datetime,
    *,
    text: str = "Hej alla,\n\nVem levererar laktosfri mjölk till förskolorna?\n",
    attachments: tuple[tuple[str, str, bytes], ...] = (),
) -> Post:
    subject = "Laktosfri mjölk i förskolan"
    thread = new_thread(session, topic, subject, now, post_count=1)
    post = Post(
        topic_id=topic.id,
        thread_id=thread.id,
        member_id=author.id,
        organization_id=author.organization_id,
        message_id=f"fraga-{thread.id}@molndal.se",
        subject=subject,
        full_text=text,
        new_text=text,
        created_at=now,
    )
    session.add(post)
    session.flush()
    for filename, content_type, data in attachments:
        sha = hashlib.sha256(data).hexdigest()
        if session.get(Blob, sha) is None:
            session.add(Blob(sha256=sha, size=len(data), data=data))
            session.flush()
        session.add(
            Attachment(
                post_id=post.id,
                blob_sha256=sha,
                filename=filename,
                content_type=content_type,
                size=len(data),
            )
        )
    session.flush()
    return post


def add_reply(session: Session, parent: Post, author: Member, now: datetime, text: str) -> Post:
    """A reply in the parent's thread, with a Message-ID from the author's own domain."""
    thread = parent.thread
    thread.post_count += 1
    thread.last_post_at = now
    assert author.email is not None
    post = Post(
        topic_id=parent.topic_id,
        thread_id=thread.id,
        parent_id=parent.id,
        member_id=author.id,
        organization_id=author.organization_id,
        message_id=f"svar-{thread.post_count}@{author.email.rpartition('@')[2]}",
        subject=thread.subject,
        full_text=text,
        new_text=text,
        created_at=now,
    )
    session.add(post)
    session.flush()
    session.refresh(thread)
    return post


def queue_copies(session: Session, post: Post, members: list[Member], now: datetime) -> Queued:
    rows = {}
    for member in members:
        row = Outbox(
            kind=OutboxKind.COPY,
            post_id=post.id,
            member_id=member.id,
            created_at=now,
            next_attempt_at=now,
        )
        session.add(row)
        session.flush()
        assert member.email is not None
        rows[member.email] = row.id
    return Queued(post.id, post.message_id, rows)


READERS = [
    ("Erik Nilsson", "erik.nilsson@goteborg.se"),
    ("Åsa Öberg", "asa.oberg@vaxjo.se"),
    ("Karin Lind", "karin.lind@skr.se"),
]


def forum_with_post(
    session: Session,
    now: datetime,
    *,
    readers: list[tuple[str, str]] = READERS,
    attachments: tuple[tuple[str, str, bytes], ...] = (),
) -> Queued:
    """Anna of Mölndal posts to `kost`; one queued copy for each reader in mode each."""
    topic = add_topic(session, now)
    anna = add_member(session, topic, "anna.andersson@molndal.se", "Anna Andersson", now)
    members = [add_member(session, topic, email, name, now) for name, email in readers]
    post = add_post(session, topic, anna, now, attachments=attachments)
    return queue_copies(session, post, members, now)
