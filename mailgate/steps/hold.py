"""Holding: keep the mail, and ask the sender (or later an owner) to decide."""

from __future__ import annotations

from sqlalchemy import select

from mailgate.addresses import Kind
from mailgate.context import MailContext
from mailgate.held_notice import notify_owners
from mailgate.steps.confirmation import ask_to_confirm
from mailgate.steps.store import store_raw
from mailgate.verdict import Hold, Verdict
from models import ConfirmationKind, HeldPost, HeldStatus, RawMessage

_CONFIRM_SUBJECT = "Bekräfta ditt inlägg i {topic} / Confirm your post"
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


def already_held(ctx: MailContext) -> int | None:
    """The held post this very mail (same Message-ID, same topic) already waits as, if any."""
    assert ctx.topic is not None
    return ctx.session.scalar(
        select(HeldPost.id)
        .join(RawMessage, RawMessage.id == HeldPost.raw_message_id)
        .where(
            HeldPost.topic_id == ctx.topic.id,
            HeldPost.status == HeldStatus.HELD,
            RawMessage.message_id == ctx.message_id,
        )
        .limit(1)
    )


def hold_post(ctx: MailContext, verdict: Hold) -> Verdict:
    """Store the raw mail as held; a first post also sends the sender one confirmation."""
    assert ctx.topic is not None
    existing = already_held(ctx)
    if existing is not None:
        # The sender's server retried after a lost 250: keep one copy and ask only once.
        ctx.note("hold", f"already held as #{existing}")
        return Hold(verdict.detail)
    held = HeldPost(
        topic_id=ctx.topic.id,
        raw_message_id=store_raw(ctx),
        sender=ctx.parsed.from_address,
        reason=verdict.detail,
        created_at=ctx.inbound.received_at,
    )
    ctx.session.add(held)
    ctx.session.flush()
    ctx.note("hold", f"held post #{held.id}: {verdict.detail}")
    if ctx.recipient.kind in {Kind.POST, Kind.REPLY}:
        told = notify_owners(ctx.session, held, ctx.topic, ctx.config, ctx.config.clock())
        ctx.note("hold", f"{told} owner(s) told")
    sender = ctx.parsed.from_address
    if verdict.ask_sender and sender:
        asked = ask_to_confirm(
            ctx,
            kind=ConfirmationKind.POST,
            address=sender,
            subject=_CONFIRM_SUBJECT.format(topic=ctx.topic.name),
            body=_CONFIRM_BODY,
            held_post_id=held.id,
        )
        # Confirming publishes every post held from this sender, so one request a day is enough.
        ctx.note("hold", "confirmation request queued" if asked else "asked less than a day ago")
    return Hold(verdict.detail)
