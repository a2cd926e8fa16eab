"""Attach a post to its thread: reply key, references, Outlook's conversation, subject."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailgate.parse import ParsedMessage
from mailgate.subjects import outlook_conversation_id, thread_key
from models import Post, Thread
from models.tokens import read_reply_key

SUBJECT_WINDOW = timedelta(days=30)
_REPLY_PREFIX = re.compile(
    r"^\s*(\[[^\]]*\]\s*)*(sv|re|vb|aw|fwd?|wg|antw|vs)(\[\d+\])?\s*:", re.IGNORECASE
)


def find_parent(
    session: Session,
    *,
    topic_id: int,
    topic_slug: str,
    parsed: ParsedMessage,
    reply_key: str,
    secret: bytes,
    now: datetime,
) -> tuple[Thread | None, Post | None, str]:
    """The thread (and post) this mail answers, and how it was found; (None, None, …) = new."""
    if reply_key:
        post_id = read_reply_key(secret, reply_key)
        post = session.get(Post, post_id) if post_id is not None else None
        if post is not None and post.topic_id == topic_id:
            return post.thread, post, "reply key"
    referenced = list(parsed.in_reply_to) + list(reversed(parsed.references))
    if referenced:
        found = session.scalars(
            select(Post).where(Post.topic_id == topic_id, Post.message_id.in_(referenced))
        ).all()
        by_id = {p.message_id: p for p in found}
        for message_id in referenced:
            if message_id in by_id:
                return by_id[message_id].thread, by_id[message_id], "references"
    conversation = outlook_conversation_id(parsed.header("Thread-Index"))
    if conversation:
        thread = session.scalar(
            select(Thread)
            .where(Thread.topic_id == topic_id, Thread.conversation_id == conversation)
            .order_by(Thread.last_post_at.desc())
            .limit(1)
        )
        if thread is not None:
            return thread, None, "Outlook conversation"
    # Only a subject that says it is a reply ("SV: …") may join an existing thread by name.
    if _REPLY_PREFIX.match(parsed.subject):
        key = thread_key(parsed.subject, topic_slug)
        thread = session.scalar(
            select(Thread)
            .where(
                Thread.topic_id == topic_id,
                Thread.subject_key == key,
                Thread.last_post_at >= now - SUBJECT_WINDOW,
            )
            .order_by(Thread.last_post_at.desc())
            .limit(1)
        )
        if thread is not None:
            return thread, None, "subject"
    return None, None, "new thread"
