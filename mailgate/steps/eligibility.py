"""Eligibility: public-sector senders only; unknown colleagues confirm their first post."""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

from sqlalchemy import bindparam, func, select

from mailgate import replies
from mailgate.context import MailContext
from mailgate.verdict import Hold, Reject, Verdict
from models import Member, Organization, OrgDomain
from models.registry import candidate_domains


class Registered(NamedTuple):
    """The sender's organisation in the registry, and the member they are, if they are one."""

    organization_id: int
    organization_name: str
    member_id: int | None
    confirmed_at: datetime | None


# One query answers both questions: the organisation owning the longest registry domain the
# sender's domain ends with, and the sender's member row, if any.
_REGISTERED = (
    select(Organization.id, Organization.name, Member.id, Member.confirmed_at)
    .join(OrgDomain, OrgDomain.organization_id == Organization.id)
    .outerjoin(Member, Member.email == bindparam("email"))
    .where(OrgDomain.domain.in_(bindparam("domains", expanding=True)))
    .order_by(func.length(OrgDomain.domain).desc())
    .limit(1)
)


def registered(ctx: MailContext, address: str) -> Registered | None:
    """None when the address's domain is not in the public-sector registry."""
    domain = address.rpartition("@")[2].lower().rstrip(".")
    row = (
        ctx.connection()
        .execute(_REGISTERED, {"email": address.lower(), "domains": candidate_domains(domain)})
        .first()
    )
    return None if row is None else Registered(*row)


def check_registry(ctx: MailContext) -> Verdict | Registered:
    """The From address must belong to an organisation in the public-sector registry."""
    address = ctx.parsed.from_address
    if not address:
        ctx.note("eligibility", "no From address")
        return Reject(replies.NO_FROM, "no From address")
    domain = address.rpartition("@")[2]
    if any(domain.startswith(prefix) for prefix in ctx.config.non_staff_prefixes):
        ctx.note("eligibility", f"{domain} is a pupils' or students' domain")
        return Reject(replies.NOT_PUBLIC_SECTOR, "not staff")
    sender = registered(ctx, address)
    if sender is None:
        ctx.note("eligibility", f"{domain} is not in the public-sector registry")
        return Reject(replies.NOT_PUBLIC_SECTOR, f"{domain} not in registry")
    ctx.organization_id, ctx.member_id = sender.organization_id, sender.member_id
    return sender


def check_eligibility(ctx: MailContext) -> Verdict | None:
    """A confirmed member posts; a colleague in the registry not yet known is held to confirm."""
    sender = check_registry(ctx)
    if not isinstance(sender, Registered):
        return sender
    if sender.member_id is None or sender.confirmed_at is None:
        ctx.note("eligibility", f"unknown colleague at {sender.organization_name}: held to confirm")
        return Hold("first post: awaiting the sender's confirmation", ask_sender=True)
    ctx.note("eligibility", f"member #{sender.member_id} of {sender.organization_name}")
    return None
