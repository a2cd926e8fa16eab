"""Attach a post to its thread: reply key, references, Outlook's conversation, subject."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from sqlalchemy import Connection, bindparam, select

from mailgate.parse import ParsedMessage
from mailgate.subjects import outlook_conversation_id, thread_key
from models import Post, Thread
from models.tokens import read_reply_key

SUBJECT_WINDOW = timedelta(days=30)
_REPLY_PREFIX = re.compile(
    r"^\s*(\[[^\]]*\]\s*)*(sv|re|vb|aw|fwd?|wg|antw|vs)(\[\d+\])?\s*:", re.IGNORECASE
)


# Built once with bound parameters: each mail only runs them.
_KEYED_POST = select(Post.thread_id).where(
    Post.id == bindparam("post_id"), Post.topic_id == bindparam("topic_id")
)
_REFERENCED_POSTS = select(Post.message_id, Post.id, Post.thread_id).where(
    Post.topic_id == bindparam("topic_id"),
    Post.message_id.in_(bindparam("referenced", expanding=True)),
)
_CONVERSATION = (
    select(Thread.id)
    .where(
        Thread.topic_id == bindparam("topic_id"),
        Thread.conversation_id == bindparam("conversation"),
    )
    .order_by(Thread.last_post_at.desc())
    .limit(1)
)
_RECENT_SUBJECT = (
    select(Thread.id)
    .where(
        Thread.topic_id == bindparam("topic_id"),
        Thread.subject_key == bindparam("key"),
        Thread.last_post_at >= bindparam("since", type_=Thread.last_post_at.type),
    )
    .order_by(Thread.last_post_at.desc())
    .limit(1)
)


def find_parent(
    connection: Connection,
    *,
    topic_id: int,
    topic_slug: str,
    parsed: ParsedMessage,
    reply_key: str,
    secret: bytes,
    now: datetime,
) -> tuple[int | None, int | None, str]:
    """The thread (and post) ids this mail answers, and how they were found; None = new."""
    if reply_key:
        post_id = read_reply_key(secret, reply_key)
        if post_id is not None:
            thread_id = connection.scalar(_KEYED_POST, {"post_id": post_id, "topic_id": topic_id})
            if thread_id is not None:
                return thread_id, post_id, "reply key"
    referenced = list(parsed.in_reply_to) + list(reversed(parsed.references))
    if referenced:
        rows = connection.execute(
            _REFERENCED_POSTS, {"topic_id": topic_id, "referenced": referenced}
        ).all()
        by_id = {message_id: (thread_id, post_id) for message_id, post_id, thread_id in rows}
        for message_id in referenced:
            if message_id in by_id:
                thread_id, post_id = by_id[message_id]
                return thread_id, post_id, "references"
    conversation = outlook_conversation_id(parsed.header("Thread-Index"))
    if conversation:
        thread_id = connection.scalar(
            _CONVERSATION, {"topic_id": topic_id, "conversation": conversation}
        )
        if thread_id is not None:
            return thread_id, None, "Outlook conversation"
    # Only a subject that says it is a reply ("SV: …") may join an existing thread by name.
    if _REPLY_PREFIX.match(parsed.subject):
        key = thread_key(parsed.subject, topic_slug)
        thread_id = connection.scalar(
            _RECENT_SUBJECT, {"topic_id": topic_id, "key": key, "since": now - SUBJECT_WINDOW}
        )
        if thread_id is not None:
            return thread_id, None, "subject"
    return None, None, "new thread"
