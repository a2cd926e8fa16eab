"""Publishing a held mail once a person has let it in, as if it had been accepted on arrival."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailgate import addresses
from mailgate.addresses import Kind
from mailgate.config import GatewayConfig
from mailgate.confirm import Publish
from mailgate.context import MailContext
from mailgate.inbound import Inbound
from mailgate.parse import parse
from mailgate.steps.enqueue import enqueue_copies
from mailgate.steps.route import find_topic, route
from mailgate.steps.sequence import Step, run_steps
from mailgate.steps.store import skip_duplicate, store_post
from mailgate.trail import log_decision, record
from mailgate.verdict import Drop, Verdict
from models import Member, RawMessage
from models.registry import organization_for

# Screening, authentication and eligibility were decided when the mail arrived.
PUBLISH_STEPS: tuple[Step, ...] = (find_topic, skip_duplicate, route, store_post, enqueue_copies)


def publish_held(session: Session, raw_id: int, config: GatewayConfig) -> Verdict:
    """Post the held mail stored as RawMessage `raw_id`, in the caller's transaction."""
    raw = session.get(RawMessage, raw_id)
    if raw is None:
        return Drop("held mail no longer stored")
    rcpt_tos = tuple(raw.rcpt_to.split(", "))
    recipient = next(
        (
            r
            for r in (addresses.parse(a, config.list_domain) for a in rcpt_tos)
            if r is not None and r.kind in {Kind.POST, Kind.REPLY}
        ),
        None,
    )
    if recipient is None:
        return Drop("held mail has no topic address")
    parsed = parse(raw.data, max_attachment_bytes=config.max_attachment_bytes)
    inbound = Inbound(
        mail_from=raw.mail_from,
        rcpt_tos=rcpt_tos,
        data=raw.data,
        peer="held",
        received_at=raw.received_at,
    )
    ctx = MailContext(
        inbound=inbound,
        parsed=parsed,
        recipient=recipient,
        config=config,
        session=session,
        message_id=raw.message_id,
        raw_id=raw.id,
    )
    if parsed.from_address:
        ctx.member_id = session.scalar(select(Member.id).where(Member.email == parsed.from_address))
        organization = organization_for(session, parsed.from_address)
        ctx.organization_id = organization.id if organization else None
    ctx.note("publish", "released by a person")
    verdict = run_steps(ctx, PUBLISH_STEPS)
    record(session, raw.message_id, verdict, ctx.trail, config.clock())
    log_decision(raw.message_id, "(held)", verdict, ctx.trail)
    return verdict


def publisher(config: GatewayConfig) -> Publish:
    """`publish_held` with the configuration bound, as mailgate.confirm wants it."""

    def publish(session: Session, raw_id: int) -> Verdict:
        return publish_held(session, raw_id, config)

    return publish
