"""Where outgoing mail goes: an SMTP relay over kept-open connections, or a folder of .eml files."""

from __future__ import annotations

import asyncio
import os
import ssl
import time
import uuid
from collections.abc import Callable
from contextlib import suppress
from datetime import datetime
from pathlib import Path
from typing import Protocol

import aiosmtplib

from models import utcnow

TLS_MODES = ("starttls", "tls", "none")

# A relay closes idle connections after a while (Postfix: 300 s); a connection idle longer
# than this is probed with NOOP before a message is trusted to it.
_PROBE_AFTER_IDLE = 10.0


class Transport(Protocol):
    async def send(self, envelope_from: str, recipient: str, message: bytes) -> None:
        """Hand one message to one recipient; `envelope_from` "" is the null return path."""
        ...


class DeliveryFailure(Exception):
    """A message was not accepted; `code` is the SMTP reply code, None when none came."""

    def __init__(self, code: int | None, text: str) -> None:
        super().__init__(code, text)
        self.code = code
        self.text = text

    def __str__(self) -> str:
        return f"{self.code} {self.text}" if self.code else self.text


class TemporaryFailure(DeliveryFailure):
    """Worth trying again later: a 4xx reply, our sender refused, or no relay to be had."""


class PermanentFailure(DeliveryFailure):
    """Never worth trying again: a 5xx reply to the recipient or the data."""


def _refuse_line_breaks(*addresses: str) -> None:
    if any("\r" in a or "\n" in a for a in addresses):
        raise PermanentFailure(None, f"an address contains a line break: {addresses!r}")


def _failure(exc: aiosmtplib.SMTPResponseException) -> DeliveryFailure:
    if 500 <= exc.code <= 599:
        return PermanentFailure(exc.code, exc.message)
    return TemporaryFailure(exc.code, exc.message)


class SmtpRelay:
    """Sends through one relay, reusing up to `connections` open SMTP connections.

    With ``tls="starttls"`` the connection is upgraded only when the relay offers STARTTLS,
    so that a plain local relay works; a password is then never sent without TLS.
    """

    def __init__(
        self,
        host: str,
        port: int,
        *,
        tls: str = "starttls",
        username: str = "",
        password: str = "",
        timeout: float = 30,
        connections: int = 4,
        tls_context: ssl.SSLContext | None = None,
        local_hostname: str | None = None,
    ) -> None:
        if tls not in TLS_MODES:
            raise ValueError(f"tls must be starttls, tls or none, not {tls!r}")
        self.host = host
        self.port = port
        self.tls = tls
        self._username = username
        self._password = password
        self._timeout = timeout
        self._tls_context = tls_context
        self._local_hostname = local_hostname
        self._slots = asyncio.Semaphore(max(1, connections))
        self._idle: list[tuple[aiosmtplib.SMTP, float]] = []
        self._closed = False

    async def send(self, envelope_from: str, recipient: str, message: bytes) -> None:
        _refuse_line_breaks(envelope_from, recipient)
        async with self._slots:
            client = await self._checkout()
            keep = False
            try:
                await self._transaction(client, envelope_from, recipient, message)
                keep = True
            except aiosmtplib.SMTPSenderRefused as exc:
                # Refusing our own sender (530 authentication required…) is the relay's
                # set-up, not this message: retry, rather than fail every queued copy at once.
                keep = await _reset(client)
                raise TemporaryFailure(exc.code, exc.message) from exc
            except aiosmtplib.SMTPResponseException as exc:
                keep = await _reset(client)
                raise _failure(exc) from exc
            except aiosmtplib.SMTPNotSupported as exc:
                keep = True
                raise PermanentFailure(None, str(exc)) from exc
            except ValueError as exc:  # aiosmtplib refuses an address unsafe on a command line
                keep = await _reset(client)
                raise PermanentFailure(None, str(exc)) from exc
            except (aiosmtplib.SMTPException, OSError) as exc:
                raise TemporaryFailure(None, f"lost the relay {self._where}: {exc}") from exc
            finally:
                if keep and not self._closed and client.is_connected:
                    self._idle.append((client, time.monotonic()))
                else:
                    client.close()

    async def close(self) -> None:
        """Say QUIT on every idle connection; connections in use close when their send ends."""
        self._closed = True
        idle, self._idle = self._idle, []
        for client, _ in idle:
            transport = client.transport
            with suppress(aiosmtplib.SMTPException, OSError):
                await client.quit()
            client.close()
            if isinstance(transport, asyncio.WriteTransport):
                # A TLS transport closes its socket only after the peer's close_notify; a
                # loop that ends first leaks the socket. QUIT was answered: nothing is lost.
                transport.abort()

    @property
    def _where(self) -> str:
        return f"{self.host}:{self.port}"

    async def _checkout(self) -> aiosmtplib.SMTP:
        while self._idle:
            client, since = self._idle.pop()
            if not client.is_connected:
                client.close()
                continue
            if time.monotonic() - since < _PROBE_AFTER_IDLE:
                return client
            try:
                await client.noop()
                return client
            except (aiosmtplib.SMTPException, OSError):
                client.close()
        return await self._connect()

    async def _connect(self) -> aiosmtplib.SMTP:
        client = aiosmtplib.SMTP(
            hostname=self.host,
            port=self.port,
            timeout=self._timeout,
            use_tls=self.tls == "tls",
            start_tls=None if self.tls == "starttls" else False,
            tls_context=self._tls_context,
            local_hostname=self._local_hostname,
        )
        try:
            await client.connect()
            if client.is_ehlo_or_helo_needed:
                await client.ehlo()
            if self._username:
                if self.tls != "none" and client.get_transport_info("sslcontext") is None:
                    raise TemporaryFailure(
                        None, f"the relay {self._where} offers no STARTTLS; no password in clear"
                    )
                await client.login(self._username, self._password)
        except TemporaryFailure:
            client.close()
            raise
        except (aiosmtplib.SMTPException, OSError) as exc:
            client.close()
            code = exc.code if isinstance(exc, aiosmtplib.SMTPResponseException) else None
            raise TemporaryFailure(code, f"cannot use the relay {self._where}: {exc}") from exc
        except BaseException:
            client.close()
            raise
        return client

    async def _transaction(
        self, client: aiosmtplib.SMTP, envelope_from: str, recipient: str, message: bytes
    ) -> None:
        options = []
        if client.supports_extension("size"):
            options.append(f"SIZE={len(message)}")
        if not message.isascii() and client.supports_extension("8bitmime"):
            options.append("BODY=8BITMIME")
        encoding = "ascii"
        if not (envelope_from + recipient).isascii():
            if not client.supports_extension("smtputf8"):
                raise aiosmtplib.SMTPNotSupported(
                    f"the relay {self._where} does not offer SMTPUTF8, needed for {recipient}"
                )
            options.append("SMTPUTF8")
            encoding = "utf-8"
        await client.mail(envelope_from, options=options, encoding=encoding)
        await client.rcpt(recipient, encoding=encoding)
        await client.data(message)


async def _reset(client: aiosmtplib.SMTP) -> bool:
    """RSET after a refusal so the connection can carry the next message; False if it broke."""
    try:
        await client.rset()
    except (aiosmtplib.SMTPException, OSError):
        return False
    return client.is_connected


class EmlDirectory:
    """Writes each message into a folder as `<UTC time>-<random>.eml` instead of sending it.

    A file holds two envelope lines, ``X-Envelope-From: <…>`` and ``X-Envelope-To: <…>``,
    then the exact bytes a relay would have received (signature included); `read_eml`
    splits them again. Files appear whole: each is written under a dot-name and renamed.
    """

    def __init__(self, path: Path | str, *, clock: Callable[[], datetime] = utcnow) -> None:
        self.path = Path(path)
        self._clock = clock

    async def send(self, envelope_from: str, recipient: str, message: bytes) -> None:
        _refuse_line_breaks(envelope_from, recipient)
        try:
            await asyncio.to_thread(self.write, envelope_from, recipient, message)
        except OSError as exc:
            raise TemporaryFailure(None, f"cannot write to {self.path}: {exc}") from exc

    def write(self, envelope_from: str, recipient: str, message: bytes) -> Path:
        self.path.mkdir(parents=True, exist_ok=True)
        name = f"{self._clock():%Y%m%dT%H%M%S.%fZ}-{uuid.uuid4().hex[:12]}.eml"
        final, temporary = self.path / name, self.path / f".{name}.tmp"
        newline = b"\r\n" if message[: message.find(b"\n") + 1].endswith(b"\r\n") else b"\n"
        envelope = (
            f"X-Envelope-From: <{envelope_from}>".encode() + newline
            + f"X-Envelope-To: <{recipient}>".encode() + newline
        )  # fmt: skip
        try:
            with temporary.open("xb") as out:
                out.write(envelope + message)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temporary, final)
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise
        return final


def read_eml(path: Path) -> tuple[str, str, bytes]:
    """The envelope sender ("" for the null path), recipient and message of an EmlDirectory file."""
    data = path.read_bytes()
    lines = data.split(b"\n", 2)
    if len(lines) < 3 or not lines[0].startswith(b"X-Envelope-From: <"):
        raise ValueError(f"{path} was not written by EmlDirectory")
    sender = lines[0].rstrip(b"\r").decode().removeprefix("X-Envelope-From: <").removesuffix(">")
    recipient = lines[1].rstrip(b"\r").decode().removeprefix("X-Envelope-To: <").removesuffix(">")
    return sender, recipient, lines[2]
