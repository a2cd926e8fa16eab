"""The SMTP conversation itself: extensions, limits and replies, with the pipeline stubbed out."""

from __future__ import annotations

import smtplib
from collections.abc import Iterator

import pytest

from mailgate import replies
from mailgate.inbound import Inbound
from mailgate.replies import Reply
from mailgate.smtp_handler import Limits
from mailgate.verdict import Accept, Verdict
from tests.mailgate.gateway import smtp_gateway
from tests.mailgate.mails import mail

SENDER = "anna.andersson@molndal.se"
TOPIC = "maltider@forum.localhost"
MESSAGE = mail("Anna <anna.andersson@molndal.se>", "Hej", "Hej på er!", message_id="s@m")


class StubGateway:
    """Answers RCPT for maltider@ only and takes every mail; `fail` makes it raise."""

    def __init__(self) -> None:
        self.delivered: list[Inbound] = []
        self.fail = False

    async def check_recipient(self, address: str) -> Reply | None:
        if self.fail:
            raise RuntimeError("secret internal detail")
        return None if address.lower() == TOPIC else replies.UNKNOWN_RECIPIENT

    async def deliver(self, inbound: Inbound) -> Verdict:
        if self.fail:
            raise RuntimeError("secret internal detail")
        self.delivered.append(inbound)
        return Accept()


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def stub() -> StubGateway:
    return StubGateway()


@pytest.fixture
def address(stub: StubGateway) -> Iterator[tuple[str, int]]:
    with smtp_gateway(stub, max_message_bytes=20_000) as where:
        yield where


def test_ehlo_offers_size_8bitmime_and_smtputf8(address: tuple[str, int]) -> None:
    with smtplib.SMTP(*address, timeout=10) as smtp:
        code, _ = smtp.ehlo("mx.molndal.se")
        assert code == 250
        assert smtp.esmtp_features["size"] == "20000"
        assert "8bitmime" in smtp.esmtp_features and "smtputf8" in smtp.esmtp_features


def test_a_mail_is_taken_with_its_exact_bytes(address: tuple[str, int], stub: StubGateway) -> None:
    with smtplib.SMTP(*address, timeout=10) as smtp:
        smtp.ehlo("mx.molndal.se")
        assert smtp.mail(SENDER)[0] == 250
        assert smtp.rcpt(TOPIC) == (250, replies.as_ascii(str(replies.RECIPIENT_OK))[4:].encode())
        code, text = smtp.data(MESSAGE)
    assert code == 250 and text.startswith(b"2.0.0 ")
    (inbound,) = stub.delivered
    assert inbound.data == MESSAGE and inbound.rcpt_tos == (TOPIC,) and inbound.mail_from == SENDER


def test_unknown_address_is_refused_at_rcpt_in_ascii_unless_smtputf8(
    address: tuple[str, int],
) -> None:
    with smtplib.SMTP(*address, timeout=10) as smtp:
        smtp.ehlo("mx.molndal.se")
        smtp.mail(SENDER)
        code, text = smtp.rcpt("finnsinte@forum.localhost")
        assert code == 550 and text.startswith(b"5.1.1 ") and text.isascii()
        assert b"skriv till amnets adress" in text and b"No such forum address" in text
        smtp.rset()
        smtp.mail("åsa.öberg@växjö.se", ["SMTPUTF8"])
        code, text = smtp.rcpt("finnsinte@forum.localhost")
        assert code == 550 and "skriv till ämnets adress" in text.decode("utf-8")


def test_too_large_is_refused_when_announced_and_when_sent(address: tuple[str, int]) -> None:
    big = mail("Anna <anna.andersson@molndal.se>", "Stor", "x" * 30_000)
    with smtplib.SMTP(*address, timeout=10) as smtp:
        smtp.ehlo("mx.molndal.se")
        code, text = smtp.mail(SENDER, ["SIZE=30000"])
        assert (code, text[:6]) == (552, b"5.3.4 ")
        smtp.rset()
        smtp.mail(SENDER)
        smtp.rcpt(TOPIC)
        code, text = smtp.data(big)
        assert (code, text[:6]) == (552, b"5.3.4 ")
        assert b"Meddelandet ar for stort" in text and b"Message too big" in text


def send_raw_data(smtp: smtplib.SMTP, payload: bytes) -> tuple[int, bytes]:
    """DATA with `payload` sent exactly as given (smtplib would repair bare LFs)."""
    smtp.putcmd("data")
    assert smtp.getreply()[0] == 354
    smtp.send(payload + b"\r\n.\r\n")
    return smtp.getreply()


def test_bare_lf_is_refused(address: tuple[str, int], stub: StubGateway) -> None:
    with smtplib.SMTP(*address, timeout=10) as smtp:
        smtp.ehlo("mx.molndal.se")
        smtp.mail(SENDER)
        smtp.rcpt(TOPIC)
        code, text = send_raw_data(smtp, b"Subject: smuggla\r\n\r\nrad ett\nrad tva\r\n")
    assert (code, text[:7]) == (550, b"5.6.11 ")
    assert stub.delivered == []


def test_a_line_over_1000_octets_is_refused(address: tuple[str, int]) -> None:
    with smtplib.SMTP(*address, timeout=10) as smtp:
        smtp.ehlo("mx.molndal.se")
        smtp.mail(SENDER)
        smtp.rcpt(TOPIC)
        code, text = send_raw_data(smtp, b"Subject: lang\r\n\r\n" + b"a" * 2000)
    assert (code, text[:6]) == (500, b"5.5.2 ")


def test_our_own_failure_is_451_without_its_text_and_the_session_goes_on(
    address: tuple[str, int], stub: StubGateway
) -> None:
    with smtplib.SMTP(*address, timeout=10) as smtp:
        smtp.ehlo("mx.molndal.se")
        smtp.mail(SENDER)
        smtp.rcpt(TOPIC)
        stub.fail = True
        code, text = smtp.data(MESSAGE)
        assert (code, text[:6]) == (451, b"4.3.0 ")
        assert b"secret" not in text and b"RuntimeError" not in text
        smtp.mail(SENDER)
        code, text = smtp.rcpt(TOPIC)  # the failure is at RCPT this time
        assert (code, text[:6]) == (451, b"4.3.0 ") and b"secret" not in text
        stub.fail = False
        smtp.rset()
        smtp.mail(SENDER)
        smtp.rcpt(TOPIC)
        assert smtp.data(MESSAGE)[0] == 250


def test_recipients_per_message_are_capped(stub: StubGateway) -> None:
    with (
        smtp_gateway(stub, limits=Limits(max_recipients=2)) as where,
        smtplib.SMTP(*where, timeout=10) as smtp,
    ):
        smtp.ehlo("mx.molndal.se")
        smtp.mail(SENDER)
        assert smtp.rcpt(TOPIC)[0] == 250
        assert smtp.rcpt(TOPIC)[0] == 250
        code, text = smtp.rcpt(TOPIC)
        assert (code, text[:6]) == (452, b"4.5.3 ")
        assert smtp.data(MESSAGE)[0] == 250  # the two accepted recipients still get it


def test_messages_per_client_and_minute_are_capped(stub: StubGateway) -> None:
    clock = FakeClock()
    with (
        smtp_gateway(stub, limits=Limits(max_messages_per_minute=2, clock=clock)) as where,
        smtplib.SMTP(*where, timeout=10) as smtp,
    ):
        smtp.ehlo("mx.molndal.se")
        for _ in range(2):
            smtp.sendmail(SENDER, [TOPIC], MESSAGE)
        code, text = smtp.mail(SENDER)
        assert (code, text[:6]) == (452, b"4.7.0 ")
        clock.now += 61
        smtp.rset()
        assert smtp.mail(SENDER)[0] == 250
    assert len(stub.delivered) == 2


def test_connections_per_client_are_capped(stub: StubGateway) -> None:
    with smtp_gateway(stub, max_connections_per_client=2) as where:
        first = smtplib.SMTP(*where, timeout=10)
        second = smtplib.SMTP(*where, timeout=10)
        try:
            with pytest.raises(smtplib.SMTPConnectError) as refused:
                smtplib.SMTP(*where, timeout=10)
            assert refused.value.smtp_code == 421
            error: object = refused.value.smtp_error  # bytes, whatever typeshed says
            assert isinstance(error, bytes) and error.startswith(b"4.7.0 ")
        finally:
            first.quit()
            second.quit()
        with smtplib.SMTP(*where, timeout=10) as again:  # a slot is free again
            assert again.noop()[0] == 250
