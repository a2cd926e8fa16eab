"""Held posts: one queue with reasons, decided by topic owners (by mail) or from the shell."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailgate import addresses
from mailgate.addresses import Kind
from mailgate.config import GatewayConfig
from mailgate.held_notice import RELEASE, held_subject, read_action, tell_owners
from mailgate.notices import compose, enqueue_notice
from mailgate.parse import parse
from mailgate.publish import publish_held
from mailgate.verdict import Accept, Hold
from models import HeldPost, HeldStatus, RawMessage, Topic, TopicOwner

HELD_LIFETIME = timedelta(days=14)

_REFUSED = """\
Hej!

Ditt inlägg "{subject}" till {topic} publicerades inte.
Skäl: {reason}

Frågor? Skriv till {owner}.

---
Your post "{subject}" to {topic} was not published. Reason: {reason}
Questions? Write to {owner}.
"""
_EXPIRED = """\
Inlägget "{subject}" från {sender} till {topic} väntade i 14 dagar utan beslut och har
tagits bort ur kön. / The held post "{subject}" from {sender} expired after 14 days.
"""


class HeldError(ValueError):
    """The held post cannot be decided on: unknown, or decided already."""


@dataclass(frozen=True)
class HeldLine:
    id: int
    topic: str
    sender: str
    subject: str
    reason: str
    held_at: datetime


def list_held(session: Session, topic_slug: str | None = None) -> list[HeldLine]:
    query = (
        select(HeldPost, Topic.slug)
        .join(Topic, Topic.id == HeldPost.topic_id)
        .where(HeldPost.status == HeldStatus.HELD)
        .order_by(HeldPost.created_at, HeldPost.id)
    )
    if topic_slug:
        query = query.where(Topic.slug == topic_slug)
    lines = []
    for held, slug in session.execute(query).all():
        raw = session.get(RawMessage, held.raw_message_id)
        subject = parse(raw.data).subject if raw is not None else ""
        lines.append(
            HeldLine(held.id, slug, held.sender or "", subject, held.reason, held.created_at)
        )
    return lines


def _waiting(session: Session, held_id: int) -> HeldPost:
    held = session.get(HeldPost, held_id)
    if held is None:
        raise HeldError(f"no held post #{held_id}")
    if held.status is not HeldStatus.HELD:
        raise HeldError(f"held post #{held_id} was {held.status.value} already")
    return held


def release(session: Session, held_id: int, config: GatewayConfig, now: datetime) -> str:
    """Publish the held post exactly as if it had been accepted on arrival."""
    held = _waiting(session, held_id)
    verdict = publish_held(session, held.raw_message_id, config)
    held.status = HeldStatus.RELEASED
    held.decided_at = now
    if isinstance(verdict, Accept | Hold):
        return f"held post #{held_id} released: {verdict.detail}"
    return f"held post #{held_id} released, but not published: {verdict.detail}"


def refuse(
    session: Session, held_id: int, reason: str, config: GatewayConfig, now: datetime
) -> str:
    """Refuse the held post and tell its sender why, once."""
    held = _waiting(session, held_id)
    held.status = HeldStatus.REFUSED
    held.decided_at = now
    topic = session.get(Topic, held.topic_id)
    assert topic is not None
    subject, _ = held_subject(session, held, config)
    if held.sender:
        message = compose(
            to=held.sender,
            from_name=topic.name,
            from_address=addresses.make(Kind.OWNER, topic.slug, config.list_domain),
            subject=f"Ditt inlägg publicerades inte / Your post was not published: {subject}",
            body=_REFUSED.format(
                subject=subject,
                topic=topic.name,
                reason=reason or "ämnets ägare bedömde att det inte hör hemma här",
                owner=addresses.make(Kind.OWNER, topic.slug, config.list_domain),
            ),
            list_domain=config.list_domain,
            now=now,
        )
        enqueue_notice(session, to=held.sender, kind=f"refused {held.id}", message=message, now=now)
    return f"held post #{held_id} refused"


def act_by_mail(
    session: Session, token: str, sender: str, config: GatewayConfig, now: datetime
) -> str:
    """An owner's reply to a held-post notice; only the topic's owners may decide."""
    action = read_action(config, token)
    if action is None:
        return "owner reply with an unknown token: ignored"
    verb, held_id = action
    held = session.get(HeldPost, held_id)
    if held is None:
        return f"owner reply about unknown held post #{held_id}: ignored"
    is_owner = session.scalar(
        select(TopicOwner.email).where(
            TopicOwner.topic_id == held.topic_id, TopicOwner.email == sender.lower()
        )
    )
    if is_owner is None:
        return f"{verb} of held post #{held_id} by someone who is not an owner: ignored"
    try:
        if verb == RELEASE:
            return release(session, held_id, config, now)
        return refuse(session, held_id, "", config, now)
    except HeldError as exc:
        return str(exc)


def expire_held(session: Session, config: GatewayConfig, now: datetime) -> int:
    """Held posts older than 14 days leave the queue; their topic's owners are told."""
    old = session.scalars(
        select(HeldPost).where(
            HeldPost.status == HeldStatus.HELD, HeldPost.created_at < now - HELD_LIFETIME
        )
    ).all()
    for held in old:
        held.status = HeldStatus.EXPIRED
        held.decided_at = now
        topic = session.get(Topic, held.topic_id)
        assert topic is not None
        subject, _ = held_subject(session, held, config)
        tell_owners(
            session,
            topic,
            config,
            subject=f"[{topic.slug}] Borttaget ur kön: {subject}",
            body=_EXPIRED.format(subject=subject, sender=held.sender or "okänd", topic=topic.name),
            kind=f"expired {held.id}",
            now=now,
        )
    return len(old)
