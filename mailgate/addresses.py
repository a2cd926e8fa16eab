"""Forum addresses: `t@D`, `t+KEY@D`, `t-join@D`… read into a Recipient, and made."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Kind(enum.StrEnum):
    POST = "post"
    REPLY = "reply"
    JOIN = "join"
    LEAVE = "leave"
    REQUEST = "request"
    OWNER = "owner"
    CONFIRM = "confirm"
    BOUNCES = "bounces"


# Suffixes a topic slug may not end with, or its addresses would be ambiguous.
RESERVED_SUFFIXES = tuple(f"-{k.value}" for k in Kind if k not in {Kind.POST, Kind.REPLY})
_PLAIN = {Kind.JOIN, Kind.LEAVE, Kind.REQUEST, Kind.OWNER}
# The owner address takes an extension too: an owner's decision on a held post.
_WITH_EXTENSION = {Kind.CONFIRM, Kind.BOUNCES, Kind.OWNER}


@dataclass(frozen=True)
class Recipient:
    kind: Kind
    topic: str
    extension: str = ""  # the reply key, confirmation token or VERP part


def parse(address: str, list_domain: str) -> Recipient | None:
    """The recipient an address names, or None when it is not one of ours."""
    local, at, domain = address.strip().strip("<>").rpartition("@")
    if not at or domain.lower().rstrip(".") != list_domain.lower() or not local:
        return None
    local = local.lower()
    base, plus, extension = local.partition("+")
    for kind in _WITH_EXTENSION:
        suffix = f"-{kind.value}"
        if base.endswith(suffix) and plus and extension:
            return Recipient(kind, base.removesuffix(suffix), extension)
    if plus:
        return Recipient(Kind.REPLY, base, extension) if extension and base else None
    for kind in _PLAIN:
        suffix = f"-{kind.value}"
        if base.endswith(suffix) and len(base) > len(suffix):
            return Recipient(kind, base.removesuffix(suffix))
    return Recipient(Kind.POST, base)


def make(kind: Kind, topic: str, list_domain: str, extension: str = "") -> str:
    if kind is Kind.POST:
        local = topic
    elif kind is Kind.REPLY:
        local = f"{topic}+{extension}"
    elif kind in _WITH_EXTENSION and extension:
        local = f"{topic}-{kind.value}+{extension}"
    else:
        local = f"{topic}-{kind.value}"
    return f"{local}@{list_domain}"


def verp_encode(address: str) -> str:
    """`anna@molndal.se` → `anna=molndal.se`, for the bounce address's extension."""
    local, _, domain = address.rpartition("@")
    return f"{local}={domain}"


def verp_decode(extension: str) -> str | None:
    local, eq, domain = extension.rpartition("=")
    return f"{local}@{domain}" if eq and local and domain else None
