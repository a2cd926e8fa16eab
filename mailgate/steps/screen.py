"""Screening: automatic mail is never posted and never answered."""

from __future__ import annotations

from mailgate import screen
from mailgate.context import MailContext
from mailgate.verdict import Drop, Hold, Verdict


def screen_automail(ctx: MailContext) -> Verdict | None:
    kind, reason = screen.classify(
        ctx.parsed, ctx.inbound.mail_from, list_domain=ctx.config.list_domain
    )
    if kind is screen.Automail.NONE:
        ctx.note("screen", "written by a person")
        return None
    ctx.note("screen", f"{kind.value}: {reason}")
    if kind is screen.Automail.LOOKS_AUTOMATIC:
        return Hold(f"looks like an auto-reply: {reason}")
    return Drop(f"{kind.value}: {reason}")


def drop_automail(ctx: MailContext) -> Verdict | None:
    """For command addresses: what even looks automatic is dropped, never acted on or answered."""
    verdict = screen_automail(ctx)
    return Drop(verdict.detail) if isinstance(verdict, Hold) else verdict
