"""Mail to t-owner@D: kept for the owners, and passed on to each of them."""

from __future__ import annotations

from sqlalchemy import select

from mailgate import addresses
from mailgate.addresses import Kind
from mailgate.context import MailContext
from mailgate.held import act_by_mail
from mailgate.notices import compose, enqueue_notice
from mailgate.verdict import Accept, Hold, Verdict
from models import TopicOwner

_FORWARD = """\
{sender} skrev till ägarna av {topic} / wrote to the owners of {topic}:

Ämne / Subject: {subject}

{text}
"""
_TEXT_LIMIT = 20_000


def hold_for_owners(ctx: MailContext) -> Verdict | None:
    assert ctx.topic is not None
    if ctx.recipient.extension:
        # A reply to a held-post notice: the owner releases or refuses it.
        done = act_by_mail(
            ctx.session,
            ctx.recipient.extension,
            ctx.parsed.from_address or "",
            ctx.config,
            ctx.config.clock(),
        )
        ctx.note("owner", done)
        return Accept(done)
    owners = ctx.session.scalars(
        select(TopicOwner.email).where(TopicOwner.topic_id == ctx.topic.id)
    ).all()
    now = ctx.config.clock()
    sender = ctx.parsed.from_address or ctx.inbound.mail_from or "okänd avsändare"
    for owner in owners:
        message = compose(
            to=owner,
            from_name=f"{ctx.topic.name} (till ägarna)",
            from_address=addresses.make(Kind.OWNER, ctx.topic.slug, ctx.config.list_domain),
            subject=f"[{ctx.topic.slug}] {ctx.parsed.subject or '(inget ämne)'}",
            body=_FORWARD.format(
                sender=f"{ctx.parsed.from_name} <{sender}>".strip(),
                topic=ctx.topic.name,
                subject=ctx.parsed.subject,
                text=ctx.parsed.text[:_TEXT_LIMIT],
            ),
            list_domain=ctx.config.list_domain,
            now=now,
            reply_to=ctx.parsed.from_address,
        )
        enqueue_notice(ctx.session, to=owner, kind="owner", message=message, now=now, limit=False)
    ctx.note("owner", f"passed on to {len(owners)} owner(s)")
    return Hold("for the owners")
