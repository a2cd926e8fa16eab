"""Sender authentication: the From domain must be proven (DKIM aligned, or trusted DMARC)."""

from __future__ import annotations

from mailgate import replies
from mailgate.authenticate import AuthResult, authenticate
from mailgate.config import GatewayConfig
from mailgate.context import MailContext
from mailgate.parse import ParsedMessage
from mailgate.verdict import Reject, Verdict
from models.registry import domain_of


def prove_sender(config: GatewayConfig, data: bytes, parsed: ParsedMessage) -> AuthResult:
    """Whether the From domain of this mail is proven; DNS is asked, the database is not."""
    if config.dns_txt is None:
        return AuthResult(False, True, "no DNS resolver configured")
    from_address = parsed.from_address
    return authenticate(
        data,
        domain_of(from_address) if from_address else None,
        dns_txt=config.dns_txt,
        trusted_authserv_ids=config.trusted_authserv_ids,
        own_authserv_id=config.authserv_id,
    )


def authenticate_sender(ctx: MailContext) -> Verdict | None:
    if ctx.config.sender_auth == "none":
        ctx.note("authenticate", "skipped: sender_auth = none trusts the From header")
        return None
    if not ctx.parsed.from_address:
        ctx.note("authenticate", "no From address")
        return Reject(replies.NO_FROM, "no From address")
    result = ctx.proof or prove_sender(ctx.config, ctx.inbound.data, ctx.parsed)
    ctx.note("authenticate", result.reason)
    if result.passed:
        return None
    if result.temporary:
        reply = replies.TRY_LATER if ctx.config.dns_txt is None else replies.DNS_TRY_LATER
        return Reject(reply, result.reason)
    return Reject(replies.NOT_AUTHENTICATED, result.reason)
