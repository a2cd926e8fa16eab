"""The state one mail carries through the pipeline, and the trail of its decisions."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from sqlalchemy import Connection
from sqlalchemy.orm import Session

from mailgate.addresses import Recipient
from mailgate.authenticate import AuthResult
from mailgate.config import GatewayConfig
from mailgate.inbound import Inbound
from mailgate.parse import ParsedMessage
from mailgate.reply_text import ReplyText, split_reply
from models import Topic

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
    # Ids, not objects: the steps that store a post write with Core statements, not the ORM.
    organization_id: int | None = None  # the sender's organisation in the registry
    member_id: int | None = None  # the sender as a member, when they are one
    thread_id: int | None = None  # the thread the mail joins, once routed or stored
    parent_id: int | None = None  # the post it answers
    post_id: int | None = None  # the post it became
    raw_id: int | None = None  # the RawMessage row once the bytes are stored
    trail: list[tuple[str, str]] = field(default_factory=list)
    _reply: ReplyText | None = field(default=None, repr=False)
    _connection: Connection | None = field(default=None, repr=False)

    def connection(self) -> Connection:
        """The session's connection, for the steps' Core statements (asked for once)."""
        if self._connection is None:
            self._connection = self.session.connection()
        return self._connection

    def reply_text(self) -> ReplyText:
        """The text split into what is new, the quote and the signature (done once)."""
        if self._reply is None:
            self._reply = split_reply(self.parsed.text)
        return self._reply

    def note(self, step: str, detail: str) -> None:
        """Remember why; the trail is logged and stored with the Message-ID."""
        self.trail.append((step, detail))
        log.debug("<%s> %s: %s", self.message_id, step, detail)
