"""Start the SMTP gateway on the running asyncio loop."""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections import Counter
from typing import Any

from aiosmtpd.smtp import SMTP

from mailgate import replies
from mailgate.smtp_handler import Handler

log = logging.getLogger("delapost.smtp")

# aiosmtpd answers these itself; we give the same decision in our own words.
_OWN_WORDS = {
    "552 Error: Too much mail data": str(replies.TOO_BIG),
    "552 Error: message size exceeds fixed maximum message size": str(replies.TOO_BIG),
    "500 Line too long (see RFC5321 4.5.3.1.6)": str(replies.LINE_TOO_LONG),
}


class GatewaySMTP(SMTP):
    """aiosmtpd's SMTP with a cap on concurrent connections per client address."""

    def __init__(
        self, handler: Handler, *, connections: Counter[str], max_connections: int, **kw: Any
    ) -> None:
        super().__init__(handler, **kw)
        self._connections = connections
        self._max_connections = max_connections
        self._counted: str | None = None
        self._utf8_replies = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if self._counted is None:
            peer = transport.get_extra_info("peername")
            client = str(peer[0]) if isinstance(peer, tuple) else str(peer)
            if self._connections[client] >= self._max_connections:
                log.warning("too many connections from %s", client)
                if isinstance(transport, asyncio.WriteTransport):
                    line = replies.as_ascii(str(replies.TOO_MANY_CONNECTIONS))
                    transport.write(f"{line}\r\n".encode("ascii"))
                transport.close()
                return
            self._connections[client] += 1
            self._counted = client
        super().connection_made(transport)

    def connection_lost(self, error: Exception | None) -> None:
        if self._counted is not None:
            self._connections[self._counted] -= 1
            if self._connections[self._counted] <= 0:
                del self._connections[self._counted]
            self._counted = None
            super().connection_lost(error)

    async def smtp_MAIL(self, arg: str | None) -> None:
        await super().smtp_MAIL(arg)
        # Remembered for the whole transaction: aiosmtpd starts a new envelope before it
        # sends the answer to DATA.
        self._utf8_replies = bool(self.envelope is not None and self.envelope.smtp_utf8)

    async def push(self, status: str) -> None:  # type: ignore[override]  # we only push str
        line = _OWN_WORDS.get(status, status)
        if not self._utf8_replies:
            line = replies.as_ascii(line)  # RFC 6531: UTF-8 replies only after MAIL … SMTPUTF8
        await super().push(line)


async def start(
    handler: Handler,
    host: str,
    port: int,
    *,
    hostname: str,
    max_message_bytes: int,
    tls_context: ssl.SSLContext | None = None,
    max_connections_per_client: int = 20,
) -> asyncio.Server:
    """Listen for SMTP on host:port; close the returned server to stop."""
    loop = asyncio.get_running_loop()
    connections: Counter[str] = Counter()

    def factory() -> GatewaySMTP:
        return GatewaySMTP(
            handler,
            connections=connections,
            max_connections=max_connections_per_client,
            data_size_limit=max_message_bytes,
            enable_SMTPUTF8=True,
            decode_data=False,
            hostname=hostname,
            ident="delapost",
            tls_context=tls_context,
            require_starttls=False,
        )

    server = await loop.create_server(factory, host=host, port=port)
    log.info("SMTP gateway listening on %s:%d", host, port)
    return server
