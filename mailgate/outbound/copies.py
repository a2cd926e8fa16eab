"""Make each member's copy of a post from a template composed once per post and kept a minute."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from sqlalchemy import and_, select
from sqlalchemy.orm import Session

from mailgate import addresses
from mailgate.addresses import Kind
from mailgate.outbound.compose import AttachmentFile, CopyTemplate, ListContext
from models import Attachment, Blob, Member, Outbox, Post, Subscription, Topic

# Long enough for one fan-out to compose its post once, short enough that an edit or an
# erasure reaches the copies still waiting for a retry.
TEMPLATE_SECONDS = 60.0
_TEMPLATES_KEPT = 16


@dataclass(frozen=True)
class _Made:
    at: float  # time.monotonic() when composed
    template: CopyTemplate
    topic_id: int
    slug: str


@dataclass(frozen=True)
class Copy:
    """One member's copy, unsigned, with the envelope it goes in."""

    envelope_from: str
    recipient: str
    message: bytes


class CopyMaker:
    """Turns queued COPY rows into copies; safe to share between threads."""

    def __init__(self, lc: ListContext) -> None:
        self._lc = lc
        self._templates: dict[int, _Made] = {}
        self._lock = threading.Lock()

    def make(self, session: Session, row: Outbox) -> Copy | str:
        """The copy for `row`, or the reason it is not to be sent."""
        made = self._template(session, row.post_id) if row.post_id is not None else None
        found = session.execute(
            select(Member.email, Member.delivery_disabled_at, Subscription.ended_at)
            .add_columns(Subscription.id.label("subscription_id"))
            .select_from(Member)
            .outerjoin(
                Subscription,
                and_(
                    Subscription.member_id == Member.id,
                    Subscription.topic_id == (made.topic_id if made else None),
                ),
            )
            .where(Member.id == row.member_id)
        ).first()
        if found is None or made is None:
            return "the post or the member no longer exists"
        if found.email is None:
            return "the member has no address any more"
        if found.delivery_disabled_at is not None:
            return "delivery to the member is disabled"
        if found.subscription_id is None or found.ended_at is not None:
            return f"the member's subscription to {made.slug} has ended"
        assert row.member_id is not None
        bounces = addresses.make(
            Kind.BOUNCES, made.slug, self._lc.list_domain, addresses.verp_encode(found.email)
        )
        return Copy(bounces, found.email, made.template.for_member(row.member_id))

    def _template(self, session: Session, post_id: int) -> _Made | None:
        now = time.monotonic()
        with self._lock:
            kept = self._templates.get(post_id)
        if kept is not None and now - kept.at < TEMPLATE_SECONDS:
            return kept
        post = session.get(Post, post_id)
        topic = session.get(Topic, post.topic_id) if post is not None else None
        if post is None or topic is None:
            return None
        template = CopyTemplate.of(post, topic, self._lc, self._attachments(session, post_id))
        made = _Made(now, template, topic.id, topic.slug)
        with self._lock:
            if len(self._templates) >= _TEMPLATES_KEPT:
                oldest = min(self._templates.values(), key=lambda m: m.at)
                self._templates = {k: m for k, m in self._templates.items() if m is not oldest}
            self._templates[post_id] = made
        return made

    def _attachments(self, session: Session, post_id: int) -> list[AttachmentFile]:
        """The post's attachments; those that together fit the limit with their data, in order."""
        rows = session.execute(
            select(Attachment.id, Attachment.filename, Attachment.content_type, Attachment.size)
            .where(Attachment.post_id == post_id)
            .order_by(Attachment.id)
        ).all()
        room = self._lc.attachment_link_bytes
        along: set[int] = set()
        for row in rows:
            if row.size <= room:
                along.add(row.id)
                room -= row.size
        data: dict[int, bytes] = {
            attachment_id: blob
            for attachment_id, blob in session.execute(
                select(Attachment.id, Blob.data)
                .join(Blob, Blob.sha256 == Attachment.blob_sha256)
                .where(Attachment.id.in_(along))
            )
        }
        return [
            AttachmentFile(r.id, r.filename, r.content_type, r.size, data.get(r.id)) for r in rows
        ]
