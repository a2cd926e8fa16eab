"""Acting on confirmations: whoever proved their mailbox becomes a member; held posts go out."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailgate.bounces import enable_delivery
from mailgate.forget import forget_member
from models import (
    Confirmation,
    ConfirmationKind,
    HeldPost,
    HeldStatus,
    Member,
    Subscription,
    Topic,
)
from models.registry import organization_for
from models.tokens import token_hash

if TYPE_CHECKING:
    from mailgate.verdict import Verdict

Publish = Callable[[Session, int], "Verdict"]


def ensure_member(session: Session, email: str, name: str, now: datetime) -> Member:
    member = session.scalar(select(Member).where(Member.email == email))
    if member is None:
        org = organization_for(session, email)
        member = Member(
            email=email,
            name=name or None,
            organization_id=org.id if org else None,
            created_at=now,
        )
        session.add(member)
    if member.confirmed_at is None:
        member.confirmed_at = now
    # Whoever answers a confirmation has a working mailbox: delivery paused by bounces resumes.
    enable_delivery(member)
    if not member.name and name:
        member.name = name
    session.flush()
    return member


def subscribe(session: Session, member: Member, topic: Topic, now: datetime) -> Subscription:
    sub = session.scalar(
        select(Subscription).where(
            Subscription.member_id == member.id, Subscription.topic_id == topic.id
        )
    )
    if sub is None:
        sub = Subscription(
            member_id=member.id, topic_id=topic.id, mode=topic.default_mode, created_at=now
        )
        session.add(sub)
    elif sub.ended_at is not None:
        sub.ended_at = None
        sub.mode = topic.default_mode
    session.flush()
    return sub


def apply(session: Session, confirmation: Confirmation, publish: Publish, now: datetime) -> str:
    """Carry out a confirmed token once; returns what was done, for the trail."""
    if confirmation.kind is ConfirmationKind.FORGET and confirmation.email is not None:
        # Forgetting deletes this confirmation too, with every other trace of the address;
        # no answer is sent afterwards, since sending one would mean keeping the address.
        member_id = forget_member(session, confirmation.email, now)
        return f"member #{member_id} forgotten" if member_id else "address forgotten"
    confirmation.confirmed_at = confirmation.confirmed_at or now
    confirmation.applied_at = now
    if confirmation.email is None:
        return "nothing to do"
    if confirmation.kind in {ConfirmationKind.POST, ConfirmationKind.JOIN}:
        member = ensure_member(session, confirmation.email, confirmation.name, now)
        topic = session.get(Topic, confirmation.topic_id) if confirmation.topic_id else None
        if topic is None:
            return f"member #{member.id} confirmed"
        subscribe(session, member, topic, now)
        published = 0
        # Every post held while the sender was unknown goes out now, oldest first.
        for held in session.scalars(
            select(HeldPost)
            .where(
                HeldPost.sender == confirmation.email,
                HeldPost.topic_id == topic.id,
                HeldPost.status == HeldStatus.HELD,
                HeldPost.reason.startswith("first post"),
            )
            .order_by(HeldPost.created_at)
        ):
            publish(session, held.raw_message_id)
            held.status = HeldStatus.RELEASED
            held.decided_at = now
            published += 1
        return f"member #{member.id} joined {topic.slug}; {published} held post(s) published"
    return f"{confirmation.kind.value} confirmed"


def find_token(session: Session, token: str) -> Confirmation | None:
    return session.scalar(select(Confirmation).where(Confirmation.token_hash == token_hash(token)))


def apply_confirmation_token(session: Session, token: str, publish: Publish, now: datetime) -> str:
    confirmation = find_token(session, token)
    if confirmation is None:
        return "unknown confirmation token"
    if confirmation.applied_at is not None:
        return "confirmation already used"
    if confirmation.expires_at < now:
        return "confirmation expired"
    return apply(session, confirmation, publish, now)


def apply_confirmed(session: Session, publish: Publish, now: datetime) -> int:
    """Act on tokens confirmed on the web page since the last look."""
    pending = session.scalars(
        select(Confirmation).where(
            Confirmation.confirmed_at.is_not(None), Confirmation.applied_at.is_(None)
        )
    ).all()
    for confirmation in pending:
        apply(session, confirmation, publish, now)
    return len(pending)
