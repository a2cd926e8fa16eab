"""What an administrator does from the shell: topics, members and organisations."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mailgate.addresses import RESERVED_SUFFIXES
from models import (
    MailEvent,
    Member,
    Mode,
    Organization,
    OrgDomain,
    Post,
    Subscription,
    Topic,
    TopicOwner,
)
from models.registry import RegistryRow, add_domain, domain_of, organization_for

_SLUG = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$")
# Paths of the web archive that a topic's /<slug>/ would hide.
RESERVED_SLUGS = frozenset(
    {"m", "u", "confirm", "tags", "orgs", "search", "attachments", "static", "tillganglighet"}
    | {"healthz", "metrics"}
)
_EMAIL = re.compile(r"^[^@\s<>\"]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}$")


class AdminError(ValueError):
    """A mistake in what the administrator asked for; the message says what to do."""


@dataclass(frozen=True)
class TopicLine:
    slug: str
    name: str
    members: int
    posts: int


@dataclass(frozen=True)
class MemberLine:
    email: str
    name: str
    organization: str
    topics: str


def add_topic(
    session: Session,
    slug: str,
    name: str,
    description: str,
    now: datetime,
    owners: tuple[str, ...] = (),
) -> Topic:
    if not _SLUG.match(slug):
        raise AdminError(f"topic slug {slug!r}: use a-z, 0-9 and '-', like 'maltider'")
    if slug.endswith(RESERVED_SUFFIXES):
        raise AdminError(f"topic slug {slug!r}: may not end with {', '.join(RESERVED_SUFFIXES)}")
    if slug in RESERVED_SLUGS:
        raise AdminError(f"topic slug {slug!r} is taken by the web archive; choose another")
    if not name.strip():
        raise AdminError("topic name: must not be empty")
    if session.scalar(select(Topic.id).where(Topic.slug == slug)) is not None:
        raise AdminError(f"topic {slug!r} exists already")
    for owner in owners:
        if not _EMAIL.match(owner.strip()):
            raise AdminError(f"--owner {owner!r} is not an email address")
    topic = Topic(slug=slug, name=name.strip(), description=description.strip(), created_at=now)
    session.add(topic)
    session.flush()
    for owner in dict.fromkeys(o.strip().lower() for o in owners):
        session.add(TopicOwner(topic_id=topic.id, email=owner))
    session.flush()
    return topic


def find_topic(session: Session, slug: str) -> Topic:
    topic = session.scalar(select(Topic).where(Topic.slug == slug))
    if topic is None:
        raise AdminError(f"no topic {slug!r}; 'delapost topic list' shows them")
    return topic


def list_topics(session: Session) -> list[TopicLine]:
    members = (
        select(func.count(Subscription.id))
        .where(Subscription.topic_id == Topic.id, Subscription.ended_at.is_(None))
        .scalar_subquery()
    )
    posts = select(func.count(Post.id)).where(Post.topic_id == Topic.id).scalar_subquery()
    rows = session.execute(select(Topic.slug, Topic.name, members, posts).order_by(Topic.slug))
    return [TopicLine(*row) for row in rows]


def add_member(
    session: Session,
    email: str,
    name: str,
    now: datetime,
    *,
    topic_slug: str | None = None,
    mode: Mode | None = None,
    non_staff_prefixes: tuple[str, ...] = (),
) -> Member:
    """Add (or update) a confirmed member; an administrator vouches for the address.

    Adding a member whose delivery was turned off after bounces turns it on again.
    """
    email = email.strip().lower()
    if not _EMAIL.match(email):
        raise AdminError(f"{email!r} is not an email address")
    domain = domain_of(email)
    if any(domain.startswith(prefix) for prefix in non_staff_prefixes):
        raise AdminError(f"{domain} is a pupils' or students' domain, not staff")
    org = organization_for(session, email)
    if org is None:
        raise AdminError(
            f"{domain_of(email)} is not in the public-sector registry; "
            "add it with 'delapost org add' first"
        )
    topic = find_topic(session, topic_slug) if topic_slug else None
    member = session.scalar(select(Member).where(Member.email == email))
    if member is None:
        member = Member(email=email, created_at=now)
        session.add(member)
    member.name = name.strip() or member.name
    member.organization_id = org.id
    member.confirmed_at = member.confirmed_at or now
    member.delivery_disabled_at = None
    member.bounce_score = 0.0
    session.flush()
    if topic is not None:
        sub = session.scalar(
            select(Subscription).where(
                Subscription.member_id == member.id, Subscription.topic_id == topic.id
            )
        )
        if sub is None:
            sub = Subscription(member_id=member.id, topic_id=topic.id, mode=Mode.WEEKLY)
            sub.created_at = now
            session.add(sub)
        sub.mode = mode or (sub.mode if sub.ended_at is None else topic.default_mode)
        sub.ended_at = None
        session.flush()
    return member


def list_members(session: Session, topic_slug: str | None = None) -> list[MemberLine]:
    query = select(Member).where(Member.email.is_not(None)).order_by(Member.email)
    if topic_slug:
        topic = find_topic(session, topic_slug)
        query = query.join(Subscription, Subscription.member_id == Member.id).where(
            Subscription.topic_id == topic.id, Subscription.ended_at.is_(None)
        )
    lines = []
    for member in session.scalars(query):
        subs = session.execute(
            select(Topic.slug, Subscription.mode)
            .join(Subscription, Subscription.topic_id == Topic.id)
            .where(Subscription.member_id == member.id, Subscription.ended_at.is_(None))
            .order_by(Topic.slug)
        )
        lines.append(
            MemberLine(
                email=member.email or "",
                name=member.name or "",
                organization=member.organization.name if member.organization else "",
                topics=", ".join(f"{slug} ({mode.value})" for slug, mode in subs),
            )
        )
    return lines


def add_org_domain(session: Session, domain: str, name: str, kind: str) -> OrgDomain:
    domain = domain.strip().lower().rstrip(".")
    if "." not in domain or "@" in domain or " " in domain:
        raise AdminError(f"{domain!r} is not a domain name")
    if not name.strip():
        raise AdminError("organisation name: must not be empty")
    return add_domain(session, RegistryRow(domain, name.strip(), kind.strip() or "annan", "", ""))


def list_orgs(session: Session) -> list[tuple[str, str, str]]:
    rows = session.execute(
        select(OrgDomain.domain, Organization.name, Organization.kind)
        .join(Organization, Organization.id == OrgDomain.organization_id)
        .order_by(Organization.name, OrgDomain.domain)
    )
    return [(domain, name, kind) for domain, name, kind in rows]


def remove_org_domain(session: Session, domain: str) -> None:
    row = session.get(OrgDomain, domain.strip().lower())
    if row is None:
        raise AdminError(f"{domain!r} is not in the registry")
    session.delete(row)


def mail_trail(session: Session, message_id: str) -> list[tuple[datetime, str, str, str]]:
    """Every decision recorded about one incoming mail, oldest first."""
    rows = session.execute(
        select(MailEvent.at, MailEvent.step, MailEvent.verdict, MailEvent.detail)
        .where(MailEvent.message_id == message_id)
        .order_by(MailEvent.at, MailEvent.id)
    )
    return [(at, step, verdict, detail) for at, step, verdict, detail in rows]
