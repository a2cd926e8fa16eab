"""Asking someone to prove their mailbox: a one-time token, answered by reply or by button."""

from __future__ import annotations

from datetime import timedelta

from mailgate import addresses
from mailgate.addresses import Kind
from mailgate.context import MailContext
from mailgate.notices import already_sent_today, compose, enqueue_notice
from models import Confirmation, ConfirmationKind
from models.tokens import new_token, token_hash

CONFIRMATION_LIFETIME = timedelta(days=7)


def ask_to_confirm(
    ctx: MailContext,
    *,
    kind: ConfirmationKind,
    address: str,
    subject: str,
    body: str,
    held_post_id: int | None = None,
) -> bool:
    """Queue one request to `address`; False when one went there less than a day ago.

    `body` may use {url}, the confirmation page, and {topic}, the topic's name.
    """
    assert ctx.topic is not None
    now = ctx.config.clock()
    notice_kind = "confirm" if kind is ConfirmationKind.POST else f"confirm-{kind.value}"
    if already_sent_today(ctx.session, address, notice_kind, now):
        return False
    token = new_token()
    ctx.session.add(
        Confirmation(
            token_hash=token_hash(token),
            kind=kind,
            email=address,
            name=ctx.parsed.from_name,
            topic_id=ctx.topic.id,
            held_post_id=held_post_id,
            created_at=now,
            expires_at=now + CONFIRMATION_LIFETIME,
        )
    )
    domain = ctx.config.list_domain
    message = compose(
        to=address,
        from_name=ctx.topic.name,
        from_address=addresses.make(Kind.REQUEST, ctx.topic.slug, domain),
        subject=subject,
        body=body.format(
            topic=ctx.topic.name, url=f"{ctx.config.base_url.rstrip('/')}/confirm/{token}"
        ),
        list_domain=domain,
        now=now,
        reply_to=addresses.make(Kind.CONFIRM, ctx.topic.slug, domain, token),
    )
    enqueue_notice(ctx.session, to=address, kind=notice_kind, message=message, now=now, limit=False)
    return True
