"""Each row of DESIGN.md's "What arrives and what it gets", as an SMTP conversation over loopback.

A whole forum runs (`delapost serve`'s loop, sender_auth = dmarc), senders sign their mail with
DKIM keys whose public halves a real DNS server on loopback publishes, and what the forum
sends lands as .eml files in its outbox folder.
"""

from __future__ import annotations

import smtplib
import time
from collections.abc import Iterator
from email import message_from_bytes
from email.message import Message
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select, text

from delapost.serve import Forum
from delapost.settings import Settings
from mailgate.outbound.dkim_keys import dns_record
from mailgate.outbound.transport import read_eml
from models import HeldPost, MailEvent, Member, Outbox, OutboxStatus, Post, RawMessage, db
from tests.mailgate.mails import SELECTOR, TOPIC_ADDRESS, fixture, mail, sign
from tests.support.dns_server import DnsServer
from tests.support.forum import cli, running_forum, write_settings

ANNA = "anna.andersson@molndal.se"
ERIK = "erik.nilsson@goteborg.se"
LENA = "lena.sjoberg@orebro.se"


@pytest.fixture(scope="module")
def dns_address(dkim_keys: dict[str, bytes]) -> Iterator[str]:
    records = {f"{SELECTOR}._domainkey.{d}": [dns_record(pem)] for d, pem in dkim_keys.items()}
    with DnsServer(records) as address:
        yield address


def start_forum(folder: Path, database_url: str, dns: str) -> Iterator[tuple[Forum, Settings]]:
    config = write_settings(
        folder, database_url=database_url, dns_resolver=dns, max_message_bytes="200000"
    )
    cli(config, "init")
    cli(config, "topic", "add", "maltider", "--name", "Offentliga måltider", "--owner", ANNA)
    for address, name in ((ANNA, "Anna Andersson"), (ERIK, "Erik Nilsson")):
        cli(
            config,
            "member",
            "add",
            address,
            "--name",
            name,
            "--topic",
            "maltider",
            "--mode",
            "each",
        )
    with running_forum(config) as running:
        yield running


@pytest.fixture
def forum(tmp_path: Path, ready_url: str, dns_address: str) -> Iterator[tuple[Forum, Settings]]:
    yield from start_forum(tmp_path, ready_url, dns_address)


class Sent:
    """What a forum wrote into its outbox folder."""

    def __init__(self, running: tuple[Forum, Settings]) -> None:
        self.factory = running[0].factory
        self.folder = running[1].path(running[1].outbox_dir)

    def mails(self) -> list[tuple[str, Message, bytes]]:
        found = sorted(self.folder.glob("*.eml")) if self.folder.exists() else []
        return [(rcpt, message_from_bytes(data), data) for _, rcpt, data in map(read_eml, found)]

    def wait_for(self, recipient: str, count: int = 1, timeout: float = 15) -> list[Message]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = [m for rcpt, m, _ in self.mails() if rcpt == recipient]
            if len(got) >= count:
                return got
            time.sleep(0.05)
        raise AssertionError(f"{count} mail(s) to {recipient} expected in {self.folder}")

    def to(self, recipient: str, timeout: float = 15) -> list[Message]:
        """Everything sent to `recipient` once the outbox has nothing left to send."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.factory() as session:
                queued = session.scalar(
                    select(func.count(Outbox.id)).where(Outbox.status == OutboxStatus.QUEUED)
                )
            if not queued:
                return [m for rcpt, m, _ in self.mails() if rcpt == recipient]
            time.sleep(0.05)
        raise AssertionError("the outbox did not empty")


def send(forum: Forum, sender: str, data: bytes, to: str = TOPIC_ADDRESS) -> tuple[int, bytes]:
    """One SMTP transaction; the answer to DATA (or the refusal before it)."""
    with smtplib.SMTP(*forum.smtp_address, timeout=30) as smtp:
        smtp.ehlo("mx.example.se")
        code, reply = smtp.mail(sender)
        if code != 250:
            return code, reply
        code, reply = smtp.rcpt(to)
        if code != 250:
            return code, reply
        return smtp.data(data)


def count(forum: Forum, model: type[object], *where: object) -> int:
    with forum.factory() as session:
        return session.scalar(select(func.count()).select_from(model).where(*where)) or 0  # type: ignore[arg-type]


def signed(
    keys: dict[str, bytes], sender: str, subject: str, body: str, message_id: str | None = None
) -> bytes:
    domain = sender.rpartition("@")[2].rstrip(">")
    return sign(mail(sender, subject, body, message_id=message_id), domain, keys[domain])


# -- a post or reply from a confirmed member whose mail authenticates -----------------------------


def test_member_post_is_committed_before_250_and_sent_on_and_a_reply_threads(
    forum: tuple[Forum, Settings], dkim_keys: dict[str, bytes]
) -> None:
    running, _ = forum
    question = signed(
        dkim_keys, f"Anna Andersson <{ANNA}>", "Matsvinn i skolan #svinn", "Hur gör ni?",
        message_id="q1@molndal.se",
    )  # fmt: skip
    code, reply = send(running, ANNA, question)
    assert (code, reply[:6]) == (250, b"2.0.0 ")
    # 250 came after the commit: the post is there the moment the answer is read.
    with running.factory() as session:
        post = session.scalars(select(Post).where(Post.message_id == "q1@molndal.se")).one()
        assert post.new_text == "Hur gör ni?" and post.thread.subject == "Matsvinn i skolan"
        assert [t.name for t in post.thread.tags] == ["svinn"]

    sent = Sent(forum)
    (copy,) = sent.wait_for(ERIK)
    assert copy["Message-ID"] == "<q1@molndal.se>"
    reply_to = str(copy["Reply-To"])
    assert reply_to.startswith("maltider+") and reply_to.endswith("@forum.localhost")

    answer = signed(
        dkim_keys, f"Erik Nilsson <{ERIK}>", "SV: Matsvinn i skolan", "Vi väger svinnet.",
        message_id="a1@goteborg.se",
    )  # fmt: skip
    assert send(running, ERIK, answer, to=reply_to)[0] == 250
    with running.factory() as session:
        reply_post = session.scalars(select(Post).where(Post.message_id == "a1@goteborg.se")).one()
        assert (reply_post.thread_id, reply_post.parent_id) == (post.thread_id, post.id)
    assert sent.wait_for(ANNA)[0]["In-Reply-To"] == "<q1@molndal.se>"
    assert [m["Message-ID"] for m in sent.to(ERIK)] == ["<q1@molndal.se>"]


# -- the same Message-ID again --------------------------------------------------------------------


def test_the_same_message_id_again_is_250_and_stored_once(
    forum: tuple[Forum, Settings], dkim_keys: dict[str, bytes]
) -> None:
    running, _ = forum
    data = signed(dkim_keys, f"Anna <{ANNA}>", "Frukost", "Hej", message_id="twice@molndal.se")
    assert send(running, ANNA, data)[0] == 250
    assert send(running, ANNA, data)[0] == 250
    assert count(running, Post) == 1 and count(running, RawMessage) == 1
    assert len(Sent(forum).to(ERIK)) == 1


# -- first post from an unknown address at a public-sector domain ---------------------------------


def test_unknown_colleague_is_held_asked_once_and_published_on_confirmation(
    forum: tuple[Forum, Settings], dkim_keys: dict[str, bytes]
) -> None:
    running, _ = forum
    first = signed(dkim_keys, f"Lena Sjöberg <{LENA}>", "Vegetariskt", "Hur?", message_id="l1@o")
    assert send(running, LENA, first)[0] == 250
    assert send(running, LENA, signed(dkim_keys, LENA, "Till", "Och?", message_id="l2@o"))[0] == 250
    assert count(running, Post) == 0 and count(running, HeldPost) == 2

    sent = Sent(forum)
    (request,) = sent.wait_for(LENA)
    assert len(sent.to(LENA)) == 1, "one confirmation mail, however many posts wait"
    assert request["Auto-Submitted"] == "auto-replied"
    confirm = str(request["Reply-To"])

    # Lena's mail program answers the confirmation; the answer needs no signature.
    answer = mail(f"Lena Sjöberg <{LENA}>", "SV: Bekräfta ditt inlägg", "Ja", to=confirm)
    assert send(running, LENA, answer, to=confirm)[0] == 250
    with running.factory() as session:
        lena = session.scalars(select(Member).where(Member.email == LENA)).one()
        assert lena.confirmed_at is not None
        posts = session.scalars(select(Post).order_by(Post.id)).all()
        assert [p.message_id for p in posts] == ["l1@o", "l2@o"]
        assert {p.member_id for p in posts} == {lena.id}
    assert len(sent.wait_for(ANNA, 2)) == 2 and len(sent.wait_for(ERIK, 2)) == 2


# -- an address outside the public-sector registry ------------------------------------------------


def test_address_outside_the_registry_is_refused_saying_who_may_post(
    forum: tuple[Forum, Settings], dkim_keys: dict[str, bytes]
) -> None:
    running, _ = forum
    offer = signed(dkim_keys, "Säljare <saljare@leverantor.se>", "Erbjudande", "Köp grytor!")
    code, reply = send(running, "saljare@leverantor.se", offer)
    assert (code, reply[:6]) == (550, b"5.7.1 ")
    words = reply.decode()
    assert "offentliga organisationer" in words and "public-sector organisations" in words
    assert "forumets agare" in words  # where to ask (ASCII: the client did not ask for UTF-8)
    assert count(running, RawMessage) == 0


# -- a From that does not authenticate (DKIM pass, fail and missing) ------------------------------


@pytest.mark.parametrize("case", ["pass", "altered", "missing", "other domain"])
def test_dkim_decides_whether_a_post_gets_in(
    forum: tuple[Forum, Settings], dkim_keys: dict[str, bytes], case: str
) -> None:
    running, _ = forum
    message_id = f"{case.replace(' ', '-')}@m"
    data = mail(f"Anna <{ANNA}>", "Allergier", "Hur märker ni maten?", message_id=message_id)
    if case == "pass":
        data = sign(data, "molndal.se", dkim_keys["molndal.se"])
    elif case == "altered":
        data = sign(data, "molndal.se", dkim_keys["molndal.se"]).replace(b"maten", b"salt")
    elif case == "other domain":
        data = sign(data, "leverantor.se", dkim_keys["leverantor.se"])
    code, reply = send(running, ANNA, data)
    if case == "pass":
        assert code == 250 and count(running, Post) == 1
        return
    assert (code, reply[:6]) == (550, b"5.7.1 ")
    assert b"kunde inte verifiera" in reply and b"could not verify" in reply
    assert count(running, Post) == 0 and count(running, RawMessage) == 0
    with running.factory() as session:
        why = session.scalars(
            select(MailEvent.detail).where(
                MailEvent.message_id == message_id, MailEvent.step == "authenticate"
            )
        ).one()
    assert {"altered": "dkim=fail", "missing": "no DKIM", "other domain": "no aligned"}[case] in why


# -- automatic mail: accepted, dropped, never answered, logged ------------------------------------


def test_automatic_mail_is_accepted_and_dropped_without_an_answer(
    forum: tuple[Forum, Settings], dkim_keys: dict[str, bytes]
) -> None:
    running, _ = forum
    sent = Sent(forum)
    post = signed(dkim_keys, f"Anna <{ANNA}>", "Schema", "Nytt schema.", message_id="orig@m")
    assert send(running, ANNA, post)[0] == 250
    sent.wait_for(ERIK)
    _, _, copy_bytes = next(m for m in sent.mails() if m[0] == ERIK)

    assert send(running, "", fixture("exchange-oof"))[0] == 250  # out of office, null sender
    assert send(running, "", fixture("bounce-dsn"))[0] == 250  # a bounce to the post address
    # Our own copy coming back, e.g. forwarded by a rule; the List-Id says it is ours.
    looped = copy_bytes.replace(b"Message-ID: <orig@m>", b"Message-ID: <looped@m>")
    assert send(running, ERIK, looped)[0] == 250

    assert count(running, Post) == 1 and count(running, HeldPost) == 0
    assert sent.to(ANNA) == [] and len(sent.to(ERIK)) == 1
    with running.factory() as session:
        drops = session.scalars(
            select(MailEvent.detail).where(MailEvent.verdict == "drop").order_by(MailEvent.id)
        ).all()
    assert [d.split(":")[0] for d in drops] == [
        "250 2.0.0 auto-reply",
        "250 2.0.0 bounce",
        "250 2.0.0 loop",
    ]


# -- too large ------------------------------------------------------------------------------------


def test_too_large_is_552_when_announced_and_when_sent(forum: tuple[Forum, Settings]) -> None:
    running, _ = forum
    with smtplib.SMTP(*running.smtp_address, timeout=30) as smtp:
        smtp.ehlo("mx.molndal.se")
        assert smtp.esmtp_features["size"] == "200000"
        code, reply = smtp.mail(ANNA, ["SIZE=500000"])
        assert (code, reply[:6]) == (552, b"5.3.4 ")
        smtp.rset()
        smtp.mail(ANNA)
        smtp.rcpt(TOPIC_ADDRESS)
        code, reply = smtp.data(mail(f"Anna <{ANNA}>", "Stor", "x" * 300_000))
        assert (code, reply[:6]) == (552, b"5.3.4 ")


# -- an unknown topic address ---------------------------------------------------------------------


def test_unknown_topic_is_550_5_1_1_at_rcpt_and_every_forum_address_is_known(
    forum: tuple[Forum, Settings],
) -> None:
    running, _ = forum
    with smtplib.SMTP(*running.smtp_address, timeout=30) as smtp:
        smtp.ehlo("mx.molndal.se")
        smtp.mail(ANNA)
        code, reply = smtp.rcpt("finnsinte@forum.localhost")
        assert (code, reply[:6]) == (550, b"5.1.1 ")
        code, reply = smtp.rcpt("maltider+aaaa-bbbbbbbbbbbbb@forum.localhost")
        assert (code, reply[:6]) == (550, b"5.1.1 ")
        for known in ("maltider", "maltider-join", "maltider-leave", "maltider-request"):
            assert smtp.rcpt(f"{known}@forum.localhost")[0] == 250, known
        assert smtp.rcpt("maltider-owner@forum.localhost")[0] == 250
        assert smtp.rcpt("maltider-bounces+anna.andersson=molndal.se@forum.localhost")[0] == 250


def test_a_command_to_the_request_address_is_answered(forum: tuple[Forum, Settings]) -> None:
    running, _ = forum
    help_request = mail(f"Lena <{LENA}>", "hjälp", "", to="maltider-request@forum.localhost")
    assert send(running, LENA, help_request, to="maltider-request@forum.localhost")[0] == 250
    (answer,) = Sent(forum).wait_for(LENA)
    assert "sammanfattning vecka" in answer.get_payload(decode=True).decode()  # type: ignore[union-attr]


# -- the database unavailable or locked too long --------------------------------------------------


@pytest.fixture
def impatient_forum(
    tmp_path: Path, ready_url: str, dns_address: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Forum, Settings, str]]:
    """A forum that waits only 0.3 s for a database lock (SQLite busy timeout, gateway wait)."""
    monkeypatch.setattr(db, "SQLITE_BUSY_TIMEOUT_MS", 300)
    for running in start_forum(tmp_path, ready_url, dns_address):
        yield running[0], running[1], ready_url


def hold_lock(url: str) -> tuple[object, object]:
    """Another program holding the write lock: the whole database (SQLite), raw_message (PG)."""
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    connection = engine.connect()
    if engine.dialect.name == "sqlite":
        connection.exec_driver_sql("BEGIN EXCLUSIVE")
    else:
        connection.exec_driver_sql("BEGIN")
        connection.execute(text("LOCK TABLE raw_message IN ACCESS EXCLUSIVE MODE"))
    return engine, connection


def test_database_locked_is_451_and_the_retried_mail_is_stored_once(
    impatient_forum: tuple[Forum, Settings, str], dkim_keys: dict[str, bytes]
) -> None:
    running, _, url = impatient_forum
    data = signed(dkim_keys, f"Anna <{ANNA}>", "Låst", "Försöker igen.", message_id="lock@m")
    engine, connection = hold_lock(url)
    try:
        code, reply = send(running, ANNA, data)
    finally:
        connection.exec_driver_sql("ROLLBACK")  # type: ignore[attr-defined]
        connection.close()  # type: ignore[attr-defined]
        engine.dispose()  # type: ignore[attr-defined]
    assert (code, reply[:6]) == (451, b"4.3.0 ")
    assert b"nothing was lost" in reply and b"locked" not in reply

    assert send(running, ANNA, data)[0] == 250  # the sender's server tries again
    assert send(running, ANNA, data)[0] == 250  # and once more, after a lost answer
    assert count(running, Post, Post.message_id == "lock@m") == 1
    assert count(running, RawMessage) == 1


# -- anything malformed ---------------------------------------------------------------------------


def test_malformed_mail_gets_a_clear_refusal_or_is_posted_with_its_readable_part(
    forum: tuple[Forum, Settings], dkim_keys: dict[str, bytes]
) -> None:
    running, _ = forum
    code, reply = send(running, ANNA, b"this is not a mail at all\r\n\xff\xfe\r\n")
    assert (code, reply[:6]) == (550, b"5.6.0 ")
    assert b"(From)" in reply

    broken = (
        f"From: Anna Andersson <{ANNA}>\r\nTo: {TOPIC_ADDRESS}\r\nSubject: Trasig\r\n"
        "Message-ID: <broken@m>\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/mixed; boundary="XX"\r\n\r\n'
        "--XX\r\nContent-Type: text/plain; charset=utf-8\r\n"
        "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
        "Det h=C3=A4r g=C3=A5r att l=C3=A4sa.\r\n"
        "--XX\r\nContent-Type: application/pdf; name=x.pdf\r\n"
        "Content-Transfer-Encoding: base64\r\n\r\n%%%not base64%%%\r\n"
    ).encode()  # and no closing boundary
    code, _ = send(running, ANNA, sign(broken, "molndal.se", dkim_keys["molndal.se"]))
    assert code == 250
    with running.factory() as session:
        post = session.scalars(select(Post).where(Post.message_id == "broken@m")).one()
        assert post.new_text.startswith("Det här går att läsa.")
