"""Eligibility: public-sector senders only; unknown colleagues confirm their first post."""

from __future__ import annotations

from sqlalchemy import select

from mailgate import replies
from mailgate.context import MailContext
from mailgate.verdict import Hold, Reject, Verdict
from models import Member
from models.registry import organization_for


def find_member(ctx: MailContext, address: str) -> Member | None:
    return ctx.session.scalar(select(Member).where(Member.email == address.lower()))


def check_eligibility(ctx: MailContext) -> Verdict | None:
    address = ctx.parsed.from_address
    if not address:
        ctx.note("eligibility", "no From address")
        return Reject(replies.NOT_PUBLIC_SECTOR, "no From address")
    domain = address.rpartition("@")[2]
    if any(domain.startswith(prefix) for prefix in ctx.config.non_staff_prefixes):
        ctx.note("eligibility", f"{domain} is a pupils' or students' domain")
        return Reject(replies.NOT_PUBLIC_SECTOR, "not staff")
    ctx.organization = organization_for(ctx.session, address)
    if ctx.organization is None:
        ctx.note("eligibility", f"{domain} is not in the public-sector registry")
        return Reject(replies.NOT_PUBLIC_SECTOR, f"{domain} not in registry")
    ctx.member = find_member(ctx, address)
    if ctx.member is None or ctx.member.confirmed_at is None:
        ctx.note("eligibility", f"unknown colleague at {ctx.organization.name}: held to confirm")
        return Hold("first post: awaiting the sender's confirmation")
    ctx.note("eligibility", f"member #{ctx.member.id} of {ctx.organization.name}")
    return None
