"""Bounces to `t-bounces+VERP@D`: score a member's permanent failures, probe, then pause delivery.

As Mailman does it: the VERP address says whose copy came back; a delay or a 4.x.x failure
never counts; a permanent failure adds at most one point a day, and points older than a week
are forgotten. At `THRESHOLD` points the member gets a probe, a notice sent from a bounce
address of its own (`t-bounces+probe-TOKEN@D`). Only when the probe bounces too is delivery
paused (`Member.delivery_disabled_at`); the member and the owners of the member's topics are
told. `enable_delivery` turns it on again; `delapost member add` does, and so should a "join"
to `t-request@D`.
"""

from __future__ import annotations

import email
import enum
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import Message
from email.policy import compat32

from flufl.bounce import all_failures
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mailgate import addresses, notices
from mailgate.addresses import Kind
from models import Member, Outbox, OutboxKind, Subscription, Topic, TopicOwner
from models.tokens import read_signed_value, sign_value

THRESHOLD = 5.0
FORGET_AFTER = timedelta(days=7)  # a score whose last point is older starts again from zero
PROBE_WAIT = timedelta(days=7)  # no second probe while one this young may still bounce
PROBE_VALID = timedelta(days=14)  # a probe's bounce arriving later than this is ignored
PROBE_PREFIX = "probe-"
PROBE_NOTICE = "bounce-probe"
_PROBE_PURPOSE = "bounce-probe"


class Disposition(enum.StrEnum):
    """What a report to a bounce address says about the copy it returns."""

    PERMANENT = "permanent"  # 5.x.x, or a failure a heuristic reader recognised
    TEMPORARY = "temporary"  # delayed, or 4.x.x: the sending server still tries, or gave up early
    NOT_A_BOUNCE = "not a bounce"  # an auto-reply, a success report, or nothing we can read


class Outcome(enum.StrEnum):
    UNKNOWN = "unknown"  # the address names nobody we know
    IGNORED = "ignored"  # not a permanent failure: nothing changes
    ALREADY_PAUSED = "already paused"
    COUNTED_TODAY = "counted today"  # a point was added today already
    SCORED = "scored"
    PROBED = "probed"  # the score reached THRESHOLD: a probe is queued
    PAUSED = "paused"  # the probe bounced: delivery is off, member and owners told


@dataclass(frozen=True)
class BounceOutcome:
    outcome: Outcome
    disposition: Disposition
    member_id: int | None = None
    score: float = 0.0

    @property
    def detail(self) -> str:
        """One line for the pipeline's trail."""
        who = f"member #{self.member_id}" if self.member_id is not None else "no member"
        return f"{self.disposition} bounce, {who}: {self.outcome} (score {self.score:g})"


def record_bounce(
    session: Session,
    *,
    topic_slug: str,
    extension: str,
    message: Message | bytes,
    now: datetime,
    list_domain: str,
    secret: bytes,
) -> BounceOutcome:
    """Take in a report sent to `t-bounces+<extension>@D`; never answered, never posted."""
    disposition = classify(message)
    probed = _probe_member_id(secret, extension, now)
    if probed is not None:
        member = session.get(Member, probed)
    else:
        address = addresses.verp_decode(extension)
        member = None if address is None else _member_by_address(session, address)
    if member is None:
        return BounceOutcome(Outcome.UNKNOWN, disposition)
    if member.delivery_disabled_at is not None:
        return _outcome(Outcome.ALREADY_PAUSED, disposition, member)
    if disposition is not Disposition.PERMANENT:
        return _outcome(Outcome.IGNORED, disposition, member)
    topic = session.scalar(select(Topic).where(Topic.slug == topic_slug))
    if probed is not None:
        _pause(session, member, topic, now, list_domain)
        return _outcome(Outcome.PAUSED, disposition, member)
    last = member.last_bounce_at
    if last is not None and now - last > FORGET_AFTER:
        member.bounce_score = 0.0
    elif last is not None and last.date() == now.date() and member.bounce_score > 0:
        return _outcome(Outcome.COUNTED_TODAY, disposition, member)
    member.bounce_score += 1.0
    member.last_bounce_at = now
    if member.bounce_score < THRESHOLD or topic is None or _probe_pending(session, member, now):
        return _outcome(Outcome.SCORED, disposition, member)
    _send_probe(session, member, topic, now, list_domain, secret)
    return _outcome(Outcome.PROBED, disposition, member)


def enable_delivery(member: Member) -> None:
    """Turn delivery to a paused member on again, with a clean slate."""
    member.delivery_disabled_at = None
    member.bounce_score = 0.0
    member.last_bounce_at = None


def classify(message: Message | bytes) -> Disposition:
    """Permanent, temporary or no failure, from the DSN's Action and Status (RFC 3464), else
    from flufl.bounce's readers of the formats servers used before DSNs."""
    if isinstance(message, bytes):
        message = email.message_from_bytes(message, policy=compat32)
    try:
        reports = _delivery_reports(message)
        if reports:
            failed = [status for action, status in reports if action.startswith(("fail", "error"))]
            if any(not status.startswith("4") for status in failed):
                return Disposition.PERMANENT
            if failed or any(action.startswith("delayed") for action, _ in reports):
                return Disposition.TEMPORARY
            return Disposition.NOT_A_BOUNCE  # delivered, relayed, expanded
        temporary, permanent = all_failures(message)
    except Exception:  # a malformed report tells us nothing; it must never stop the gateway
        return Disposition.NOT_A_BOUNCE
    if permanent:
        return Disposition.PERMANENT
    return Disposition.TEMPORARY if temporary else Disposition.NOT_A_BOUNCE


def probe_extension(secret: bytes, member_id: int, now: datetime) -> str:
    """The bounce address extension of a probe: says whom, and when it was sent."""
    return PROBE_PREFIX + sign_value(secret, _PROBE_PURPOSE, f"{member_id}:{now:%Y%m%d}")


def _probe_member_id(secret: bytes, extension: str, now: datetime) -> int | None:
    if "=" in extension or not extension.startswith(PROBE_PREFIX):
        return None
    value = read_signed_value(secret, _PROBE_PURPOSE, extension.removeprefix(PROBE_PREFIX))
    member_id, _, day = (value or "").partition(":")
    try:
        sent = datetime.strptime(day, "%Y%m%d").replace(tzinfo=now.tzinfo)
    except ValueError:
        return None
    if not member_id.isdigit() or now - sent > PROBE_VALID:
        return None
    return int(member_id)


def _delivery_reports(message: Message) -> list[tuple[str, str]]:
    """(action, status) of each per-recipient block of every message/delivery-status part."""
    reports: list[tuple[str, str]] = []
    for part in message.walk():
        if part.get_content_type() != "message/delivery-status" or not part.is_multipart():
            continue
        payload = part.get_payload()
        assert isinstance(payload, list)
        for block in payload:
            if not isinstance(block, Message):
                continue
            action = str(block.get("action", "")).strip().lower()
            if action:
                status = str(block.get("status", "")).strip().split(" ", 1)[0]
                reports.append((action, status))
    return reports


def _member_by_address(session: Session, address: str) -> Member | None:
    # Local parts arrive lower-cased (addresses.parse); stored addresses may not be.
    return session.scalar(select(Member).where(func.lower(Member.email) == address.lower()))


def _outcome(outcome: Outcome, disposition: Disposition, member: Member) -> BounceOutcome:
    return BounceOutcome(outcome, disposition, member.id, member.bounce_score)


def _probe_pending(session: Session, member: Member, now: datetime) -> bool:
    sent = session.scalar(
        select(func.count(Outbox.id)).where(
            Outbox.kind == OutboxKind.NOTICE,
            Outbox.member_id == member.id,
            Outbox.notice_kind == PROBE_NOTICE,
            Outbox.created_at > now - PROBE_WAIT,
        )
    )
    return bool(sent)


def _send_probe(
    session: Session, member: Member, topic: Topic, now: datetime, list_domain: str, secret: bytes
) -> None:
    assert member.email is not None
    envelope = addresses.make(
        Kind.BOUNCES, topic.slug, list_domain, probe_extension(secret, member.id, now)
    )
    message = _notice(member.email, topic, list_domain, now, PROBE_SUBJECT, PROBE_TEXT, member)
    session.add(
        Outbox(
            kind=OutboxKind.NOTICE,
            member_id=member.id,
            recipient=member.email,
            notice_kind=PROBE_NOTICE,
            envelope_from=envelope,
            message=message,
            created_at=now,
            next_attempt_at=now,
        )
    )


def _pause(
    session: Session, member: Member, topic: Topic | None, now: datetime, list_domain: str
) -> None:
    member.delivery_disabled_at = now
    topics = list(
        session.scalars(
            select(Topic)
            .join(Subscription, Subscription.topic_id == Topic.id)
            .where(Subscription.member_id == member.id, Subscription.ended_at.is_(None))
            .order_by(Topic.id)
        )
    )
    home = topic or (topics[0] if topics else None)
    if home is None:
        return
    if member.email is not None:
        message = _notice(member.email, home, list_domain, now, PAUSED_SUBJECT, PAUSED_TEXT, member)
        notices.enqueue_notice(
            session, to=member.email, kind="bounce-paused", message=message, now=now
        )
    told: set[str] = set()
    for each in topics or [home]:
        for owner in session.scalars(
            select(TopicOwner.email).where(TopicOwner.topic_id == each.id)
        ):
            if owner.lower() in told:
                continue
            told.add(owner.lower())
            message = _notice(owner, each, list_domain, now, OWNER_SUBJECT, OWNER_TEXT, member)
            notices.enqueue_notice(
                session, to=owner, kind="bounce-paused-owner", message=message, now=now, limit=False
            )


def _notice(
    to: str,
    topic: Topic,
    list_domain: str,
    now: datetime,
    subject: str,
    text: str,
    member: Member,
) -> bytes:
    facts = {
        "topic": topic.name,
        "name": member.display_name,
        "address": member.email or "",
        "request": addresses.make(Kind.REQUEST, topic.slug, list_domain),
        "owner": addresses.make(Kind.OWNER, topic.slug, list_domain),
    }
    return notices.compose(
        to=to,
        from_name=topic.name,
        from_address=facts["owner"],
        subject=subject.format(**facts),
        body=text.format(**facts),
        list_domain=list_domain,
        now=now,
    )


PROBE_SUBJECT = "Kommer våra brev fram? / Are our messages reaching you?"
PROBE_TEXT = """\
Hej {name},

brev från forumet {topic} till {address} har studsat tillbaka flera dagar
den senaste veckan. Det här är ett provbrev: läser du det behöver du inte göra
något. Studsar också det här brevet pausar vi utskicken till dig. Du slår på dem
igen genom att skicka ett brev med ordet "join" (eller "gå med") till
{request}. Frågor besvaras av forumets ansvariga: {owner}.

---

Hello {name},

mail from the forum {topic} to {address} has bounced on several days in the
past week. This is a test message: if you can read it, there is nothing you
need to do. If it bounces too, we will pause delivery to you. You can turn it
on again by sending a message with the word "join" to {request}.
The forum's owners answer questions: {owner}.
"""
PAUSED_SUBJECT = "Utskicken till dig är pausade / Delivery to you is paused"
PAUSED_TEXT = """\
Hej {name},

brev från forumet {topic} till {address} studsar, så vi har pausat alla utskick
till dig. Du är fortfarande medlem. Skicka ett brev med ordet "join" (eller
"gå med") till {request} när din brevlåda tar emot post igen, så slår vi på
utskicken. Frågor: {owner}.

---

Hello {name},

mail from the forum {topic} to {address} bounces, so we have paused all delivery
to you. You are still a member. Send a message with the word "join" to
{request} when your mailbox takes mail again, and delivery starts again.
Questions: {owner}.
"""
OWNER_SUBJECT = "Utskick pausade till {name} / Delivery paused for {name}"
OWNER_TEXT = """\
Brev till {name} <{address}> har studsat flera dagar i rad, och ett provbrev
studsade också. Medlemmen får inga brev från {topic} förrän utskicken slås på
igen: medlemmen skickar "join" till {request}, eller en administratör kör
"delapost member add {address} --name ..." igen.

---

Mail to {name} <{address}> has bounced on several days, and a test message
bounced too. The member gets no mail from {topic} until delivery is turned on
again: the member sends "join" to {request}, or an administrator runs
"delapost member add {address} --name ..." again.
"""
