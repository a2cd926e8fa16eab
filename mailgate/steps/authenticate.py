"""Sender authentication: the From domain must be proven (DKIM aligned, or trusted DMARC)."""

from __future__ import annotations

import logging

from mailgate import replies
from mailgate.authenticate import authenticate
from mailgate.context import MailContext
from mailgate.verdict import Reject, Verdict
from models.registry import domain_of

log = logging.getLogger("delapost.pipeline")


def authenticate_sender(ctx: MailContext) -> Verdict | None:
    if ctx.config.sender_auth == "none":
        ctx.note("authenticate", "skipped: sender_auth = none trusts the From header")
        return None
    if ctx.config.dns_txt is None:
        # Refuse rather than accept unverified mail when no resolver is configured.
        ctx.note("authenticate", "no DNS resolver configured")
        return Reject(replies.TRY_LATER, "no DNS resolver configured")
    from_address = ctx.parsed.from_address
    result = authenticate(
        ctx.inbound.data,
        domain_of(from_address) if from_address else None,
        dns_txt=ctx.config.dns_txt,
        trusted_authserv_ids=ctx.config.trusted_authserv_ids,
        own_authserv_id=ctx.config.authserv_id,
    )
    ctx.note("authenticate", result.reason)
    if result.passed:
        return None
    if result.temporary:
        return Reject(replies.DNS_TRY_LATER, result.reason)
    return Reject(replies.NOT_AUTHENTICATED, result.reason)
