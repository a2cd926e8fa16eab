"""The pipeline: screen → authenticate → check eligibility → route → store → enqueue.

Each step reads like the sentence in the spec it implements and returns a verdict, or None
to go on. Every decision is noted with the Message-ID, so that "why was my mail refused?"
can be answered from the log and from `delapost why`.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Callable
from typing import TypeAlias

from sqlalchemy import insert, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from mailgate import addresses, replies
from mailgate.addresses import Kind, Recipient
from mailgate.config import GatewayConfig
from mailgate.confirm import apply_confirmation_token
from mailgate.context import MailContext
from mailgate.inbound import Inbound
from mailgate.parse import ParsedMessage, parse
from mailgate.replies import Reply
from mailgate.steps.authenticate import authenticate_sender
from mailgate.steps.eligibility import check_eligibility
from mailgate.steps.enqueue import enqueue_copies
from mailgate.steps.hold import hold_post
from mailgate.steps.route import find_topic, route
from mailgate.steps.screen import screen_automail
from mailgate.steps.store import skip_duplicate, store_post
from mailgate.verdict import Accept, Drop, Hold, Reject, Verdict, name_of
from models import MailEvent, Member, RawMessage, Topic, utcnow
from models.db import unit_of_work
from models.registry import organization_for

log = logging.getLogger("delapost.pipeline")

Step: TypeAlias = Callable[[MailContext], Verdict | None]

# A post or reply to a topic, in the order the spec gives.
POST_STEPS: tuple[Step, ...] = (
    find_topic,
    screen_automail,
    authenticate_sender,
    check_eligibility,
    skip_duplicate,
    route,
    store_post,
    enqueue_copies,
)

# What a held post goes through once a person has let it in.
PUBLISH_STEPS: tuple[Step, ...] = (find_topic, skip_duplicate, route, store_post, enqueue_copies)

# Addresses the gateway answers; the rest of the contract's addresses arrive with membership.
SERVED_KINDS = {Kind.POST, Kind.REPLY, Kind.CONFIRM}


def message_id_of(parsed: ParsedMessage, data: bytes) -> str:
    """The Message-ID, or a stable stand-in so that a retried mail is still recognised."""
    return parsed.message_id or f"{hashlib.sha256(data).hexdigest()[:32]}@delapost.invalid"


def run_steps(ctx: MailContext, steps: tuple[Step, ...]) -> Verdict:
    for step in steps:
        verdict = step(ctx)
        if isinstance(verdict, Hold) and ctx.post is None:
            return hold_post(ctx, verdict.detail)
        if verdict is not None:
            return verdict
    return Accept()


class Pipeline:
    """The gateway's brain: owns the database side of every SMTP decision."""

    def __init__(self, factory: sessionmaker[Session], config: GatewayConfig) -> None:
        self.factory = factory
        self.config = config

    # -- the SMTP session's questions -------------------------------------------------

    async def check_recipient(self, address: str) -> Reply | None:
        return await asyncio.to_thread(self._check_recipient, address)

    async def deliver(self, inbound: Inbound) -> Verdict:
        return await asyncio.to_thread(self.deliver_now, inbound)

    # -- the same, synchronously -------------------------------------------------------

    def _check_recipient(self, address: str) -> Reply | None:
        recipient = addresses.parse(address, self.config.list_domain)
        if recipient is None or recipient.kind not in SERVED_KINDS:
            return replies.UNKNOWN_RECIPIENT
        try:
            with self.factory() as session:
                exists = session.scalar(select(Topic.id).where(Topic.slug == recipient.topic))
        except OperationalError:
            log.exception("database unavailable at RCPT")
            return replies.TRY_LATER
        return None if exists is not None else replies.UNKNOWN_RECIPIENT

    def deliver_now(self, inbound: Inbound) -> Verdict:
        parsed = parse(inbound.data, max_attachment_bytes=self.config.max_attachment_bytes)
        message_id = message_id_of(parsed, inbound.data)
        verdicts: list[Verdict] = []
        for address in inbound.rcpt_tos:
            recipient = addresses.parse(address, self.config.list_domain)
            if recipient is None:
                continue
            verdicts.append(self._deliver_one(inbound, parsed, message_id, recipient))
        # One answer for the whole transaction: 250 when any recipient took the mail.
        taken = [v for v in verdicts if not isinstance(v, Reject)]
        if taken:
            return taken[0]
        if verdicts:
            return verdicts[0]
        return Reject(replies.NO_RECIPIENTS, "no recipient left")

    def _deliver_one(
        self, inbound: Inbound, parsed: ParsedMessage, message_id: str, recipient: Recipient
    ) -> Verdict:
        trail: list[tuple[str, str]] = []
        try:
            with unit_of_work(self.factory) as session:
                ctx = MailContext(
                    inbound=inbound,
                    parsed=parsed,
                    recipient=recipient,
                    config=self.config,
                    session=session,
                    message_id=message_id,
                )
                trail = ctx.trail
                verdict = self._decide(ctx)
                if isinstance(verdict, Reject):
                    session.rollback()
                else:
                    self._record(session, message_id, verdict, trail)
        except OperationalError:
            log.exception("<%s> database unavailable or locked", message_id)
            return Reject(replies.TRY_LATER, "database unavailable")
        if isinstance(verdict, Reject):
            self._record_separately(message_id, verdict, trail)
        log.info(
            "<%s> %s %s: %s",
            message_id,
            name_of(verdict),
            verdict.reply.status,
            verdict.detail,
        )
        return verdict

    def _decide(self, ctx: MailContext) -> Verdict:
        kind = ctx.recipient.kind
        if kind in {Kind.POST, Kind.REPLY}:
            return run_steps(ctx, POST_STEPS)
        if kind is Kind.CONFIRM:
            verdict = screen_automail(ctx)
            if verdict is not None:
                return verdict if not isinstance(verdict, Hold) else Drop(verdict.detail)
            done = apply_confirmation_token(
                ctx.session, ctx.recipient.extension, self.publish_raw, self.config.clock()
            )
            ctx.note("confirm", done)
            return Accept(done)
        return Reject(replies.UNKNOWN_RECIPIENT, f"{kind} not served")

    def publish_raw(self, session: Session, raw_id: int) -> Verdict:
        """Publish a held mail as if it had been accepted on arrival."""
        raw = session.get(RawMessage, raw_id)
        assert raw is not None
        parsed = parse(raw.data, max_attachment_bytes=self.config.max_attachment_bytes)
        recipient = next(
            (
                r
                for r in (
                    addresses.parse(a, self.config.list_domain) for a in raw.rcpt_to.split(", ")
                )
                if r is not None and r.kind in {Kind.POST, Kind.REPLY}
            ),
            None,
        )
        if recipient is None:
            return Drop("held mail has no topic address")
        inbound = Inbound(
            mail_from=raw.mail_from,
            rcpt_tos=tuple(raw.rcpt_to.split(", ")),
            data=raw.data,
            peer="held",
            received_at=raw.received_at,
        )
        ctx = MailContext(
            inbound=inbound,
            parsed=parsed,
            recipient=recipient,
            config=self.config,
            session=session,
            message_id=raw.message_id,
        )
        if parsed.from_address:
            ctx.member = session.scalar(select(Member).where(Member.email == parsed.from_address))
            ctx.organization = organization_for(session, parsed.from_address)
        verdict = run_steps(ctx, PUBLISH_STEPS)
        if ctx.post is not None:
            ctx.post.raw_message_id = raw.id
        self._record(session, raw.message_id, verdict, ctx.trail)
        return verdict

    @staticmethod
    def _record(
        session: Session, message_id: str, verdict: Verdict, trail: list[tuple[str, str]]
    ) -> None:
        rows: list[dict[str, object]] = [
            {"message_id": message_id, "step": step, "verdict": "note", "detail": detail}
            for step, detail in trail
        ]
        rows.append(
            {
                "message_id": message_id,
                "step": "verdict",
                "verdict": name_of(verdict),
                "detail": f"{verdict.reply.code} {verdict.reply.status} {verdict.detail}",
            }
        )
        now = utcnow()
        for row in rows:
            row["at"] = now
        session.execute(insert(MailEvent), rows)

    def _record_separately(
        self, message_id: str, verdict: Verdict, trail: list[tuple[str, str]]
    ) -> None:
        try:
            with unit_of_work(self.factory) as session:
                self._record(session, message_id, verdict, trail)
        except OperationalError:
            log.exception("<%s> could not record the decision", message_id)


__all__ = ["Hold", "Pipeline"]
