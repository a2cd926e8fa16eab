"""Which forum addresses exist: the answer to RCPT TO, given before any mail data is sent."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailgate import addresses, replies
from mailgate.addresses import Kind
from mailgate.config import GatewayConfig
from mailgate.confirm import find_token
from mailgate.replies import Reply
from models import Post, Topic
from models.tokens import read_reply_key


def check_recipient(session: Session, address: str, config: GatewayConfig) -> Reply | None:
    """None when mail to `address` may be sent; otherwise the refusal (550 5.1.1)."""
    recipient = addresses.parse(address, config.list_domain)
    if recipient is None:
        return replies.UNKNOWN_RECIPIENT
    topic_id = session.scalar(select(Topic.id).where(Topic.slug == recipient.topic))
    if topic_id is None:
        return replies.UNKNOWN_RECIPIENT
    if recipient.kind is Kind.REPLY:
        post_id = read_reply_key(config.secret, recipient.extension)
        if post_id is None:
            return replies.UNKNOWN_RECIPIENT  # a guessed or garbled key
        post_topic = session.scalar(select(Post.topic_id).where(Post.id == post_id))
        # A key for a post since removed still reaches its topic; one for another topic's
        # post was put together by hand.
        if post_topic is not None and post_topic != topic_id:
            return replies.UNKNOWN_RECIPIENT
    elif recipient.kind is Kind.CONFIRM:
        confirmation = find_token(session, recipient.extension)
        if confirmation is None or confirmation.topic_id not in (None, topic_id):
            return replies.UNKNOWN_RECIPIENT
    # Bounce addresses (VERP or probe) are taken whatever follows the "+": refusing a report
    # at RCPT would only make a second one, and an unreadable one is dropped later anyway.
    return None
