"""Forget a member (GDPR Art. 17): end everything, and remove their name and address everywhere."""

from __future__ import annotations

import logging
import re
from datetime import datetime

from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session

from models import (
    Confirmation,
    HeldPost,
    MailEvent,
    Member,
    Outbox,
    Post,
    RawMessage,
    Subscription,
    ThreadFollow,
    TopicOwner,
)

log = logging.getLogger("delapost.membership")

REMOVED_ADDRESS = "borttagen@medlem.invalid"
REMOVED_NAME = "Borttagen medlem"


def forget_member(session: Session, address: str, now: datetime) -> int | None:
    """Forget whoever has `address`; returns the member's id (None if there was no member).

    Posts stay in their threads with the organisation, shown as "borttagen medlem". The address
    is replaced in every stored text, including other members' quotes and the raw mails, and
    the name (when it is a full name) likewise; nothing logged afterwards names either.
    """
    address = address.strip().lower()
    member = session.scalar(select(Member).where(Member.email == address))
    member_id = member.id if member is not None else None
    name = (member.name or "") if member is not None else ""
    if member is not None:
        for subscription in session.scalars(
            select(Subscription).where(
                Subscription.member_id == member.id, Subscription.ended_at.is_(None)
            )
        ):
            subscription.ended_at = now
        session.execute(delete(ThreadFollow).where(ThreadFollow.member_id == member.id))
        session.execute(
            delete(Outbox).where(Outbox.member_id == member.id, Outbox.sent_at.is_(None))
        )
        member.email = None
        member.name = None
        member.forgotten_at = now
        member.confirmed_at = None
        for post in session.scalars(select(Post).where(Post.member_id == member.id)):
            post.signature = ""
    session.execute(delete(Confirmation).where(Confirmation.email == address))
    session.execute(delete(TopicOwner).where(TopicOwner.email == address))
    session.execute(delete(Outbox).where(Outbox.recipient == address))
    _scrub_texts(session, address, name)
    session.flush()
    log.info("member #%s forgotten", member_id if member_id is not None else "-")
    return member_id


def _patterns(address: str, name: str) -> list[tuple[re.Pattern[str], str]]:
    found = [(re.compile(re.escape(address), re.IGNORECASE), REMOVED_ADDRESS)]
    # A single first name is too common to replace in other people's words; a full name is not.
    if len(name.split()) >= 2:
        found.append((re.compile(re.escape(name), re.IGNORECASE), REMOVED_NAME))
    return found


def _byte_patterns(address: str, name: str) -> list[tuple[re.Pattern[bytes], bytes]]:
    values = [(address, REMOVED_ADDRESS)]
    if len(name.split()) >= 2:
        values.append((name, REMOVED_NAME))
    found = []
    for value, replacement in values:
        for encoding in ("utf-8", "latin-1"):
            try:
                encoded = value.encode(encoding)
            except UnicodeEncodeError:
                continue
            found.append((re.compile(re.escape(encoded), re.IGNORECASE), replacement.encode()))
    return found


def _scrub(value: str, patterns: list[tuple[re.Pattern[str], str]]) -> str:
    for pattern, replacement in patterns:
        value = pattern.sub(replacement, value)
    return value


def _scrub_texts(session: Session, address: str, name: str) -> None:
    patterns = _patterns(address, name)
    like = f"%{address}%"
    text_columns = (Post.full_text, Post.new_text, Post.quoted_text, Post.signature, Post.html)
    for post in session.scalars(select(Post).where(or_(*(c.ilike(like) for c in text_columns)))):
        post.full_text = _scrub(post.full_text, patterns)
        post.new_text = _scrub(post.new_text, patterns)
        post.quoted_text = _scrub(post.quoted_text, patterns)
        post.signature = _scrub(post.signature, patterns)
        post.html = _scrub(post.html, patterns) if post.html is not None else None
    if len(name.split()) >= 2:
        by_name = f"%{name}%"
        for post in session.scalars(
            select(Post).where(or_(*(c.ilike(by_name) for c in text_columns[:4])))
        ):
            post.quoted_text = _scrub(post.quoted_text, patterns)
            post.full_text = _scrub(post.full_text, patterns)
    for held in session.scalars(select(HeldPost).where(HeldPost.sender == address)):
        held.sender = REMOVED_ADDRESS
    for event in session.scalars(select(MailEvent).where(MailEvent.detail.ilike(like))):
        event.detail = _scrub(event.detail, patterns)
    byte_patterns = _byte_patterns(address, name)
    # Raw mail is bytes in any charset: the name is looked for in UTF-8 and in Latin-1.
    for raw in session.scalars(select(RawMessage)).yield_per(200):
        data = raw.data
        for pattern, replacement in byte_patterns:
            data = pattern.sub(replacement, data)
        if data != raw.data:
            raw.data = data
        if address in raw.mail_from.lower():
            raw.mail_from = REMOVED_ADDRESS
        if address in raw.rcpt_to.lower():
            raw.rcpt_to = _scrub(raw.rcpt_to, patterns)
    for row in session.scalars(select(Outbox).where(Outbox.message.is_not(None))).yield_per(200):
        assert row.message is not None
        message = row.message
        for pattern, replacement in byte_patterns:
            message = pattern.sub(replacement, message)
        if message != row.message:
            row.message = message
