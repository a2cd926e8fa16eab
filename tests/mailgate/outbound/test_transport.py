"""The relay client against a real SMTP server on loopback, and the .eml folder."""

from __future__ import annotations

import asyncio
import ssl
import time
from email import message_from_bytes
from email.policy import default
from pathlib import Path

import pytest
import trustme

from mailgate.outbound import EmlDirectory, PermanentFailure, SmtpRelay, TemporaryFailure
from mailgate.outbound.transport import read_eml
from tests.support.smtp_sink import SmtpSink, free_port

MESSAGE = (
    "From: Kost <kost@forum.example.se>\r\n"
    "To: kost@forum.example.se\r\n"
    "Subject: Ärtsoppa på torsdag\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n"
    "Content-Transfer-Encoding: 8bit\r\n"
    "\r\n"
    "Hälsningar från Göteborg.\r\n"
    ".En rad som börjar med punkt.\r\n"
).encode()
BOUNCES = "kost-bounces+erik=goteborg.se@forum.example.se"


def relay(sink: SmtpSink, **kwargs: object) -> SmtpRelay:
    return SmtpRelay(sink.host, sink.port, local_hostname="localhost", timeout=5, **kwargs)  # type: ignore[arg-type]


def test_delivers_the_exact_bytes_over_one_reused_connection() -> None:
    async def scenario(sink: SmtpSink) -> None:
        client = relay(sink)
        try:
            for n in range(3):
                await client.send(BOUNCES, f"reader{n}@goteborg.se", MESSAGE)
        finally:
            await client.close()

    with SmtpSink() as sink:
        asyncio.run(scenario(sink))

    assert [r.rcpt_tos for r in sink.received] == [(f"reader{n}@goteborg.se",) for n in range(3)]
    assert all(r.envelope_from == BOUNCES for r in sink.received)
    assert all(r.data == MESSAGE for r in sink.received)
    assert len({r.peer for r in sink.received}) == 1
    assert not any(r.tls for r in sink.received)  # the sink offers no STARTTLS: plain is fine


def test_null_return_path() -> None:
    async def scenario(sink: SmtpSink) -> None:
        client = relay(sink)
        try:
            await client.send("", "anna.andersson@molndal.se", MESSAGE)
        finally:
            await client.close()

    with SmtpSink() as sink:
        asyncio.run(scenario(sink))

    assert sink.received[0].envelope_from == ""


def test_4xx_is_temporary_5xx_permanent_and_the_connection_goes_on() -> None:
    async def scenario(sink: SmtpSink) -> tuple[TemporaryFailure, PermanentFailure]:
        client = relay(sink)
        try:
            with pytest.raises(TemporaryFailure) as temporary:
                await client.send(BOUNCES, "erik.nilsson@goteborg.se", MESSAGE)
            with pytest.raises(PermanentFailure) as permanent:
                await client.send(BOUNCES, "finns.inte@goteborg.se", MESSAGE)
            await client.send(BOUNCES, "erik.nilsson@goteborg.se", MESSAGE)
            return temporary.value, permanent.value
        finally:
            await client.close()

    with SmtpSink() as sink:
        sink.answer_next("451 4.3.0 Försök igen senare")
        sink.answer_next("550 5.1.1 No such user", at="rcpt")
        temporary, permanent = asyncio.run(scenario(sink))

    assert (temporary.code, temporary.text) == (451, "4.3.0 Försök igen senare")
    assert (permanent.code, str(permanent)) == (550, "550 5.1.1 No such user")
    assert [r.rcpt_tos for r in sink.received] == [("erik.nilsson@goteborg.se",)]
    assert len({r.peer for r in sink.received}) == 1 and sink.refused == 2


def test_an_unreachable_relay_is_a_temporary_failure() -> None:
    async def scenario() -> None:
        client = SmtpRelay("127.0.0.1", free_port(), timeout=2, local_hostname="localhost")
        try:
            await client.send(BOUNCES, "erik.nilsson@goteborg.se", MESSAGE)
        finally:
            await client.close()

    with pytest.raises(TemporaryFailure, match="cannot use the relay"):
        asyncio.run(scenario())


def test_reconnects_after_the_relay_drops_an_idle_connection() -> None:
    async def scenario(sink: SmtpSink) -> None:
        client = relay(sink)
        try:
            await client.send(BOUNCES, "a@goteborg.se", MESSAGE)
            await asyncio.sleep(0.5)  # the sink hangs up after 0.2 s without a command
            await client.send(BOUNCES, "b@goteborg.se", MESSAGE)
        finally:
            await client.close()

    with SmtpSink(timeout=0.2) as sink:
        asyncio.run(scenario(sink))

    assert [r.rcpt_tos for r in sink.received] == [("a@goteborg.se",), ("b@goteborg.se",)]
    assert sink.received[0].peer != sink.received[1].peer


def test_concurrent_sends_share_a_bounded_pool() -> None:
    async def scenario(sink: SmtpSink) -> None:
        client = relay(sink, connections=2)
        try:
            await asyncio.gather(
                *(client.send(BOUNCES, f"r{n}@goteborg.se", MESSAGE) for n in range(8))
            )
        finally:
            await client.close()

    with SmtpSink() as sink:
        asyncio.run(scenario(sink))

    assert sorted(r.rcpt_tos[0] for r in sink.received) == [f"r{n}@goteborg.se" for n in range(8)]
    assert 1 <= len({r.peer for r in sink.received}) <= 2


def test_starttls_is_used_when_offered_and_utf8_addresses_need_smtputf8() -> None:
    ca = trustme.CA()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server_context)
    client_context = ssl.create_default_context()
    ca.configure_trust(client_context)

    async def scenario(sink: SmtpSink) -> None:
        client = relay(sink, tls_context=client_context)
        try:
            await client.send(BOUNCES, "åsa.öberg@växjö.se", MESSAGE)
        finally:
            await client.close()

    with SmtpSink(tls_context=server_context) as sink:
        asyncio.run(scenario(sink))

    assert sink.received[0].tls
    assert sink.received[0].rcpt_tos == ("åsa.öberg@växjö.se",)


def test_a_line_break_in_an_address_is_refused() -> None:
    async def scenario(sink: SmtpSink) -> None:
        client = relay(sink)
        try:
            await client.send(BOUNCES, "a@goteborg.se\r\nRCPT TO:<b@x.se>", MESSAGE)
        finally:
            await client.close()

    with SmtpSink() as sink, pytest.raises(PermanentFailure):
        asyncio.run(scenario(sink))
    assert sink.received == []


def test_eml_directory_writes_whole_readable_files(tmp_path: Path) -> None:
    folder = EmlDirectory(tmp_path / "outbox")

    async def scenario() -> None:
        await asyncio.gather(
            folder.send(BOUNCES, "erik.nilsson@goteborg.se", MESSAGE),
            folder.send("", "anna.andersson@molndal.se", MESSAGE.replace(b"\r\n", b"\n")),
        )

    asyncio.run(scenario())

    files = sorted((tmp_path / "outbox").iterdir())
    assert len(files) == 2 and all(f.suffix == ".eml" for f in files)  # no temporary left
    envelopes = sorted((read_eml(f)[0], read_eml(f)[1]) for f in files)
    assert envelopes == [("", "anna.andersson@molndal.se"), (BOUNCES, "erik.nilsson@goteborg.se")]
    for f in files:
        _, _, data = read_eml(f)
        assert data in (MESSAGE, MESSAGE.replace(b"\r\n", b"\n"))
        parsed = message_from_bytes(f.read_bytes(), policy=default)
        assert parsed["Subject"] == "Ärtsoppa på torsdag"
        assert parsed["X-Envelope-To"] in (
            "<erik.nilsson@goteborg.se>",
            "<anna.andersson@molndal.se>",
        )


def test_eml_file_names_sort_by_time(tmp_path: Path) -> None:
    folder = EmlDirectory(tmp_path)
    first = folder.write(BOUNCES, "a@goteborg.se", MESSAGE)
    time.sleep(0.001)
    second = folder.write(BOUNCES, "b@goteborg.se", MESSAGE)
    assert sorted([second, first]) == [first, second]


def test_no_password_goes_over_a_connection_without_tls() -> None:
    async def scenario(sink: SmtpSink) -> None:
        client = relay(sink, username="delapost", password="hemligt")
        try:
            await client.send(BOUNCES, "erik.nilsson@goteborg.se", MESSAGE)
        finally:
            await client.close()

    with SmtpSink() as sink, pytest.raises(TemporaryFailure, match="no STARTTLS"):
        asyncio.run(scenario(sink))
    assert sink.received == []


def test_a_relay_refusing_our_sender_is_retried_not_failed() -> None:
    async def scenario(sink: SmtpSink) -> None:
        client = relay(sink)
        try:
            await client.send(BOUNCES, "erik.nilsson@goteborg.se", MESSAGE)
        finally:
            await client.close()

    with SmtpSink() as sink:
        sink.answer_next("530 5.7.0 Authentication required", at="mail")
        with pytest.raises(TemporaryFailure) as refused:
            asyncio.run(scenario(sink))
    assert refused.value.code == 530
