"""The state one mail carries through the pipeline, and the trail of its decisions."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from mailgate.addresses import Recipient
from mailgate.config import GatewayConfig
from mailgate.inbound import Inbound
from mailgate.parse import ParsedMessage
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
    topic: Topic | None = None
    organization: Organization | None = None
    member: Member | None = None
    thread: Thread | None = None
    parent: Post | None = None
    post: Post | None = None
    trail: list[tuple[str, str]] = field(default_factory=list)

    def note(self, step: str, detail: str) -> None:
        """Remember why; the trail is logged and stored with the Message-ID."""
        self.trail.append((step, detail))
        log.info("<%s> %s: %s", self.message_id, step, detail)
