"""Telling topic owners that a post is held, with addresses that release or refuse it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailgate import addresses
from mailgate.addresses import Kind
from mailgate.config import GatewayConfig
from mailgate.notices import compose, enqueue_notice
from mailgate.parse import parse
from models import HeldPost, RawMessage, Topic, TopicOwner
from models.tokens import read_signed_value, sign_value

_PURPOSE = "held"
RELEASE, REFUSE = "release", "refuse"

_OWNER_NOTICE = """\
Ett inlägg till {topic} väntar på beslut / A post to {topic} is held.

Från / From: {sender}
Ämne / Subject: {subject}
Skäl / Reason: {reason}

{excerpt}

Publicera / Release:  skriv till / write to  {release}
Avvisa / Refuse:      skriv till / write to  {refuse}
(Det räcker med ett tomt brev / An empty mail is enough.)

Inlägget tas bort efter 14 dagar om ingen beslutar.
Unless someone decides, the post expires after 14 days.
"""


def action_address(config: GatewayConfig, topic: str, action: str, held_id: int) -> str:
    """`t-owner+TOKEN@D`: replying to it releases or refuses held post `held_id`."""
    token = sign_value(config.secret, _PURPOSE, f"{action}:{held_id}")
    return addresses.make(Kind.OWNER, topic, config.list_domain, token)


def read_action(config: GatewayConfig, token: str) -> tuple[str, int] | None:
    value = read_signed_value(config.secret, _PURPOSE, token)
    if value is None:
        return None
    action, _, held_id = value.partition(":")
    if action not in {RELEASE, REFUSE} or not held_id.isdigit():
        return None
    return action, int(held_id)


def held_subject(session: Session, held: HeldPost, config: GatewayConfig) -> tuple[str, str]:
    raw = session.get(RawMessage, held.raw_message_id)
    if raw is None:
        return "(borttaget)", ""
    parsed = parse(raw.data, max_attachment_bytes=config.max_attachment_bytes)
    return parsed.subject or "(inget ämne)", parsed.text


def notify_owners(
    session: Session, held: HeldPost, topic: Topic, config: GatewayConfig, now: datetime
) -> int:
    """One notice to each owner of the topic, with the two reply addresses; returns how many."""
    subject, text = held_subject(session, held, config)
    excerpt = "\n".join(f"> {line}" for line in text.strip().splitlines()[:15])
    body = _OWNER_NOTICE.format(
        topic=topic.name,
        sender=held.sender or "okänd",
        subject=subject,
        reason=held.reason,
        excerpt=excerpt,
        release=action_address(config, topic.slug, RELEASE, held.id),
        refuse=action_address(config, topic.slug, REFUSE, held.id),
    )
    # One notice per held post, however many arrive from the same sender today.
    return tell_owners(
        session,
        topic,
        config,
        subject=f"[{topic.slug}] Väntar på beslut: {subject}",
        body=body,
        kind=f"held {held.id}",
        now=now,
    )


def tell_owners(
    session: Session,
    topic: Topic,
    config: GatewayConfig,
    *,
    subject: str,
    body: str,
    kind: str,
    now: datetime,
) -> int:
    """The same notice from the topic's owner address to each of its owners; returns how many."""
    owners = session.scalars(select(TopicOwner.email).where(TopicOwner.topic_id == topic.id)).all()
    for owner in owners:
        message = compose(
            to=owner,
            from_name=f"{topic.name} (moderering)",
            from_address=addresses.make(Kind.OWNER, topic.slug, config.list_domain),
            subject=subject,
            body=body,
            list_domain=config.list_domain,
            now=now,
        )
        enqueue_notice(session, to=owner, kind=kind, message=message, now=now)
    return len(owners)
