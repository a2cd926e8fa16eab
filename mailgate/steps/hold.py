"""Holding: keep the mail, and ask the sender (or later an owner) to decide."""

from __future__ import annotations

from datetime import timedelta

from mailgate import addresses
from mailgate.addresses import Kind
from mailgate.context import MailContext
from mailgate.notices import compose, enqueue_notice
from mailgate.steps.store import store_raw
from mailgate.verdict import Hold, Verdict
from models import Confirmation, ConfirmationKind, HeldPost
from models.tokens import new_token, token_hash

CONFIRMATION_LIFETIME = timedelta(days=7)

_CONFIRM_BODY = """\
Hej!

Du skrev till forumet {topic} för första gången. Innan inlägget publiceras
vill vi veta att det verkligen var du. Svara på det här brevet (innehållet
spelar ingen roll), eller öppna länken och tryck på knappen:

  {url}

När du har bekräftat blir du medlem i {topic} och får en sammanfattning per
vecka. Länken gäller i 7 dagar. Var det inte du? Då kan du strunta i brevet.

---
Hello! You wrote to the forum {topic} for the first time. Reply to this mail,
or open the link above and press the button, to confirm that it was you and
publish your post. The link works for 7 days. If it was not you, ignore this.
"""


def hold_post(ctx: MailContext, reason: str) -> Verdict:
    """Store the raw mail as held; a first post also sends the sender one confirmation."""
    assert ctx.topic is not None
    raw = store_raw(ctx)
    held = HeldPost(
        topic_id=ctx.topic.id,
        raw_message_id=raw.id,
        sender=ctx.parsed.from_address,
        reason=reason,
        created_at=ctx.inbound.received_at,
    )
    ctx.session.add(held)
    ctx.session.flush()
    sender = ctx.parsed.from_address
    unconfirmed = ctx.member is None or ctx.member.confirmed_at is None
    if unconfirmed and sender and ctx.organization is not None:
        _ask_to_confirm(ctx, held, sender)
    ctx.note("hold", f"held post #{held.id}: {reason}")
    return Hold(reason)


def _ask_to_confirm(ctx: MailContext, held: HeldPost, sender: str) -> None:
    assert ctx.topic is not None
    now = ctx.config.clock()
    token = new_token()
    ctx.session.add(
        Confirmation(
            token_hash=token_hash(token),
            kind=ConfirmationKind.POST,
            email=sender,
            name=ctx.parsed.from_name,
            topic_id=ctx.topic.id,
            held_post_id=held.id,
            created_at=now,
            expires_at=now + CONFIRMATION_LIFETIME,
        )
    )
    domain = ctx.config.list_domain
    confirm_address = addresses.make(Kind.CONFIRM, ctx.topic.slug, domain, token)
    message = compose(
        to=sender,
        from_name=ctx.topic.name,
        from_address=addresses.make(Kind.REQUEST, ctx.topic.slug, domain),
        subject=f"Bekräfta ditt inlägg i {ctx.topic.name} / Confirm your post",
        body=_CONFIRM_BODY.format(
            topic=ctx.topic.name, url=f"{ctx.config.base_url.rstrip('/')}/confirm/{token}"
        ),
        list_domain=domain,
        now=now,
        reply_to=confirm_address,
    )
    if not enqueue_notice(ctx.session, to=sender, kind="confirm", message=message, now=now):
        ctx.note("hold", "confirmation already sent today; not sending another")
