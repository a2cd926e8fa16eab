"""What the pipeline decided about a mail, as a value the SMTP session turns into a reply."""

from __future__ import annotations

from dataclasses import dataclass

from mailgate import replies
from mailgate.replies import Reply


@dataclass(frozen=True)
class Accept:
    """Stored, and published or acted on."""

    detail: str = ""
    reply: Reply = replies.OK


@dataclass(frozen=True)
class Hold:
    """Stored, but waiting for a person: the sender's confirmation (`ask_sender`) or an owner."""

    detail: str = ""
    reply: Reply = replies.OK
    ask_sender: bool = False


@dataclass(frozen=True)
class Drop:
    """Accepted on the wire and deliberately discarded (auto-replies, bounces, loops)."""

    detail: str = ""
    reply: Reply = replies.OK


@dataclass(frozen=True)
class Reject:
    """Refused in the SMTP session, permanently or for now, with the reason."""

    reply: Reply
    detail: str = ""


Verdict = Accept | Hold | Drop | Reject


def name_of(verdict: Verdict) -> str:
    return type(verdict).__name__.lower()
