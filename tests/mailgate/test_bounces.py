"""Bounces: delays never count, days of permanent failures bring a probe, its bounce a pause."""

from __future__ import annotations

import asyncio
import email
from collections import Counter
from email.policy import default
from pathlib import Path

import flufl.bounce
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from mailgate.addresses import Kind, parse, verp_encode
from mailgate.bounces import (
    THRESHOLD,
    BounceOutcome,
    Disposition,
    Outcome,
    classify,
    enable_delivery,
    record_bounce,
)
from mailgate.outbound import OutboxWorker, SmtpRelay
from models import Member, Mode, Outbox, OutboxKind, Subscription, TopicOwner
from models.db import unit_of_work
from tests.conftest import Clock
from tests.mailgate.outbound.builders import DOMAIN, LC, add_member, add_topic
from tests.support.corpora import CORPORA
from tests.support.smtp_sink import SmtpSink

ERIK = "erik.nilsson@goteborg.se"
CORPUS = CORPORA / "bounces-sisimai"


def dsn(recipient: str, status: str, action: str = "failed") -> bytes:
    """A delivery status notification (RFC 3464) as Postfix writes one, about one copy."""
    text = f"""\
From: MAILER-DAEMON@mx.goteborg.se (Mail Delivery System)
To: kost-bounces+{verp_encode(recipient)}@{DOMAIN}
Subject: Undelivered Mail Returned to Sender
Date: Mon, 23 Nov 2026 09:31:00 +0100
Message-ID: <dsn-{status}@mx.goteborg.se>
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="GRANS"

--GRANS
Content-Type: text/plain; charset=utf-8

Ditt meddelande kunde inte levereras till en eller flera mottagare.

--GRANS
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.goteborg.se
Arrival-Date: Mon, 23 Nov 2026 09:30:58 +0100

Final-Recipient: rfc822; {recipient}
Original-Recipient: rfc822;{recipient}
Action: {action}
Status: {status}
Diagnostic-Code: smtp; {status[0]}50 {status} mottagaren

--GRANS
Content-Type: text/rfc822-headers

From: "Anna Andersson (Mölndals stad) via Kost" <kost@{DOMAIN}>
Message-ID: <fraga-1@molndal.se>
Subject: [kost] Laktosfri mjölk

--GRANS--
"""
    return text.replace("\n", "\r\n").encode()


OUT_OF_OFFICE = (
    "From: Erik Nilsson <erik.nilsson@goteborg.se>\r\n"
    f"To: kost-bounces+erik.nilsson=goteborg.se@{DOMAIN}\r\n"
    "Subject: Automatiskt svar: [kost] Laktosfri mjölk\r\n"
    "Auto-Submitted: auto-replied\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n\r\n"
    "Jag är på semester till och med 1 december.\r\n"
).encode()


def bounce(
    factory: sessionmaker[Session],
    clock: Clock,
    message: bytes,
    extension: str = verp_encode(ERIK),
) -> BounceOutcome:
    with unit_of_work(factory) as session:
        return record_bounce(
            session,
            topic_slug="kost",
            extension=extension,
            message=message,
            now=clock(),
            list_domain=DOMAIN,
            secret=LC.secret,
        )


@pytest.fixture
def forum(factory: sessionmaker[Session], clock: Clock) -> None:
    """Erik reads `kost` and `skolmat`; each topic has an owner."""
    with unit_of_work(factory) as session:
        kost = add_topic(session, clock())
        skolmat = add_topic(session, clock(), slug="skolmat", name="Skolmat")
        erik = add_member(session, kost, ERIK, "Erik Nilsson", clock())
        add_member(session, skolmat, "asa.oberg@vaxjo.se", "Åsa Öberg", clock())
        session.add_all(
            [
                TopicOwner(topic_id=kost.id, email="agare@skr.se"),
                TopicOwner(topic_id=skolmat.id, email="kock@vaxjo.se"),
            ]
        )
        session.flush()
        session.add(
            Subscription(member_id=erik.id, topic_id=skolmat.id, mode=Mode.EACH, created_at=clock())
        )


def erik(factory: sessionmaker[Session]) -> Member:
    with factory() as session:
        return session.scalars(select(Member).where(Member.email == ERIK)).one()


def notices(factory: sessionmaker[Session]) -> list[Outbox]:
    with factory() as session:
        rows = session.scalars(select(Outbox).where(Outbox.kind == OutboxKind.NOTICE))
        return sorted(rows, key=lambda row: (row.notice_kind, row.recipient or ""))


def bounce_on_days(factory: sessionmaker[Session], clock: Clock, days: int) -> BounceOutcome:
    outcome = bounce(factory, clock, dsn(ERIK, "5.1.1"))
    for _ in range(days - 1):
        clock.advance(days=1)
        outcome = bounce(factory, clock, dsn(ERIK, "5.1.1"))
    return outcome


@pytest.mark.usefixtures("forum")
@pytest.mark.parametrize(
    ("status", "action"), [("4.4.1", "delayed"), ("4.2.2", "failed"), ("2.0.0", "delivered")]
)
def test_a_delay_or_a_4xx_never_counts(
    factory: sessionmaker[Session], clock: Clock, status: str, action: str
) -> None:
    for _ in range(10):
        outcome = bounce(factory, clock, dsn(ERIK, status, action))
        clock.advance(days=1)

    assert outcome.outcome is Outcome.IGNORED
    member = erik(factory)
    assert (member.bounce_score, member.last_bounce_at, member.delivery_disabled_at) == (
        0,
        None,
        None,
    )
    assert notices(factory) == []


@pytest.mark.usefixtures("forum")
def test_an_auto_reply_to_the_bounce_address_is_no_bounce(
    factory: sessionmaker[Session], clock: Clock
) -> None:
    outcome = bounce(factory, clock, OUT_OF_OFFICE)
    assert (outcome.disposition, outcome.outcome) == (Disposition.NOT_A_BOUNCE, Outcome.IGNORED)
    assert erik(factory).bounce_score == 0


@pytest.mark.usefixtures("forum")
def test_a_permanent_failure_counts_at_most_once_a_day(
    factory: sessionmaker[Session], clock: Clock
) -> None:
    first = bounce(factory, clock, dsn(ERIK, "5.1.1"))
    clock.advance(hours=3)
    again = bounce(factory, clock, dsn(ERIK, "5.1.1"))
    clock.advance(days=1)
    next_day = bounce(factory, clock, dsn(ERIK, "5.2.1"))

    assert (first.outcome, first.score) == (Outcome.SCORED, 1)
    assert (again.outcome, again.score) == (Outcome.COUNTED_TODAY, 1)
    assert (next_day.outcome, next_day.score) == (Outcome.SCORED, 2)
    assert erik(factory).last_bounce_at == clock()


@pytest.mark.usefixtures("forum")
def test_points_older_than_a_week_are_forgotten(
    factory: sessionmaker[Session], clock: Clock
) -> None:
    bounce_on_days(factory, clock, 3)
    clock.advance(days=8)
    outcome = bounce(factory, clock, dsn(ERIK, "5.1.1"))
    assert outcome.score == 1


@pytest.mark.usefixtures("forum")
def test_five_days_of_bounces_send_one_probe_from_its_own_bounce_address(
    factory: sessionmaker[Session], clock: Clock
) -> None:
    outcome = bounce_on_days(factory, clock, int(THRESHOLD))
    clock.advance(days=1)
    later = bounce(factory, clock, dsn(ERIK, "5.1.1"))

    assert outcome.outcome is Outcome.PROBED
    assert later.outcome is Outcome.SCORED  # one probe at a time
    assert erik(factory).delivery_disabled_at is None  # not paused on the score alone

    async def deliver(sink: SmtpSink) -> None:
        relay = SmtpRelay(sink.host, sink.port, local_hostname="localhost", timeout=5)
        try:
            await OutboxWorker(factory, LC, relay, clock=clock).run_once()
        finally:
            await relay.close()

    with SmtpSink() as sink:
        asyncio.run(deliver(sink))
    (probe,) = sink.received
    assert probe.rcpt_tos == (ERIK,)
    envelope = parse(probe.envelope_from, DOMAIN)
    assert envelope is not None and envelope.kind is Kind.BOUNCES
    assert envelope.topic == "kost" and envelope.extension.startswith("probe-")
    message = email.message_from_bytes(probe.data, policy=default)
    assert message["Auto-Submitted"] == "auto-replied"
    text = " ".join(message.get_body(("plain",)).get_content().split())  # type: ignore[union-attr]
    assert "provbrev" in text and "test message" in text
    assert f'"join" (eller "gå med") till kost-request@{DOMAIN}' in text
    assert f'"join" to kost-request@{DOMAIN}' in text


@pytest.mark.usefixtures("forum")
def test_a_bounced_probe_pauses_delivery_and_tells_the_member_and_the_owners(
    factory: sessionmaker[Session], clock: Clock
) -> None:
    bounce_on_days(factory, clock, int(THRESHOLD))
    (probe,) = notices(factory)
    extension = parse(probe.envelope_from, DOMAIN).extension  # type: ignore[union-attr]
    clock.advance(minutes=10)

    outcome = bounce(factory, clock, dsn(ERIK, "5.1.1"), extension=extension)
    afterwards = bounce(factory, clock, dsn(ERIK, "5.1.1"))

    assert outcome.outcome is Outcome.PAUSED
    assert afterwards.outcome is Outcome.ALREADY_PAUSED
    assert erik(factory).delivery_disabled_at == clock()
    told = {row.recipient: row for row in notices(factory) if row.notice_kind != "bounce-probe"}
    assert sorted(told) == ["agare@skr.se", ERIK, "kock@vaxjo.se"]
    owner = email.message_from_bytes(told["kock@vaxjo.se"].message or b"", policy=default)
    assert "Erik Nilsson" in owner["Subject"]
    owner_text = " ".join(owner.get_body(("plain",)).get_content().split())  # type: ignore[union-attr]
    assert f"delapost member add {ERIK}" in owner_text and "Skolmat" in owner_text
    member = email.message_from_bytes(told[ERIK].message or b"", policy=default)
    assert "pausade" in member["Subject"] and "paused" in member["Subject"]

    with unit_of_work(factory) as session:
        enable_delivery(session.scalars(select(Member).where(Member.email == ERIK)).one())
    assert (erik(factory).delivery_disabled_at, erik(factory).bounce_score) == (None, 0)


@pytest.mark.usefixtures("forum")
def test_a_temporary_failure_of_the_probe_changes_nothing(
    factory: sessionmaker[Session], clock: Clock
) -> None:
    bounce_on_days(factory, clock, int(THRESHOLD))
    (probe,) = notices(factory)
    extension = parse(probe.envelope_from, DOMAIN).extension  # type: ignore[union-attr]

    outcome = bounce(factory, clock, dsn(ERIK, "4.2.2", "delayed"), extension=extension)

    assert outcome.outcome is Outcome.IGNORED
    assert erik(factory).delivery_disabled_at is None


@pytest.mark.usefixtures("forum")
@pytest.mark.parametrize(
    "extension",
    ["nobody=goteborg.se", "probe-aaaa-bbbbbbbb", "utan-likhetstecken", "ERIK.NILSSON=GOTEBORG.SE"],
)
def test_reports_about_unknown_or_forged_addresses_change_nothing(
    factory: sessionmaker[Session], clock: Clock, extension: str
) -> None:
    outcome = bounce(factory, clock, dsn(ERIK, "5.1.1"), extension=extension)
    if extension.startswith("ERIK"):  # VERP arrives lower-cased or not; both are Erik
        assert outcome.outcome is Outcome.SCORED
    else:
        assert outcome.outcome is Outcome.UNKNOWN
        assert erik(factory).bounce_score == 0


def corpus_files() -> list[Path]:
    if not CORPUS.is_dir():
        pytest.skip(f"the sisimai bounce corpus is not at {CORPUS}")
    # ARF complaints and RFC 3834 auto-replies are no bounces.
    bounces = sorted((CORPUS / "maildir" / "bsd").glob("*.eml"))
    return [p for p in bounces if not p.name.startswith(("arf-", "rfc3834-"))]


def test_most_real_bounces_read_as_permanent_failures() -> None:
    files = corpus_files()
    found = Counter[str]()
    for path in files:
        message = email.message_from_bytes(path.read_bytes())
        found[classify(message).value] += 1
        if flufl.bounce.scan_message(message):
            found["flufl permanent recipient"] += 1

    share = found["permanent"] / len(files)
    flufl_share = found["flufl permanent recipient"] / len(files)
    print(f"{len(files)} bounces: {dict(found)}; permanent {share:.0%}, flufl {flufl_share:.0%}")
    assert flufl_share > 0.7
    # Lower than flufl's: "Action: failed" with a 4.x.x Status (a relay that gave up after
    # retrying, 4.4.7) is not counted, as no 4.x.x is.
    assert share > 0.65
    assert found["temporary"] < found["permanent"] / 4
