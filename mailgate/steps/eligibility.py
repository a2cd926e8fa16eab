"""Eligibility: public-sector senders only; unknown colleagues confirm their first post."""

from __future__ import annotations

from sqlalchemy import func, select

from mailgate import replies
from mailgate.context import MailContext
from mailgate.verdict import Hold, Reject, Verdict
from models import Member, Organization, OrgDomain
from models.registry import candidate_domains


def organization_of(ctx: MailContext, domain: str) -> Organization | None:
    """The organisation owning the longest registry domain `domain` ends with, in one query."""
    return ctx.session.scalar(
        select(Organization)
        .join(OrgDomain, OrgDomain.organization_id == Organization.id)
        .where(OrgDomain.domain.in_(candidate_domains(domain.lower().rstrip("."))))
        .order_by(func.length(OrgDomain.domain).desc())
        .limit(1)
    )


def find_member(ctx: MailContext, address: str) -> Member | None:
    return ctx.session.scalar(select(Member).where(Member.email == address.lower()))


def check_registry(ctx: MailContext) -> Verdict | None:
    """The From address must belong to an organisation in the public-sector registry."""
    address = ctx.parsed.from_address
    if not address:
        ctx.note("eligibility", "no From address")
        return Reject(replies.NO_FROM, "no From address")
    domain = address.rpartition("@")[2]
    if any(domain.startswith(prefix) for prefix in ctx.config.non_staff_prefixes):
        ctx.note("eligibility", f"{domain} is a pupils' or students' domain")
        return Reject(replies.NOT_PUBLIC_SECTOR, "not staff")
    ctx.organization = organization_of(ctx, domain)
    if ctx.organization is None:
        ctx.note("eligibility", f"{domain} is not in the public-sector registry")
        return Reject(replies.NOT_PUBLIC_SECTOR, f"{domain} not in registry")
    ctx.member = find_member(ctx, address)
    return None


def check_eligibility(ctx: MailContext) -> Verdict | None:
    """A confirmed member posts; a colleague in the registry not yet known is held to confirm."""
    refused = check_registry(ctx)
    if refused is not None:
        return refused
    assert ctx.organization is not None
    if ctx.member is None or ctx.member.confirmed_at is None:
        ctx.note("eligibility", f"unknown colleague at {ctx.organization.name}: held to confirm")
        return Hold("first post: awaiting the sender's confirmation", ask_sender=True)
    ctx.note("eligibility", f"member #{ctx.member.id} of {ctx.organization.name}")
    return None
