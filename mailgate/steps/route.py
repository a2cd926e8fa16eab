"""Routing: which topic, and which thread in it."""

from __future__ import annotations

from sqlalchemy import bindparam, select

from mailgate import replies
from mailgate.context import MailContext
from mailgate.threader import find_parent
from mailgate.verdict import Reject, Verdict
from models import Topic

_TOPIC = select(Topic).where(Topic.slug == bindparam("slug"))


def find_topic(ctx: MailContext) -> Verdict | None:
    ctx.topic = ctx.session.scalar(_TOPIC, {"slug": ctx.recipient.topic})
    if ctx.topic is None:  # removed between RCPT and DATA
        ctx.note("route", f"no topic {ctx.recipient.topic}")
        return Reject(replies.UNKNOWN_RECIPIENT, "unknown topic")
    return None


def route(ctx: MailContext) -> Verdict | None:
    assert ctx.topic is not None
    ctx.thread_id, ctx.parent_id, how = find_parent(
        ctx.connection(),
        topic_id=ctx.topic.id,
        topic_slug=ctx.topic.slug,
        parsed=ctx.parsed,
        reply_key=ctx.recipient.extension,
        secret=ctx.config.secret,
        now=ctx.config.clock(),
    )
    ctx.note("route", f"thread #{ctx.thread_id} by {how}" if ctx.thread_id is not None else how)
    return None
