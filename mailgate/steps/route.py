"""Routing: which topic, and which thread in it."""

from __future__ import annotations

from sqlalchemy import select

from mailgate import replies
from mailgate.context import MailContext
from mailgate.threader import find_parent
from mailgate.verdict import Reject, Verdict
from models import Topic


def find_topic(ctx: MailContext) -> Verdict | None:
    ctx.topic = ctx.session.scalar(select(Topic).where(Topic.slug == ctx.recipient.topic))
    if ctx.topic is None:  # removed between RCPT and DATA
        ctx.note("route", f"no topic {ctx.recipient.topic}")
        return Reject(replies.UNKNOWN_RECIPIENT, "unknown topic")
    return None


def route(ctx: MailContext) -> Verdict | None:
    assert ctx.topic is not None
    ctx.thread, ctx.parent, how = find_parent(
        ctx.session,
        topic_id=ctx.topic.id,
        topic_slug=ctx.topic.slug,
        parsed=ctx.parsed,
        reply_key=ctx.recipient.extension,
        secret=ctx.config.secret,
        now=ctx.config.clock(),
    )
    ctx.note("route", f"thread #{ctx.thread.id} by {how}" if ctx.thread else how)
    return None
