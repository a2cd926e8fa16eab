"""A multipart/alternative message encoded once, with a hole for what differs per member.

Quoted-printable encodes line by line, so the lines without the hole are encoded once and
only the few lines with it again for each member: building 17,000 copies of a long digest
costs little more than their headers.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from email.message import EmailMessage
from email.policy import SMTP

from markupsafe import escape

from mailgate.outbound.compose import encode_with_hole, qp


@dataclass(frozen=True)
class _Body:
    """A body split at the lines that hold the hole: encoded chunks and raw lines in turn."""

    chunks: tuple[bytes | str, ...]
    hole: str

    @classmethod
    def of(cls, text: str, hole: str) -> _Body:
        if not text.endswith("\n"):
            text += "\n"
        return cls(encode_with_hole(text, hole), hole)

    def encode(self, value: str) -> bytes:
        return b"".join(
            chunk if isinstance(chunk, bytes) else qp(chunk.replace(self.hole, value))
            for chunk in self.chunks
        )


@dataclass(frozen=True)
class Alternative:
    """Text and HTML as one multipart/alternative body; `body(value)` fills the hole."""

    text: _Body
    html: _Body
    boundary: str

    @classmethod
    def of(cls, text: str, html: str, hole: str) -> Alternative:
        # "==" never occurs in quoted-printable output, so the boundary cannot either.
        tag = hashlib.sha256((text + html).encode("utf-8")).hexdigest()[:24]
        return cls(_Body.of(text, hole), _Body.of(html, hole), f"=={tag}==")

    @property
    def headers(self) -> bytes:
        return (
            b"MIME-Version: 1.0\r\n"
            b'Content-Type: multipart/alternative; boundary="' + self.boundary.encode() + b'"\r\n'
        )

    def body(self, value: str) -> bytes:
        """The body with `value` in the hole: as is in the text, HTML-escaped in the HTML."""
        boundary = self.boundary.encode()
        part = (
            b'Content-Type: text/%s; charset="utf-8"\r\n'
            b"Content-Transfer-Encoding: quoted-printable\r\n\r\n"
        )
        return b"".join(
            (
                b"--" + boundary + b"\r\n",
                part % b"plain",
                self.text.encode(value),
                b"\r\n--" + boundary + b"\r\n",
                part % b"html",
                self.html.encode(str(escape(value))),
                b"\r\n--" + boundary + b"--\r\n",
            )
        )


def header_block(message: EmailMessage) -> bytes:
    """The header fields of a message without a body, folded and encoded for SMTP."""
    return message.as_bytes(policy=SMTP).removesuffix(b"\r\n\r\n") + b"\r\n"
