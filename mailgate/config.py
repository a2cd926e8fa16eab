"""What the gateway needs to know, handed in by the composition root."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from mailgate.authenticate import DnsTxt
from models import db


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
    # How long one mail may wait for database locks before the sender is told 451 4.3.0: as
    # long as SQLite's busy timeout, which each single attempt waits anyway.
    lock_wait: float = field(default_factory=lambda: db.SQLITE_BUSY_TIMEOUT_MS / 1000)

    @property
    def authserv_id(self) -> str:
        return self.list_domain
