"""The thin path end to end: mail in over SMTP, copies out, the archive over HTTP."""

from __future__ import annotations

import smtplib
from collections.abc import Iterator
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import SMTP
from email.policy import default as default_policy
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
from sqlalchemy import func, select

from delapost.serve import Forum
from delapost.settings import Settings
from models import Member, Post, Subscription, Thread
from tests.support.dns_server import DnsServer
from tests.support.forum import ANNA, running_forum, set_up_forum


@pytest.fixture
def forum(tmp_path: Path, database_url: str) -> Iterator[tuple[Forum, Settings]]:
    config = set_up_forum(
        tmp_path,
        members=(
            ANNA,
            ("erik.nilsson@goteborg.se", "Erik Nilsson", "each"),
            ("maria.lindqvist@umea.se", "Maria Lindqvist", "weekly"),
        ),
        database_url=database_url,
        sender_auth="none",
    )
    with running_forum(config) as running:
        yield running


def mail(sender: str, subject: str, body: str, *, charset: str = "utf-8", **headers: str) -> bytes:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = "maltider@forum.localhost"
    message["Subject"] = subject
    for name, value in headers.items():
        message[name.replace("_", "-")] = value
    message.set_content(body, charset=charset, cte="quoted-printable")
    return message.as_bytes(policy=SMTP)  # CRLF, as mail servers send it


def send(forum: Forum, sender: str, data: bytes, to: str = "maltider@forum.localhost") -> None:
    with smtplib.SMTP(*forum.smtp_address, timeout=30) as smtp:
        smtp.sendmail(sender, [to], data)


def test_a_post_and_a_reply_reach_members_and_the_archive(
    forum: tuple[Forum, Settings],
) -> None:
    running, settings = forum
    send(
        running,
        "anna.andersson@molndal.se",
        mail(
            "Anna Andersson <anna.andersson@molndal.se>",
            "Matsvinn i skolan",
            "Hur minskar ni matsvinnet? Vi väger tallrikssvinnet varje dag.\n<b>fet</b>\n",
            Message_ID="<fraga-1@molndal.se>",
        ),
    )
    # 250 came after the commit: the post is there the moment sendmail returns.
    with running.factory() as session:
        first = session.scalar(select(Post).where(Post.message_id == "fraga-1@molndal.se"))
        assert first is not None
        thread_id = first.thread_id

    send(
        running,
        "erik.nilsson@goteborg.se",
        mail(
            "Erik Nilsson <erik.nilsson@goteborg.se>",
            "SV: Matsvinn i skolan",
            "Vi har sänkt svinnet med svinnvågar. Hälsningar från Göteborg!\n",
            charset="iso-8859-1",
            Message_ID="<svar-1@goteborg.se>",
            In_Reply_To="<fraga-1@molndal.se>",
            References="<fraga-1@molndal.se>",
        ),
    )
    with running.factory() as session:
        reply = session.scalar(select(Post).where(Post.message_id == "svar-1@goteborg.se"))
        assert reply is not None and reply.thread_id == thread_id
        assert session.scalar(select(func.count(Thread.id))) == 1

    with httpx.Client(base_url=settings.base_url, timeout=10) as web:
        start = web.get("/")
        assert start.status_code == 200 and "Offentliga måltider" in start.text
        topic = web.get("/maltider/")
        assert topic.status_code == 200 and "Matsvinn i skolan" in topic.text
        page = web.get(f"/maltider/t/{thread_id}")
        assert page.status_code == 200
        assert "tallrikssvinnet" in page.text
        assert "Hälsningar från Göteborg!" in page.text  # ISO-8859-1, quoted-printable
        assert "Mölndals stad" in page.text and "Göteborgs Stad" in page.text
        assert "<b>fet</b>" not in page.text and "&lt;b&gt;fet&lt;/b&gt;" in page.text
        assert "anna.andersson@molndal.se" not in page.text
        permalink = web.get("/m/" + quote("svar-1@goteborg.se"), follow_redirects=False)
        assert permalink.status_code in {301, 302, 303, 307, 308}
        assert permalink.headers["location"].split("#")[0].endswith(f"/maltider/t/{thread_id}")
        assert web.get("/maltider/t/999999").status_code == 404

    copies = wait_for_copies(settings, 2)
    by_recipient = {c["X-Envelope-To"] or c["To"]: c for c in copies}
    assert len(copies) == 2, "each member in mode each gets the other's post; nobody their own"
    anna_copy = next(c for c in copies if "Erik Nilsson" in str(c["From"]))
    assert str(anna_copy["From"]).startswith('"Erik Nilsson (Göteborgs Stad) via Offentliga')
    assert anna_copy["In-Reply-To"] == "<fraga-1@molndal.se>"
    assert by_recipient

    # One-click unsubscribe (RFC 8058) from the link in Anna's own copy: a link scanner's GET
    # changes nothing, the mail program's POST ends the subscription at once.
    link = str(anna_copy["List-Unsubscribe"]).split(",")[0].strip().strip("<>")
    assert link.startswith(settings.base_url + "/u/")
    assert anna_copy["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    with httpx.Client(timeout=10) as web:
        assert web.get(link).status_code == 200
        assert subscribed(running, "anna.andersson@molndal.se")
        answer = web.post(link, data={"List-Unsubscribe": "One-Click"})
        assert answer.status_code == 200
        assert not subscribed(running, "anna.andersson@molndal.se")
        assert subscribed(running, "erik.nilsson@goteborg.se")


def subscribed(forum: Forum, address: str) -> bool:
    with forum.factory() as session:
        ended = session.scalar(
            select(Subscription.ended_at)
            .join(Member, Member.id == Subscription.member_id)
            .where(Member.email == address)
        )
    return ended is None


def wait_for_copies(settings: Settings, count: int) -> list[EmailMessage]:
    import time

    folder = settings.path(settings.outbox_dir)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        files = sorted(folder.glob("*.eml")) if folder.exists() else []
        if len(files) >= count:
            time.sleep(0.3)  # let a late extra copy show itself
            files = sorted(folder.glob("*.eml"))
            return [
                message_from_bytes(f.read_bytes(), policy=default_policy)  # type: ignore[misc]
                for f in files
            ]
        time.sleep(0.05)
    raise AssertionError(f"expected {count} copies in {folder}")


def test_unknown_topic_and_outsiders_get_550(forum: tuple[Forum, Settings]) -> None:
    running, _ = forum
    with smtplib.SMTP(*running.smtp_address, timeout=30) as smtp:
        smtp.ehlo("mx.molndal.se")
        smtp.mail("anna.andersson@molndal.se")
        code, text = smtp.rcpt("finnsinte@forum.localhost")
        assert code == 550 and text.startswith(b"5.1.1")
        smtp.rset()
        smtp.mail("saljare@leverantor.se")
        assert smtp.rcpt("maltider@forum.localhost")[0] == 250
        code, text = smtp.data(
            mail("Säljare <saljare@leverantor.se>", "Erbjudande", "Köp våra grytor!")
        )
        assert code == 550 and text.startswith(b"5.7.1")
        words = text.decode()
        assert "offentliga organisationer" in words and "public-sector organisations" in words


def test_serve_with_dmarc_refuses_unsigned_mail(tmp_path: Path, database_url: str) -> None:
    with DnsServer({}) as dns:
        config = set_up_forum(tmp_path, database_url=database_url, dns_resolver=dns)
        with running_forum(config) as (running, _):
            with smtplib.SMTP(*running.smtp_address, timeout=30) as smtp:
                smtp.ehlo("mx.molndal.se")
                smtp.mail("anna.andersson@molndal.se")
                smtp.rcpt("maltider@forum.localhost")
                code, text = smtp.data(mail("Anna <anna.andersson@molndal.se>", "Osignerat", "Hej"))
            assert code == 550 and text.startswith(b"5.7.1")
            with running.factory() as session:
                assert session.scalar(select(func.count(Post.id))) == 0
