"""Confirming by mail: a reply to a confirmation request proves the mailbox, as the button does."""

from __future__ import annotations

from mailgate.confirm import apply_confirmation_token
from mailgate.context import MailContext
from mailgate.publish import publisher
from mailgate.verdict import Accept, Verdict


def confirm_by_reply(ctx: MailContext) -> Verdict | None:
    done = apply_confirmation_token(
        ctx.session, ctx.recipient.extension, publisher(ctx.config), ctx.config.clock()
    )
    ctx.note("confirm", done)
    return Accept(done)
