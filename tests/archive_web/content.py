"""Forum content for archive tests, made with the models directly."""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.orm import Session

from models import Attachment, Blob, Member, Post, Thread, Topic
from models.registry import organization_for
from tests.mailgate.outbound.builders import new_thread

_message_numbers = itertools.count(1)


def topic(session: Session, slug: str, name: str, description: str = "") -> Topic:
    row = Topic(slug=slug, name=name, description=description)
    session.add(row)
    session.flush()
    return row


def member(session: Session, email: str, name: str | None, at: datetime) -> Member:
    org = organization_for(session, email)
    row = Member(
        email=email,
        name=name,
        organization_id=org.id if org else None,
        created_at=at,
        confirmed_at=at,
    )
    session.add(row)
    session.flush()
    return row


def thread(
    session: Session, where: Topic, subject: str, at: datetime, tags: Sequence[str] = ()
) -> Thread:
    return new_thread(session, where, subject, at, tags=tags)


def post(
    session: Session,
    into: Thread,
    author: Member | None,
    at: datetime,
    new_text: str,
    *,
    quoted_text: str = "",
    signature: str = "",
    message_id: str | None = None,
    attachments: Sequence[tuple[str, str, bytes]] = (),
) -> Post:
    """A post in `into`, keeping the thread's count and last activity as the gateway does."""
    full = "\n\n".join(part for part in (new_text, signature, quoted_text) if part)
    row = Post(
        topic_id=into.topic_id,
        thread_id=into.id,
        member_id=author.id if author else None,
        organization_id=author.organization_id if author else None,
        message_id=message_id or f"post-{next(_message_numbers)}@test.invalid",
        subject=into.subject,
        full_text=full,
        new_text=new_text,
        quoted_text=quoted_text,
        signature=signature,
        created_at=at,
    )
    session.add(row)
    session.flush()
    into.post_count += 1
    into.last_post_at = max(into.last_post_at, at)
    for filename, content_type, data in attachments:
        digest = hashlib.sha256(data).hexdigest()
        if session.get(Blob, digest) is None:
            session.add(Blob(sha256=digest, size=len(data), data=data))
            session.flush()  # no relationship tells the unit of work to insert the blob first
        session.add(
            Attachment(
                post_id=row.id,
                blob_sha256=digest,
                filename=filename,
                content_type=content_type,
                size=len(data),
            )
        )
    session.flush()
    return row
