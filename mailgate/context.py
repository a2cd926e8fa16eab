"""The state one mail carries through the pipeline, and the trail of its decisions."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from mailgate.addresses import Recipient
from mailgate.authenticate import AuthResult
from mailgate.config import GatewayConfig
from mailgate.inbound import Inbound
from mailgate.parse import ParsedMessage
from mailgate.reply_text import ReplyText, split_reply
from models import Member, Organization, Post, Thread, Topic

log = logging.getLogger("delapost.pipeline")


@dataclass
class MailContext:
    inbound: Inbound
    parsed: ParsedMessage
    recipient: Recipient
    config: GatewayConfig
    session: Session
    message_id: str
    # The sender's proof, when it was established before the transaction began (DNS look-ups
    # and RSA checks should not keep the database waiting).
    proof: AuthResult | None = None
    topic: Topic | None = None
    organization: Organization | None = None
    member: Member | None = None
    thread: Thread | None = None
    parent: Post | None = None
    post: Post | None = None
    raw_id: int | None = None  # the RawMessage row once the bytes are stored
    trail: list[tuple[str, str]] = field(default_factory=list)
    _reply: ReplyText | None = field(default=None, repr=False)

    def reply_text(self) -> ReplyText:
        """The text split into what is new, the quote and the signature (done once)."""
        if self._reply is None:
            self._reply = split_reply(self.parsed.text)
        return self._reply

    def note(self, step: str, detail: str) -> None:
        """Remember why; the trail is logged and stored with the Message-ID."""
        self.trail.append((step, detail))
        log.debug("<%s> %s: %s", self.message_id, step, detail)
