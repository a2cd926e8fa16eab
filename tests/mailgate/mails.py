"""Mails for gateway tests: the .eml fixtures, Swedish messages built to order, DKIM signatures."""

from __future__ import annotations

from email.message import EmailMessage
from email.policy import SMTP
from pathlib import Path

import dkim

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "mail"
TOPIC_ADDRESS = "maltider@forum.localhost"
SELECTOR = "sel2026"

# The Message-ID of outlook-question.eml, which the Gmail reply references.
QUESTION_ID = "DB9PR05MB8201A1B2C3D4E5F6@DB9PR05MB8201.eurprd05.prod.outlook.com"


def fixture(name: str) -> bytes:
    """The bytes of tests/fixtures/mail/NAME.eml, CRLF line ends as on the wire."""
    return (FIXTURES / f"{name}.eml").read_bytes()


def mail(
    sender: str,
    subject: str,
    body: str,
    *,
    message_id: str | None = None,
    to: str = TOPIC_ADDRESS,
    attachments: tuple[tuple[str, str, bytes], ...] = (),
    **headers: str,
) -> bytes:
    """A plain Swedish mail; `headers` like In_Reply_To="<…>" are added as written."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = "Tue, 03 Mar 2026 10:12:00 +0100"
    if message_id is not None:
        message["Message-ID"] = f"<{message_id}>"
    for name, value in headers.items():
        message[name.replace("_", "-")] = value
    message.set_content(body, cte="quoted-printable")
    for filename, content_type, data in attachments:
        maintype, subtype = content_type.split("/")
        message.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    return message.as_bytes(policy=SMTP)


def sign(data: bytes, domain: str, private_key: bytes, selector: str = SELECTOR) -> bytes:
    """`data` with a DKIM-Signature of `domain` on top, as the sender's mail server adds it."""
    signature: bytes = dkim.sign(
        data,
        selector.encode(),
        domain.encode(),
        private_key,
        include_headers=[b"from", b"to", b"subject", b"date", b"message-id"],
    )
    return signature + data
