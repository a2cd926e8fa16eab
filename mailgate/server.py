"""Start the SMTP gateway on the running asyncio loop."""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections import Counter
from dataclasses import dataclass, field
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
        self,
        handler: Handler,
        *,
        connections: Counter[str],
        max_connections: int,
        sessions: set[GatewaySMTP],
        **kw: Any,
    ) -> None:
        super().__init__(handler, **kw)
        self._sessions = sessions
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
            self._sessions.add(self)
        super().connection_made(transport)

    def connection_lost(self, error: Exception | None) -> None:
        if self._counted is not None:
            self._connections[self._counted] -= 1
            if self._connections[self._counted] <= 0:
                del self._connections[self._counted]
            self._counted = None
            self._sessions.discard(self)
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


@dataclass
class Listener:
    """The listening gateway and its open sessions."""

    server: asyncio.Server
    sessions: set[GatewaySMTP] = field(default_factory=set)

    @property
    def sockets(self) -> tuple[Any, ...]:
        return tuple(self.server.sockets)

    async def close(self) -> None:
        """Stop listening and end the sessions still open (Server.close leaves them on 3.11)."""
        self.server.close()
        for session in list(self.sessions):
            if session.transport is not None:
                session.transport.close()
        await self.server.wait_closed()
        await asyncio.sleep(0)  # let each closed session's connection_lost run


async def start(
    handler: Handler,
    host: str,
    port: int,
    *,
    hostname: str,
    max_message_bytes: int,
    tls_context: ssl.SSLContext | None = None,
    max_connections_per_client: int = 20,
) -> Listener:
    """Listen for SMTP on host:port; close the returned listener to stop."""
    loop = asyncio.get_running_loop()
    connections: Counter[str] = Counter()
    sessions: set[GatewaySMTP] = set()

    def factory() -> GatewaySMTP:
        return GatewaySMTP(
            handler,
            connections=connections,
            max_connections=max_connections_per_client,
            sessions=sessions,
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
    return Listener(server, sessions)
