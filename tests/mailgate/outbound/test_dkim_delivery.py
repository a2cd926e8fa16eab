"""A copy as delivered passes DKIM for the list domain, against the record `dkim keygen` prints."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import dkim
import dkim.util
import pytest
from sqlalchemy.orm import Session, sessionmaker

from delapost.settings import load
from mailgate.authenticate import system_dns_txt
from mailgate.outbound import ListContext, OutboxWorker, SmtpRelay
from mailgate.outbound.dkim_keys import dns_record, generate_key, zone_file_line
from mailgate.outbound.dkim_sign import load_signer
from models.db import unit_of_work
from tests.conftest import Clock
from tests.mailgate.outbound.builders import LC, READERS, forum_with_post
from tests.support.dns_server import DnsServer
from tests.support.forum import cli, write_settings
from tests.support.smtp_sink import SmtpSink

DOMAIN = LC.list_domain
MUST_SIGN = (
    "from", "subject", "date", "message-id", "to", "reply-to", "list-id", "list-post",
    "list-help", "list-subscribe", "list-unsubscribe", "list-unsubscribe-post", "list-archive",
)  # fmt: skip


def keygen(folder: Path, capsys: pytest.CaptureFixture[str]) -> tuple[Path, str, str]:
    """Run `delapost dkim keygen`; the settings file, the DNS name and the TXT value it printed."""
    config = write_settings(folder, list_domain=DOMAIN, dkim_selector="delapost")
    capsys.readouterr()
    cli(config, "dkim", "keygen")
    printed = capsys.readouterr().out
    line = next(x for x in printed.splitlines() if " IN TXT " in x)
    name = line.split()[0].rstrip(".")
    return config, name, "".join(re.findall(r'"([^"]*)"', line))


def dkim_verifies(message: bytes, dns_address: str) -> bool:
    lookup = system_dns_txt(dns_address, timeout=2)

    def dnsfunc(name: bytes, timeout: float = 5) -> bytes:
        return "".join(lookup(name.decode())).encode()

    return bool(dkim.verify(message, dnsfunc=dnsfunc))


def test_a_delivered_copy_verifies_against_the_published_record(
    factory: sessionmaker[Session],
    clock: Clock,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    config, name, record = keygen(tmp_path, capsys)
    assert name == f"delapost._domainkey.{DOMAIN}"
    settings = load(config, environ={})
    signer = load_signer(
        settings.path(settings.dkim_key_file), domain=DOMAIN, selector=settings.dkim_selector
    )
    assert signer is not None
    with unit_of_work(factory) as session:
        forum_with_post(session, clock(), readers=READERS[:1])

    async def send(sink: SmtpSink) -> None:
        relay = SmtpRelay(sink.host, sink.port, local_hostname="localhost", timeout=5)
        lc = ListContext(DOMAIN, LC.base_url, LC.secret)
        try:
            await OutboxWorker(factory, lc, relay, signer=signer, clock=clock).run_once()
        finally:
            await relay.close()

    with SmtpSink() as sink:
        asyncio.run(send(sink))

    (received,) = sink.received
    with DnsServer({name: [record]}) as dns_address:
        assert dkim_verifies(received.data, dns_address)
        forged = received.data.replace(
            b"List-Unsubscribe: <https://", b"List-Unsubscribe: <https://evil.example/?", 1
        )
        assert not dkim_verifies(forged, dns_address)
        added = b"List-Unsubscribe: <https://evil.example/>\r\n" + received.data
        assert not dkim_verifies(added, dns_address)

    signature = dkim.DKIM(received.data)
    value = next(v for n, v in signature.headers if n.lower() == b"dkim-signature")
    tags = dkim.util.parse_tag_value(value)
    assert tags[b"d"] == DOMAIN.encode() and tags[b"a"] == b"rsa-sha256"
    signed = [n.strip().decode() for n in tags[b"h"].split(b":")]
    for header in MUST_SIGN:
        assert signed.count(header) == 2, header  # signed, and over-signed against additions


def test_the_zone_file_line_splits_the_record_as_dns_servers_need(tmp_path: Path) -> None:
    generate_key(tmp_path / "dkim.key")
    record = dns_record((tmp_path / "dkim.key").read_bytes())

    line = zone_file_line(f"delapost._domainkey.{DOMAIN}", record)

    strings = re.findall(r'"([^"]*)"', line)
    assert line.startswith(f"delapost._domainkey.{DOMAIN}. IN TXT (")
    assert len(strings) == 2 and all(len(s) <= 255 for s in strings)
    assert "".join(strings) == record
