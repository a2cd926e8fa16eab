"""The outbox worker: every member gets one copy, retries wait, refusals stop, nothing twice."""

from __future__ import annotations

import asyncio
import itertools
import logging
from datetime import datetime, timedelta
from email import message_from_bytes
from email.header import decode_header, make_header
from email.message import EmailMessage
from email.policy import default
from pathlib import Path

import dkim
import pytest
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session, sessionmaker

from mailgate import notices
from mailgate.addresses import verp_encode
from mailgate.outbound import (
    EmlDirectory,
    OutboxWorker,
    SmtpRelay,
    TemporaryFailure,
    Transport,
)
from mailgate.outbound.dkim_keys import dns_record, generate_key
from mailgate.outbound.dkim_sign import DkimSigner
from mailgate.outbound.transport import read_eml
from models import DigestRun, Member, Outbox, OutboxKind, OutboxStatus, Subscription, Topic
from models.db import unit_of_work
from models.tokens import make_reply_key
from tests.conftest import Clock
from tests.mailgate.outbound.builders import DOMAIN, LC, READERS, Queued, forum_with_post
from tests.support.smtp_sink import SmtpSink

SELECTOR = "delapost"


@pytest.fixture(scope="module")
def key_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("dkim") / "dkim.key"
    generate_key(path)
    return path


@pytest.fixture(scope="module")
def signer(key_file: Path) -> DkimSigner:
    return DkimSigner(domain=DOMAIN, selector=SELECTOR, private_key_pem=key_file.read_bytes())


def verifies(message: bytes, key_file: Path) -> bool:
    record = dns_record(key_file.read_bytes()).encode()

    def dnsfunc(name: bytes, timeout: float = 5) -> bytes:
        assert name == f"{SELECTOR}._domainkey.{DOMAIN}.".encode()
        return record

    return bool(dkim.verify(message, dnsfunc=dnsfunc))


def post_with_copies(factory: sessionmaker[Session], clock: Clock, **kwargs: object) -> Queued:
    with unit_of_work(factory) as session:
        return forum_with_post(session, clock(), **kwargs)  # type: ignore[arg-type]


def outbox(factory: sessionmaker[Session]) -> dict[int, Outbox]:
    with factory() as session:
        return {row.id: row for row in session.scalars(select(Outbox))}


def worker(
    factory: sessionmaker[Session], clock: Clock, transport: Transport, **kwargs: object
) -> OutboxWorker:
    return OutboxWorker(factory, LC, transport, clock=clock, **kwargs)  # type: ignore[arg-type]


async def run_once(
    factory: sessionmaker[Session], clock: Clock, sink: SmtpSink, **kwargs: object
) -> int:
    """One round of a freshly started worker with its own relay connections."""
    relay = SmtpRelay(sink.host, sink.port, local_hostname="localhost", timeout=5)
    try:
        return await worker(factory, clock, relay, **kwargs).run_once()
    finally:
        await relay.close()


def parse(data: bytes) -> EmailMessage:
    message = message_from_bytes(data, policy=default)
    assert isinstance(message, EmailMessage)
    return message


def display_from(data: bytes) -> str:
    """The From header as a mail program shows it (RFC 2047 §6.2).

    Not through policy=default: CPython 3.11's parser puts a space between two adjacent
    encoded-words of a display name, where RFC 2047 says the space between them goes.
    """
    raw = message_from_bytes(data)["From"]
    return str(make_header(decode_header(raw)))


def test_every_member_in_mode_each_gets_one_copy_with_list_headers(
    factory: sessionmaker[Session], clock: Clock
) -> None:
    queued = post_with_copies(factory, clock)

    with SmtpSink() as sink:
        assert asyncio.run(run_once(factory, clock, sink)) == 3

    by_recipient = {r.rcpt_tos: r for r in sink.received}
    assert len(sink.received) == 3
    assert sorted(by_recipient) == sorted((email,) for _, email in READERS)
    unsubscribe_links = set()
    for (email,), received in by_recipient.items():
        assert received.envelope_from == f"kost-bounces+{verp_encode(email)}@{DOMAIN}"
        copy = parse(received.data)
        assert display_from(received.data) == (
            f"Anna Andersson (Mölndals stad) via Kost och måltider <kost@{DOMAIN}>"
        )
        assert copy["Reply-To"] == f"kost+{make_reply_key(LC.secret, queued.post_id)}@{DOMAIN}"
        assert copy["Message-ID"] == f"<{queued.message_id}>"
        assert copy["Subject"] == "[kost] Laktosfri mjölk i förskolan"
        link, mailto = copy["List-Unsubscribe"].split(", ")
        assert link.startswith("<https://forum.example.se/u/")
        assert mailto == f"<mailto:kost-leave@{DOMAIN}>"
        assert copy["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert copy["List-Id"] == f"Kost och måltider <kost.{DOMAIN}>"
        body = copy.get_body(("plain",))
        assert body is not None and "laktosfri mjölk" in body.get_content()
        unsubscribe_links.add(link)
    assert len(unsubscribe_links) == 3  # each member's own
    rows = outbox(factory)
    assert {row.status for row in rows.values()} == {OutboxStatus.SENT}
    assert all(row.sent_at == clock() and row.attempts == 1 for row in rows.values())


def test_attachments_go_with_the_copy(factory: sessionmaker[Session], clock: Clock) -> None:
    pdf = b"%PDF-1.4 meny vecka 48\n" * 50
    post_with_copies(
        factory, clock, readers=READERS[:1], attachments=(("meny v48.pdf", "application/pdf", pdf),)
    )

    with SmtpSink() as sink:
        asyncio.run(run_once(factory, clock, sink))

    (attachment,) = parse(sink.received[0].data).iter_attachments()
    assert attachment.get_filename() == "meny v48.pdf"
    assert attachment.get_content_type() == "application/pdf"
    assert attachment.get_content() == pdf


def test_a_451_is_retried_after_the_backoff_and_delivered_once(
    factory: sessionmaker[Session], clock: Clock
) -> None:
    queued = post_with_copies(factory, clock, readers=READERS[:1])
    (row_id,) = queued.rows.values()

    with SmtpSink() as sink:
        sink.answer_next("451 4.3.0 Försök igen senare")
        assert asyncio.run(run_once(factory, clock, sink)) == 1
        row = outbox(factory)[row_id]
        assert (row.status, row.attempts) == (OutboxStatus.QUEUED, 1)
        assert row.next_attempt_at == clock() + timedelta(minutes=1)
        assert row.last_error == "451 4.3.0 Försök igen senare"

        clock.advance(seconds=59)
        assert asyncio.run(run_once(factory, clock, sink)) == 0
        clock.advance(seconds=1)
        assert asyncio.run(run_once(factory, clock, sink)) == 1
        assert asyncio.run(run_once(factory, clock, sink)) == 0

    assert len(sink.received) == 1 and sink.refused == 1
    row = outbox(factory)[row_id]
    assert (row.status, row.attempts, row.sent_at) == (OutboxStatus.SENT, 2, clock())


def test_a_550_marks_the_copy_failed_and_it_is_never_retried(
    factory: sessionmaker[Session], clock: Clock
) -> None:
    queued = post_with_copies(factory, clock, readers=READERS[:1])
    (row_id,) = queued.rows.values()

    with SmtpSink() as sink:
        sink.answer_next("550 5.1.1 Mottagaren finns inte", at="rcpt")
        assert asyncio.run(run_once(factory, clock, sink)) == 1
        clock.advance(days=1)
        assert asyncio.run(run_once(factory, clock, sink)) == 0

    assert sink.received == [] and sink.refused == 1
    row = outbox(factory)[row_id]
    assert row.status is OutboxStatus.FAILED
    assert row.last_error == "550 5.1.1 Mottagaren finns inte"


class AlwaysLater:
    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.tried_at: list[datetime] = []

    async def send(self, envelope_from: str, recipient: str, message: bytes) -> None:
        self.tried_at.append(self.clock())
        raise TemporaryFailure(421, "4.4.2 Mottagaren svarar inte")


def test_temporary_failures_back_off_then_give_up_after_five_days(
    factory: sessionmaker[Session], clock: Clock
) -> None:
    queued = post_with_copies(factory, clock, readers=READERS[:1])
    (row_id,) = queued.rows.values()
    transport = AlwaysLater(clock)
    later = worker(factory, clock, transport)

    while outbox(factory)[row_id].status is OutboxStatus.QUEUED:
        clock.current = outbox(factory)[row_id].next_attempt_at
        assert asyncio.run(later.run_once()) == 1

    first = transport.tried_at[0]
    minutes = [int((t - first).total_seconds() // 60) for t in transport.tried_at]
    assert minutes[:8] == [0, 1, 6, 21, 51, 111, 231, 471]
    assert minutes[-1] == 5 * 24 * 60  # one last try when the five days are up
    assert all(b - a <= 240 for a, b in itertools.pairwise(minutes))
    row = outbox(factory)[row_id]
    assert row.status is OutboxStatus.FAILED and row.attempts == len(minutes)
    assert row.last_error.startswith(f"gave up after {len(minutes)} attempts in 5 days: 421 4.4.2")


def test_running_again_or_restarting_never_sends_a_copy_twice(
    factory: sessionmaker[Session], clock: Clock
) -> None:
    post_with_copies(factory, clock)

    with SmtpSink() as sink:
        assert asyncio.run(run_once(factory, clock, sink)) == 3
        assert asyncio.run(run_once(factory, clock, sink)) == 0
        clock.advance(hours=2)
        assert asyncio.run(run_once(factory, clock, sink)) == 0

    assert sorted(r.rcpt_tos for r in sink.received) == sorted((e,) for _, e in READERS)


class Crash(BaseException):
    """The process dies (kill -9) in the middle of a round."""


class CrashAfter:
    def __init__(self, inner: Transport, sends: int) -> None:
        self.inner = inner
        self.sends = sends

    async def send(self, envelope_from: str, recipient: str, message: bytes) -> None:
        if self.sends == 0:
            raise Crash
        self.sends -= 1
        await self.inner.send(envelope_from, recipient, message)


def test_after_a_crash_another_worker_sends_only_what_was_not_sent(
    factory: sessionmaker[Session], clock: Clock
) -> None:
    post_with_copies(factory, clock)

    async def crashing_round(sink: SmtpSink) -> None:
        relay = SmtpRelay(sink.host, sink.port, local_hostname="localhost", timeout=5)
        try:
            await worker(factory, clock, CrashAfter(relay, 2), concurrency=1).run_once()
        finally:
            await relay.close()

    with SmtpSink() as sink:
        with pytest.raises(BaseExceptionGroup) as crashed:
            asyncio.run(crashing_round(sink))
        assert crashed.group_contains(Crash)
        assert len(sink.received) == 2
        # The copy in flight stays leased: a worker started at once leaves it alone…
        assert asyncio.run(run_once(factory, clock, sink)) == 0
        # …and takes it when the lease has run out.
        clock.advance(minutes=15)
        assert asyncio.run(run_once(factory, clock, sink)) == 1

    assert sorted(r.rcpt_tos for r in sink.received) == sorted((e,) for _, e in READERS)
    assert {row.status for row in outbox(factory).values()} == {OutboxStatus.SENT}


def test_two_workers_at_once_share_the_queue_without_repeats(
    factory: sessionmaker[Session], clock: Clock
) -> None:
    readers = [(f"Läsare {n}", f"lasare{n}@goteborg.se") for n in range(12)]
    post_with_copies(factory, clock, readers=readers)

    async def two_workers(sink: SmtpSink) -> tuple[int, int]:
        return await asyncio.gather(
            run_once(factory, clock, sink, batch=5, concurrency=3),
            run_once(factory, clock, sink, batch=5, concurrency=3),
        )

    with SmtpSink() as sink:
        first, second = asyncio.run(two_workers(sink))
        assert first + second == 10
        assert asyncio.run(run_once(factory, clock, sink)) == 2

    assert sorted(r.rcpt_tos for r in sink.received) == sorted((e,) for _, e in readers)


def test_no_copy_to_the_forgotten_the_disabled_or_the_unsubscribed(
    factory: sessionmaker[Session], clock: Clock
) -> None:
    queued = post_with_copies(factory, clock)
    with unit_of_work(factory) as session:
        members = {
            m.email: m for m in session.scalars(select(Member).where(Member.email.in_(queued.rows)))
        }
        erik, asa, karin = (members[email] for _, email in READERS)
        erik.email, erik.forgotten_at = None, clock()
        asa.delivery_disabled_at = clock()
        subscription = session.scalars(
            select(Subscription).where(Subscription.member_id == karin.id)
        ).one()
        subscription.ended_at = clock()

    with SmtpSink() as sink:
        assert asyncio.run(run_once(factory, clock, sink)) == 3

    assert sink.received == []
    errors = {email: outbox(factory)[row_id] for email, row_id in queued.rows.items()}
    assert {row.status for row in errors.values()} == {OutboxStatus.FAILED}
    assert errors["erik.nilsson@goteborg.se"].last_error == "the member has no address any more"
    assert errors["asa.oberg@vaxjo.se"].last_error == "delivery to the member is disabled"
    assert "subscription to kost has ended" in errors["karin.lind@skr.se"].last_error


def test_copies_are_dkim_signed_and_verify(
    factory: sessionmaker[Session], clock: Clock, signer: DkimSigner, key_file: Path
) -> None:
    post_with_copies(factory, clock, readers=READERS[:1])

    with SmtpSink() as sink:
        asyncio.run(run_once(factory, clock, sink, signer=signer))

    data = sink.received[0].data
    assert data.startswith(b"DKIM-Signature: ")
    assert verifies(data, key_file)
    assert not verifies(data.replace(b"levererar", b"levererade"), key_file)


def test_notices_go_with_a_null_return_path_as_they_were_queued(
    factory: sessionmaker[Session], clock: Clock, signer: DkimSigner, key_file: Path
) -> None:
    message = notices.compose(
        to="ny.person@molndal.se",
        from_name="Kost och måltider",
        from_address=f"kost-owner@{DOMAIN}",
        subject="Bekräfta ditt inlägg",
        body="Hej! Klicka på länken för att bekräfta: https://forum.example.se/confirm/x\n",
        list_domain=DOMAIN,
        now=clock(),
    )
    with unit_of_work(factory) as session:
        assert notices.enqueue_notice(
            session, to="ny.person@molndal.se", kind="confirm", message=message, now=clock()
        )

    with SmtpSink() as sink:
        assert asyncio.run(run_once(factory, clock, sink, signer=signer)) == 1

    (received,) = sink.received
    assert (received.envelope_from, received.rcpt_tos) == ("", ("ny.person@molndal.se",))
    assert received.data.endswith(message.replace(b"\n", b"\r\n"))
    assert verifies(received.data, key_file)


def test_eml_directory_keeps_the_exact_signed_bytes(
    factory: sessionmaker[Session], clock: Clock, signer: DkimSigner, key_file: Path, tmp_path: Path
) -> None:
    post_with_copies(factory, clock)

    handled = asyncio.run(worker(factory, clock, EmlDirectory(tmp_path), signer=signer).run_once())

    files = sorted(tmp_path.glob("*.eml"))
    assert handled == 3 and len(files) == 3
    recipients = set()
    for path in files:
        envelope_from, recipient, data = read_eml(path)
        assert envelope_from == f"kost-bounces+{verp_encode(recipient)}@{DOMAIN}"
        assert data.startswith(b"DKIM-Signature: ") and verifies(data, key_file)
        recipients.add(recipient)
    assert recipients == {email for _, email in READERS}


def test_digest_copies_go_out_as_built_from_the_bounce_address_unless_the_member_left(
    factory: sessionmaker[Session], clock: Clock
) -> None:
    queued = post_with_copies(factory, clock, readers=READERS[:2])
    with unit_of_work(factory) as session:
        members = {
            member.email: member
            for member in session.scalars(
                select(Member)
                .join(Outbox, Outbox.member_id == Member.id)
                .where(Outbox.id.in_(queued.rows.values()))
            )
        }
        run = DigestRun(
            topic_id=session.scalars(select(Topic.id)).one(),
            period="weekly",
            span_start=clock(),
            span_end=clock(),
            created_at=clock(),
        )
        session.add(run)
        session.flush()
        for email, member in members.items():
            session.add(
                Outbox(
                    kind=OutboxKind.DIGEST,
                    digest_run_id=run.id,
                    member_id=member.id,
                    recipient=email,
                    message=f"To: {email}\r\nSubject: Sammanfattning\r\n\r\nHej\r\n".encode(),
                    created_at=clock(),
                    next_attempt_at=clock(),
                )
            )
        stays, leaves = READERS[0][1], READERS[1][1]
        session.execute(
            update(Subscription)
            .where(Subscription.member_id == members[leaves].id)
            .values(ended_at=clock())
        )
        session.execute(delete(Outbox).where(Outbox.kind == OutboxKind.COPY))

    with SmtpSink() as sink:
        assert asyncio.run(run_once(factory, clock, sink)) == 2

    assert [(r.envelope_from, r.rcpt_tos) for r in sink.received] == [
        (f"kost-bounces+{verp_encode(stays)}@{DOMAIN}", (stays,))
    ]
    assert sink.received[0].data.endswith(b"Subject: Sammanfattning\r\n\r\nHej\r\n")
    statuses = {row.recipient: row.status for row in outbox(factory).values()}
    assert statuses == {stays: OutboxStatus.SENT, leaves: OutboxStatus.FAILED}
    # A sent digest copy keeps its row as the record, but not its bytes.
    kept = {row.recipient: row.message for row in outbox(factory).values()}
    assert kept[stays] is None and kept[leaves] is not None


def test_run_keeps_going_after_an_error_until_stopped(
    factory: sessionmaker[Session], clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    post_with_copies(factory, clock)

    async def scenario(sink: SmtpSink) -> None:
        relay = SmtpRelay(sink.host, sink.port, local_hostname="localhost", timeout=5)
        looping = worker(factory, clock, relay)
        real_run_once = looping.run_once
        stop = asyncio.Event()
        rounds = 0

        async def flaky_run_once() -> int:
            nonlocal rounds
            rounds += 1
            if rounds == 1:
                raise RuntimeError("databasen svarar inte")
            handled = await real_run_once()
            if rounds == 3:
                stop.set()
            return handled

        looping.run_once = flaky_run_once  # type: ignore[method-assign]
        try:
            await asyncio.wait_for(looping.run(stop, interval=0.01), 10)
        finally:
            await relay.close()

    with SmtpSink() as sink, caplog.at_level(logging.ERROR, "mailgate.outbound.worker"):
        asyncio.run(scenario(sink))

    assert len(sink.received) == 3
    assert "outbox round failed" in caplog.text and "databasen svarar inte" in caplog.text


def test_stopping_mid_round_hands_the_rest_back_at_once(
    factory: sessionmaker[Session], clock: Clock
) -> None:
    post_with_copies(factory, clock)
    stop = asyncio.Event()
    sent: list[str] = []

    class StopAfterOne:
        async def send(self, envelope_from: str, recipient: str, message: bytes) -> None:
            sent.append(recipient)
            stop.set()

    asyncio.run(worker(factory, clock, StopAfterOne(), concurrency=1).run(stop))

    rows = sorted(outbox(factory).values(), key=lambda row: row.status)
    assert len(sent) == 1
    assert [row.status for row in rows] == [OutboxStatus.QUEUED] * 2 + [OutboxStatus.SENT]
    assert all(row.next_attempt_at == clock() for row in rows[:2])  # due again, not leased
