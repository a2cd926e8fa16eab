"""The pipeline: screen → authenticate → check eligibility → route → store → enqueue.

Each step reads like the sentence in the spec it implements and returns a verdict, or None
to go on. Every decision is noted with the Message-ID, logged in one line per mail and kept as
MailEvent rows, so that "why was my mail refused?" can be answered from the log and from
`delapost why`.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from mailgate import addresses, replies, screen
from mailgate.addresses import Kind, Recipient
from mailgate.authenticate import AuthResult
from mailgate.config import GatewayConfig
from mailgate.confirm import apply_confirmed
from mailgate.context import MailContext
from mailgate.inbound import Inbound
from mailgate.parse import ParsedMessage, parse
from mailgate.publish import publisher
from mailgate.recipients import check_recipient
from mailgate.replies import Reply
from mailgate.steps.authenticate import authenticate_sender, prove_sender
from mailgate.steps.bounce import record_bounce
from mailgate.steps.command import authenticate_commands, carry_out_commands, take_thread_command
from mailgate.steps.confirm import confirm_by_reply
from mailgate.steps.eligibility import check_eligibility
from mailgate.steps.enqueue import enqueue_copies
from mailgate.steps.owner import hold_for_owners
from mailgate.steps.route import find_topic, route
from mailgate.steps.screen import drop_automail, screen_automail
from mailgate.steps.sequence import Step, run_steps
from mailgate.steps.store import skip_duplicate, store_post
from mailgate.trail import Trail, log_decision, record
from mailgate.transactions import DatabaseBusy, Transactions
from mailgate.verdict import Hold, Reject, Verdict

log = logging.getLogger("delapost.pipeline")

# What each forum address does with a mail, in the order the spec gives.
STEPS: dict[Kind, tuple[Step, ...]] = {
    Kind.POST: (
        find_topic,
        screen_automail,
        authenticate_sender,
        check_eligibility,
        skip_duplicate,
        route,
        take_thread_command,
        store_post,
        enqueue_copies,
    ),
    Kind.REQUEST: (find_topic, drop_automail, authenticate_commands, carry_out_commands),
    Kind.CONFIRM: (find_topic, drop_automail, confirm_by_reply),
    Kind.OWNER: (find_topic, drop_automail, hold_for_owners),
    Kind.BOUNCES: (find_topic, record_bounce),
}
STEPS[Kind.REPLY] = STEPS[Kind.POST]
STEPS[Kind.JOIN] = STEPS[Kind.LEAVE] = STEPS[Kind.REQUEST]
# Mail to these may need the sender proven, which takes DNS: done before any transaction.
PROVEN_KINDS = frozenset({Kind.POST, Kind.REPLY, Kind.REQUEST, Kind.JOIN, Kind.LEAVE})
# A topic that existed at one RCPT is taken to exist at the next for this long; DATA looks again.
TOPIC_MEMORY = 30.0


def message_id_of(parsed: ParsedMessage, data: bytes) -> str:
    """The Message-ID, or a stable stand-in so that a retried mail is still recognised."""
    return parsed.message_id or f"{hashlib.sha256(data).hexdigest()[:32]}@delapost.invalid"


class Pipeline:
    """The gateway's brain: owns the database side of every SMTP decision."""

    def __init__(self, factory: sessionmaker[Session], config: GatewayConfig) -> None:
        self.factory = factory
        self.config = config
        self.transactions = Transactions(factory, lock_wait=config.lock_wait)
        self._topics_seen: dict[str, float] = {}  # slug → until when RCPT need not ask again
        # SQLite takes one writer at a time: mail is delivered by one thread, in arrival order,
        # rather than by several that would only queue for the lock and for the GIL.
        self._delivery = (
            ThreadPoolExecutor(1, thread_name_prefix="delivery")
            if self.transactions.dialect == "sqlite"
            else None
        )

    # -- the SMTP session's questions -------------------------------------------------

    async def check_recipient(self, address: str) -> Reply | None:
        if self._known_topic(address):
            return None  # the common case needs no thread and no database
        return await asyncio.to_thread(self.check_recipient_now, address)

    async def deliver(self, inbound: Inbound) -> Verdict:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._delivery, self.deliver_now, inbound)

    def close(self) -> None:
        """Let the delivery thread end once the mail it has is done."""
        if self._delivery is not None:
            self._delivery.shutdown(wait=True)

    # -- the same, synchronously -------------------------------------------------------

    def check_recipient_now(self, address: str) -> Reply | None:
        if self._known_topic(address):
            return None
        try:
            refusal = self.transactions.run(
                lambda session: check_recipient(session, address, self.config), write=False
            )
        except (DatabaseBusy, SQLAlchemyError):
            log.exception("RCPT %s: database unavailable", address)
            return replies.TRY_LATER
        except Exception:
            log.exception("RCPT %s failed", address)
            return replies.TRY_LATER
        recipient = addresses.parse(address, self.config.list_domain)
        if refusal is None and recipient is not None and recipient.kind is Kind.POST:
            self._topics_seen[recipient.topic] = time.monotonic() + TOPIC_MEMORY
        return refusal

    def deliver_now(self, inbound: Inbound) -> Verdict:
        """Decide about one mail for all its recipients; 250 only once everything is committed."""
        try:
            parsed = parse(inbound.data, max_attachment_bytes=self.config.max_attachment_bytes)
            message_id = message_id_of(parsed, inbound.data)
            recipients = list(dict.fromkeys(self._recipients(inbound.rcpt_tos)))
            proof = self._prove(inbound, parsed, recipients)
        except Exception:
            log.exception("DATA from %s: could not read the mail", inbound.peer)
            return Reject(replies.TRY_LATER, "our own failure")
        verdicts = [self._deliver_one(inbound, parsed, message_id, r, proof) for r in recipients]
        # One answer for the whole transaction: a temporary failure anywhere makes the sender
        # retry all of it (the recipients already done see a duplicate); otherwise 250 when
        # any recipient took the mail.
        for verdict in verdicts:
            if isinstance(verdict, Reject) and not verdict.reply.is_permanent:
                return verdict
        taken = [v for v in verdicts if not isinstance(v, Reject)]
        if taken:
            return taken[0]
        if verdicts:
            return verdicts[0]
        return Reject(replies.NO_RECIPIENTS, "no recipient left")

    async def watch_confirmations(self, stop: asyncio.Event, interval: float = 2.0) -> None:
        """Until `stop`: act on what people confirmed on the web page, every `interval` s."""
        while not stop.is_set():
            try:
                done = await asyncio.to_thread(self.apply_web_confirmations)
                if done:
                    log.info("%d confirmation(s) from the web page carried out", done)
            except Exception:  # the database may be away for a while; try again later
                log.exception("could not carry out web confirmations")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), interval)

    def apply_web_confirmations(self) -> int:
        """Act on confirmations made with the web page's button: join, publish held posts."""
        publish = publisher(self.config)
        return self.transactions.run(
            lambda session: apply_confirmed(session, publish, self.config.clock())
        )

    # -- inside ------------------------------------------------------------------------

    def _known_topic(self, address: str) -> bool:
        """A topic's post address that RCPT found a moment ago."""
        recipient = addresses.parse(address, self.config.list_domain)
        if recipient is None or recipient.kind is not Kind.POST:
            return False
        return self._topics_seen.get(recipient.topic, 0.0) > time.monotonic()

    def _recipients(self, rcpt_tos: Iterable[str]) -> Iterable[tuple[str, Recipient]]:
        for address in rcpt_tos:
            recipient = addresses.parse(address, self.config.list_domain)
            if recipient is not None:
                yield address, recipient

    def _prove(
        self, inbound: Inbound, parsed: ParsedMessage, recipients: list[tuple[str, Recipient]]
    ) -> AuthResult | None:
        """DKIM and DNS before any transaction begins, so that no lock waits on the network."""
        if self.config.sender_auth == "none" or not parsed.from_address:
            return None
        if not any(r.kind in PROVEN_KINDS for _, r in recipients):
            return None
        kind, _ = screen.classify(parsed, inbound.mail_from, list_domain=self.config.list_domain)
        if kind not in (screen.Automail.NONE, screen.Automail.LOOKS_AUTOMATIC):
            return None  # dropped at screening; nothing to prove
        return prove_sender(self.config, inbound.data, parsed)

    def _deliver_one(
        self,
        inbound: Inbound,
        parsed: ParsedMessage,
        message_id: str,
        target: tuple[str, Recipient],
        proof: AuthResult | None,
    ) -> Verdict:
        address, recipient = target
        trail: Trail = []

        def decide(session: Session) -> Verdict:
            ctx = MailContext(
                inbound=inbound,
                parsed=parsed,
                recipient=recipient,
                config=self.config,
                session=session,
                message_id=message_id,
                proof=proof,
            )
            trail[:] = []
            verdict = run_steps(ctx, STEPS[recipient.kind])
            trail.extend(ctx.trail)
            if isinstance(verdict, Reject):
                raise _Refused(verdict)  # nothing of a refused mail is kept but the trail
            record(session, message_id, verdict, ctx.trail, self.config.clock())
            return verdict

        try:
            verdict = self.transactions.run(decide)
        except _Refused as refused:
            verdict = refused.verdict
            self._record_refusal(message_id, verdict, trail)
        except (DatabaseBusy, SQLAlchemyError) as error:
            log.exception("<%s> database unavailable or locked", message_id)
            verdict = Reject(replies.TRY_LATER, f"database: {type(error).__name__}")
        except Exception:
            log.exception("<%s> failed", message_id)
            verdict = Reject(replies.TRY_LATER, "our own failure")
        log_decision(message_id, address, verdict, trail)
        return verdict

    def _record_refusal(self, message_id: str, verdict: Verdict, trail: Trail) -> None:
        try:
            self.transactions.run(
                lambda session: record(session, message_id, verdict, trail, self.config.clock())
            )
        except Exception:  # the refusal stands; only its record in the database is missing
            log.exception("<%s> could not record the refusal", message_id)


class _Refused(Exception):
    """Unwinds a transaction whose mail was refused, so that none of its writes remain."""

    def __init__(self, verdict: Reject) -> None:
        super().__init__(verdict.detail)
        self.verdict = verdict


__all__ = ["Hold", "Pipeline"]
