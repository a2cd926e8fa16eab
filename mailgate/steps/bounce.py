"""Mail to t-bounces+VERP@D: a report on a member's copy, handed to mailgate.bounces."""

from __future__ import annotations

from mailgate import bounces
from mailgate.context import MailContext
from mailgate.verdict import Drop, Verdict


def record_bounce(ctx: MailContext) -> Verdict | None:
    """Scored against the member (and probed, paused) there; never answered, never posted."""
    outcome = bounces.record_bounce(
        ctx.session,
        topic_slug=ctx.recipient.topic,
        extension=ctx.recipient.extension,
        message=ctx.inbound.data,
        now=ctx.config.clock(),
        list_domain=ctx.config.list_domain,
        secret=ctx.config.secret,
    )
    ctx.note("bounce", outcome.detail)
    return Drop(f"{outcome.disposition} bounce")
