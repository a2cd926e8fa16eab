"""What the gateway needs to know, handed in by the composition root."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from mailgate.authenticate import DnsTxt


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class GatewayConfig:
    list_domain: str
    base_url: str
    secret: bytes
    sender_auth: str = "dmarc"  # "dmarc" or "none"
    trusted_authserv_ids: tuple[str, ...] = ()
    dns_txt: DnsTxt | None = None
    max_attachment_bytes: int = 25 * 1024 * 1024
    non_staff_prefixes: tuple[str, ...] = ("student.", "elev.", "edu.")
    clock: Callable[[], datetime] = field(default=_utcnow)

    @property
    def authserv_id(self) -> str:
        return self.list_domain
