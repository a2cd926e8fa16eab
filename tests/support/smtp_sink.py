"""A real SMTP server on a free loopback port that keeps what it receives, for tests."""

from __future__ import annotations

import asyncio
import socket
import ssl
import threading
import time
from collections import deque
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Literal

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP

Stage = Literal["mail", "rcpt", "data"]


@dataclass(frozen=True)
class Received:
    envelope_from: str  # "" for the null return path
    rcpt_tos: tuple[str, ...]
    data: bytes  # as sent, dot-unstuffed, CRLF line ends
    peer: tuple[str, int]  # one per connection the client opened
    tls: bool  # whether the connection had been upgraded with STARTTLS


def free_port() -> int:
    # aiosmtpd's Controller cannot start on port 0 (it connects to its own port to check).
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class _Server(SMTP):
    def __init__(self, handler: Any, *, live: set[SMTP], **kwargs: Any) -> None:
        super().__init__(handler, **kwargs)
        self._live = live

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._live.add(self)
        super().connection_made(transport)

    def connection_lost(self, error: Exception | None) -> None:
        super().connection_lost(error)
        self._live.discard(self)


class _Controller(Controller):
    def __init__(self, handler: Any, **kwargs: Any) -> None:
        super().__init__(handler, **kwargs)
        self.live: set[SMTP] = set()

    def factory(self) -> SMTP:
        return _Server(self.handler, live=self.live, **self.SMTP_kwargs)


async def _drained(live: set[SMTP]) -> None:
    for _ in range(200):
        if not live:
            break
        await asyncio.sleep(0.01)
    for _ in range(3):
        await asyncio.sleep(0)


class _Handler:
    def __init__(self, sink: SmtpSink) -> None:
        self.sink = sink

    async def handle_MAIL(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        reply = self.sink._scripted("mail")
        if reply is not None:
            return reply
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        reply = self.sink._scripted("rcpt")
        if reply is not None:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        reply = self.sink._scripted("data")
        if reply is not None:
            return reply
        with self.sink._lock:
            self.sink.received.append(
                Received(
                    "" if envelope.mail_from in (None, "<>") else envelope.mail_from,
                    tuple(envelope.rcpt_tos),
                    envelope.content,
                    tuple(session.peer[:2]),
                    session.ssl is not None,
                )
            )
        return "250 2.0.0 Queued"


class SmtpSink:
    """``with SmtpSink() as sink:`` serves on ``sink.host``/``sink.port`` until the block ends.

    Every accepted message lands in ``received``. ``answer_next("451 4.3.0 Try later", 2)``
    makes the next two messages get that reply instead, at DATA (or at MAIL or RCPT with
    ``at="mail"``/``"rcpt"``); ``refused`` counts the messages so answered. With ``tls_context`` the
    server offers STARTTLS; other keywords go to aiosmtpd's ``SMTP`` (e.g. ``timeout``).
    """

    def __init__(self, *, tls_context: ssl.SSLContext | None = None, **smtp: Any) -> None:
        self.host = "127.0.0.1"
        self.port = free_port()
        self.received: list[Received] = []
        self.refused = 0
        self._lock = threading.Lock()
        self._script: deque[tuple[Stage, str]] = deque()
        if tls_context is not None:
            smtp["tls_context"] = tls_context
        self._controller = _Controller(
            _Handler(self), hostname=self.host, port=self.port, ready_timeout=5, **smtp
        )

    def answer_next(self, reply: str, times: int = 1, *, at: Stage = "data") -> None:
        with self._lock:
            self._script.extend([(at, reply)] * times)

    def wait_for(self, count: int, timeout: float = 5.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        while len(self.received) < count and time.monotonic() < deadline:
            time.sleep(0.01)
        return list(self.received)

    def _scripted(self, stage: Stage) -> str | None:
        with self._lock:
            if self._script and self._script[0][0] == stage:
                self.refused += 1
                return self._script.popleft()[1]
        return None

    def __enter__(self) -> SmtpSink:
        self._controller.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # Let the server finish closing what clients hung up (a STARTTLS connection closes
        # its plain socket a loop turn later), or the sockets leak into ResourceWarnings.
        loop = self._controller.loop
        asyncio.run_coroutine_threadsafe(_drained(self._controller.live), loop).result(5)
        self._controller.stop()
