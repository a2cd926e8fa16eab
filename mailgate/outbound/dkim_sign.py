"""Sign outgoing copies with DKIM (RFC 6376, rsa-sha256, relaxed/relaxed) for our list domain."""

from __future__ import annotations

import base64
import hashlib
import re
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

# Signed when present, each listed once more than it occurs so that none can be added
# after signing without breaking the signature ("over-signing", RFC 6376 §8.15).
SIGNED_HEADERS: tuple[str, ...] = (
    "from",
    "subject",
    "date",
    "message-id",
    "to",
    "cc",
    "reply-to",
    "in-reply-to",
    "references",
    "list-id",
    "list-post",
    "list-help",
    "list-subscribe",
    "list-unsubscribe",
    "list-unsubscribe-post",
    "list-archive",
    "list-owner",
    "mime-version",
    "content-type",
)
_SIGNED = frozenset(SIGNED_HEADERS)

_LINE_END = re.compile(rb"\r?\n")
_FIELD_NAME = re.compile(rb"([\x21-\x39\x3b-\x7e]+)[ \t]*:")
_WSP_TO_SQUEEZE = re.compile(rb"\t[ \t]*| [ \t]+")  # every WSP run but a lone space
_BLANK_LINE = re.compile(rb"\n\r?\n")
_MAX_LINE = 76
_B64_CHUNK = 64


class DkimSigner:
    """Signs messages with one RSA key; the key is parsed once and reused for every copy."""

    def __init__(
        self,
        *,
        domain: str,
        selector: str,
        private_key_pem: bytes,
        clock: Callable[[], float] = time.time,
    ) -> None:
        key = serialization.load_pem_private_key(private_key_pem, password=None)
        if not isinstance(key, rsa.RSAPrivateKey):
            raise ValueError("the DKIM key must be an RSA private key")
        if key.key_size < 1024:
            raise ValueError(f"the DKIM key is too small ({key.key_size} bits)")
        self.domain = domain
        self.selector = selector
        self._key = key
        self._clock = clock
        self._d = _dns_label_bytes(domain)
        self._s = _dns_label_bytes(selector)

    def sign(self, message: bytes) -> bytes:
        """Return ``message`` with a ``DKIM-Signature:`` header field prepended."""
        linesep = b"\r\n" if b"\r\n" in message[: message.find(b"\n") + 1] else b"\n"
        if message and not message.endswith(b"\n"):
            # SMTP clients add the final line break anyway (RFC 5321 §4.1.1.4); add it here
            # so the body we hash is the body the receiver sees.
            message += linesep
        head_end = _end_of_header(message)
        headers = _parse_header_fields(_LINE_END.split(message[:head_end]))
        body_hash = hashlib.sha256(_relaxed_body(message[head_end:])).digest()

        present = [name for name, _ in headers if name in _SIGNED]
        if "from" not in present:
            raise ValueError("a message without a From header cannot be DKIM-signed")
        h_names = present + list(dict.fromkeys(present))

        tags = [
            b"v=1;",
            b"a=rsa-sha256;",
            b"c=relaxed/relaxed;",
            b"d=" + self._d + b";",
            b"s=" + self._s + b";",
            b"t=%d;" % int(self._clock()),
        ]
        pieces: list[tuple[bytes, bytes]] = [(b" " if i else b"", t) for i, t in enumerate(tags)]
        for i, name in enumerate(h_names):
            text = name.encode("ascii") + (b";" if i == len(h_names) - 1 else b":")
            pieces.append((b" " if i == 0 else b"", b"h=" + text if i == 0 else text))
        pieces.append((b" ", b"bh=" + base64.b64encode(body_hash) + b";"))
        pieces.append((b" ", b"b="))
        folder = _Folder(start=len(b"DKIM-Signature: "), linesep=linesep)
        folder.extend(pieces)
        unsigned_value = folder.value()

        signed = bytearray()
        for name, value in _select(headers, h_names):
            signed += name.encode("ascii") + b":" + _relaxed_value(value) + b"\r\n"
        signed += b"dkim-signature:" + _relaxed_value(unsigned_value)
        signature = base64.b64encode(
            self._key.sign(bytes(signed), padding.PKCS1v15(), hashes.SHA256())
        )
        first = _MAX_LINE - folder.column  # fill the rest of the line that holds "b="
        first = first if first >= 8 else 0
        folder.extend([(b"", signature[:first])] if first else [])
        folder.extend(
            (b"", signature[i : i + _B64_CHUNK]) for i in range(first, len(signature), _B64_CHUNK)
        )
        return b"DKIM-Signature: " + folder.value() + linesep + message


def load_signer(key_file: Path, *, domain: str, selector: str) -> DkimSigner | None:
    """Return a signer for ``key_file``, or None when there is no key (signing is off)."""
    try:
        pem = key_file.read_bytes()
    except FileNotFoundError:
        return None
    return DkimSigner(domain=domain, selector=selector, private_key_pem=pem)


class _Folder:
    """Joins header value pieces, folding before a piece when the line would grow too long."""

    def __init__(self, *, start: int, linesep: bytes) -> None:
        self._parts: list[bytes] = []
        self.column = start
        self._linesep = linesep

    def extend(self, pieces: Iterable[tuple[bytes, bytes]]) -> None:
        for separator, text in pieces:
            if self._parts and self.column + len(separator) + len(text) > _MAX_LINE:
                # A fold is CRLF + WSP; relaxed canonicalisation hashes it as one space,
                # which the DKIM-Signature grammar allows between tags, around ':' in h=
                # and inside b=.
                self._parts.append(self._linesep + b"\t" + text)
                self.column = 1 + len(text)
            else:
                self._parts.append(separator + text)
                self.column += len(separator) + len(text)

    def value(self) -> bytes:
        return b"".join(self._parts)


def _dns_label_bytes(name: str) -> bytes:
    name = name.strip().rstrip(".")
    if not name or any(c in name for c in "; \t\r\n"):
        raise ValueError(f"not a usable DKIM domain or selector: {name!r}")
    return name.encode("idna") if not name.isascii() else name.encode("ascii")


def _end_of_header(message: bytes) -> int:
    """Offset of the first body byte, after the blank line; the end when there is no body."""
    if message.startswith((b"\r\n", b"\n")):
        raise ValueError("the message has no header fields")
    match = _BLANK_LINE.search(message)
    return len(message) if match is None else match.end()


def _parse_header_fields(lines: Sequence[bytes]) -> list[tuple[str, bytes]]:
    """Header lines (without line breaks) as (lower-case name, unfolded raw value) pairs."""
    headers: list[tuple[str, list[bytes]]] = []
    for line in lines:
        if not line:
            continue  # the blank line that ends the header, or the split after the last break
        if line[0] in b" \t":
            if not headers:
                raise ValueError("the message starts with a continuation line")
            headers[-1][1].append(line)
            continue
        match = _FIELD_NAME.match(line)
        if match is None:
            raise ValueError(f"not a header field: {line[:40]!r}")
        headers.append((match.group(1).decode("ascii").lower(), [line[match.end() :]]))
    return [(name, b"".join(parts)) for name, parts in headers]


def _select(headers: Sequence[tuple[str, bytes]], names: Sequence[str]) -> list[tuple[str, bytes]]:
    """Pick fields for h= as verifiers do: a repeated name takes the next one up (§5.4.2)."""
    by_name: dict[str, list[bytes]] = {}
    for name, value in headers:
        by_name.setdefault(name, []).append(value)
    selected: list[tuple[str, bytes]] = []
    for name in names:
        values = by_name.get(name)
        if values:
            selected.append((name, values.pop()))
    return selected


def _relaxed_value(value: bytes) -> bytes:
    """RFC 6376 §3.4.2: unfold, squeeze WSP runs to one space, trim both ends."""
    if b"\n" in value:
        value = _LINE_END.sub(b"", value)
    if b"\t" in value or b"  " in value:
        value = _WSP_TO_SQUEEZE.sub(b" ", value)
    return value.strip(b" \t")


def _relaxed_body(body: bytes) -> bytes:
    """RFC 6376 §3.4.4: squeeze WSP runs, drop WSP at line ends and empty lines at the end."""
    # Plain bytes methods where they do: a regex pass over every space of a 4 KB body costs
    # more than the RSA signature.
    if b"\t" in body or b"  " in body:
        body = _WSP_TO_SQUEEZE.sub(b" ", body)
    # Line breaks are CRLF or a bare LF, as verifiers split lines (a lone CR is content).
    body = body.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n").replace(b" \r\n", b"\r\n")
    end = len(body)
    while body.endswith(b"\r\n", 0, end):
        end -= 2
    return body[:end] + b"\r\n" if end else b""
