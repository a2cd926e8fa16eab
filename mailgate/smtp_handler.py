"""The aiosmtpd handler: turns SMTP commands into pipeline calls and verdicts into replies."""

from __future__ import annotations

import logging
import re
import time
from collections import defaultdict, deque
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Protocol

from mailgate import replies
from mailgate.inbound import Inbound
from mailgate.replies import Reply
from mailgate.verdict import Verdict

log = logging.getLogger("delapost.smtp")

_BARE_LF = re.compile(rb"(?<!\r)\n")


class Gateway(Protocol):
    """What the session needs from the pipeline; the pipeline owns the database."""

    async def check_recipient(self, address: str) -> Reply | None: ...

    async def deliver(self, inbound: Inbound) -> Verdict: ...


class Limits:
    """Per-client limits: messages a minute (0: none) and recipients a message."""

    def __init__(
        self,
        *,
        max_recipients: int = 50,
        max_messages_per_minute: int = 600,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_recipients = max_recipients
        self.max_messages_per_minute = max_messages_per_minute
        self._clock = clock
        self._recent: defaultdict[str, deque[float]] = defaultdict(deque)

    def allow_message(self, client: str) -> bool:
        now = self._clock()
        recent = self._recent[client]
        while recent and recent[0] < now - 60:
            recent.popleft()
        if self.max_messages_per_minute and len(recent) >= self.max_messages_per_minute:
            return False
        recent.append(now)
        return True


def _client(session: Any) -> str:
    peer = session.peer
    return str(peer[0]) if isinstance(peer, tuple) else str(peer)


class Handler:
    def __init__(
        self,
        gateway: Gateway,
        *,
        limits: Limits | None = None,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.gateway = gateway
        self.limits = limits or Limits()
        self.now = now

    async def handle_MAIL(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        if not self.limits.allow_message(_client(session)):
            log.warning("too many messages from %s", _client(session))
            return str(replies.TOO_MANY_MESSAGES)
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 2.1.0 OK"

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        if len(envelope.rcpt_tos) >= self.limits.max_recipients:
            return str(replies.TOO_MANY_RECIPIENTS)
        refusal = await self.gateway.check_recipient(address)
        if refusal is not None:
            log.info("RCPT %s refused from %s: %s", address, _client(session), refusal.status)
            return str(refusal)
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(options)
        return str(replies.RECIPIENT_OK)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        data: bytes = envelope.original_content or b""
        if _BARE_LF.search(data):
            log.info("DATA from %s refused: bare LF", _client(session))
            return str(replies.BARE_LF)
        if not envelope.rcpt_tos:
            return str(replies.NO_RECIPIENTS)
        inbound = Inbound(
            mail_from=envelope.mail_from or "",
            rcpt_tos=tuple(envelope.rcpt_tos),
            data=data,
            peer=_client(session),
            received_at=self.now(),
        )
        try:
            verdict = await self.gateway.deliver(inbound)
        except Exception:
            # Caught here rather than in handle_exception, so that aiosmtpd also resets the
            # transaction and the sender may go on with the next mail.
            log.exception("DATA from %s failed", inbound.peer)
            return str(replies.TRY_LATER)
        return str(verdict.reply)

    async def handle_exception(self, error: BaseException) -> str:
        # aiosmtpd would answer "500 Error: (Class) text": permanent and leaking internals.
        # Our own failure is always temporary for the sender; their server retries.
        log.error("SMTP session failed", exc_info=error)
        return str(replies.TRY_LATER)
