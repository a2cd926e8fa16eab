"""TLS both ways: STARTTLS into the gateway, and STARTTLS with a login out to the relay."""

from __future__ import annotations

import asyncio
import smtplib
import ssl
from email.message import EmailMessage
from email.policy import SMTP
from pathlib import Path
from typing import Any

import pytest
import trustme
from aiosmtpd.smtp import AuthResult, LoginPassword

from delapost.database import NotReady
from delapost.serve import inbound_tls
from delapost.settings import load
from mailgate.outbound import SmtpRelay, TemporaryFailure
from tests.support.forum import running_forum, set_up_forum, write_settings
from tests.support.smtp_sink import SmtpSink

MESSAGE = b"From: a@forum.localhost\r\nTo: b@molndal.se\r\nSubject: test\r\n\r\nHej\r\n"


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


def client_context(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context()
    ca.configure_trust(context)
    return context


def test_the_gateway_offers_starttls_and_takes_a_post_over_it(
    tmp_path: Path, ca: trustme.CA
) -> None:
    cert = ca.issue_cert("127.0.0.1", "forum.localhost")
    cert.private_key_and_cert_chain_pem.write_to_path(str(tmp_path / "gateway.pem"))
    config = set_up_forum(
        tmp_path, sender_auth="none", tls_cert_file="gateway.pem", tls_key_file="gateway.pem"
    )
    message = EmailMessage()
    message["From"] = "Anna <anna.andersson@molndal.se>"
    message["To"] = "maltider@forum.localhost"
    message["Subject"] = "Krypterad fråga"
    message.set_content("Går det fram över TLS?")
    with running_forum(config) as (forum, _), smtplib.SMTP(*forum.smtp_address) as smtp:
        smtp.ehlo("mx.molndal.se")
        assert smtp.has_extn("starttls")
        smtp.starttls(context=client_context(ca))
        smtp.ehlo("mx.molndal.se")
        smtp.mail("anna.andersson@molndal.se")
        smtp.rcpt("maltider@forum.localhost")
        code, _ = smtp.data(message.as_bytes(policy=SMTP))
        assert code == 250


def test_a_missing_certificate_stops_serve_with_its_setting_named(tmp_path: Path) -> None:
    config = write_settings(tmp_path, tls_cert_file="nope.pem", tls_key_file="nope.pem")
    with pytest.raises(NotReady, match="tls_cert_file"):
        inbound_tls(load(config, environ={}))


class Logins:
    """An authenticator for the sink that knows one account and remembers who logged in."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    def __call__(
        self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any
    ) -> AuthResult:
        ok = isinstance(data, LoginPassword) and (data.login, data.password) == (
            b"delapost",
            b"hemligt",
        )
        if ok:
            self.seen.append(data.login.decode())
        return AuthResult(success=ok)


def relay_sink(ca: trustme.CA, logins: Logins) -> SmtpSink:
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server)
    return SmtpSink(
        tls_context=server,
        require_starttls=True,
        auth_required=True,
        auth_require_tls=True,
        authenticator=logins,
    )


async def send(relay: SmtpRelay) -> None:
    """One copy through `relay`, then close it."""
    try:
        await relay.send("maltider-bounces+b=molndal.se@forum.localhost", "b@molndal.se", MESSAGE)
    finally:
        await relay.close()


def test_copies_go_to_a_relay_that_requires_tls_and_a_login(ca: trustme.CA) -> None:
    logins = Logins()

    with relay_sink(ca, logins) as sink:
        host, port = sink.host, sink.port
        asyncio.run(
            send(
                SmtpRelay(
                    host,
                    port,
                    tls="starttls",
                    username="delapost",
                    password="hemligt",
                    tls_context=client_context(ca),
                )
            )
        )
    assert logins.seen == ["delapost"]
    assert len(sink.received) == 1 and sink.received[0].tls


def test_a_wrong_password_keeps_the_copy_for_later(ca: trustme.CA) -> None:
    logins = Logins()

    with relay_sink(ca, logins) as sink:
        relay = SmtpRelay(
            sink.host,
            sink.port,
            tls="starttls",
            username="delapost",
            password="fel",
            timeout=3,
            tls_context=client_context(ca),
        )
        with pytest.raises(TemporaryFailure):
            asyncio.run(send(relay))
    assert sink.received == [] and logins.seen == []
