"""Membership by mail against a running forum: join, confirm, forget, and no answers to robots."""

from __future__ import annotations

import smtplib
import time
from collections.abc import Iterator
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import SMTP, default
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from delapost.serve import Forum
from delapost.settings import Settings
from models import Member, Mode, Outbox, Subscription
from tests.support.dump import database_text
from tests.support.forum import running_forum, set_up_forum

DOMAIN = "forum.localhost"


@pytest.fixture
def forum(tmp_path: Path, database_url: str) -> Iterator[tuple[Forum, Settings]]:
    config = set_up_forum(tmp_path, database_url=database_url, sender_auth="none")
    with running_forum(config) as running:
        yield running


def send(forum: Forum, sender: str, to: str, subject: str, body: str = "", **headers: str) -> int:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    for name, value in headers.items():
        message[name.replace("_", "-")] = value
    message.set_content(body or "\n")
    address = sender.split("<")[-1].rstrip(">")
    with smtplib.SMTP(*forum.smtp_address, timeout=30) as smtp:
        refused = smtp.sendmail(address, [to], message.as_bytes(policy=SMTP))
    return 0 if not refused else 1


def notices(forum: Forum, address: str) -> list[EmailMessage]:
    with forum.factory() as session:
        rows = session.scalars(
            select(Outbox.message).where(Outbox.recipient == address).order_by(Outbox.id)
        ).all()
    return [message_from_bytes(m, policy=default) for m in rows if m]  # type: ignore[misc]


def confirm_token(message: EmailMessage) -> str:
    reply_to = str(message["Reply-To"])
    assert reply_to.startswith("maltider-confirm+"), reply_to
    return reply_to.split("+", 1)[1].split("@", 1)[0]


def wait_until(condition: object, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if callable(condition) and condition():
            return
        time.sleep(0.1)
    raise AssertionError("it did not happen in time")


def membership(forum: Forum, address: str) -> Mode | None:
    with forum.factory() as session:
        return session.scalar(
            select(Subscription.mode)
            .join(Member, Member.id == Subscription.member_id)
            .where(Member.email == address, Subscription.ended_at.is_(None))
        )


def test_join_by_mail_confirmed_on_the_web_page(forum: tuple[Forum, Settings]) -> None:
    running, settings = forum
    erik = "erik.nilsson@goteborg.se"
    send(running, f"Erik Nilsson <{erik}>", f"maltider-join@{DOMAIN}", "Gå med")
    [asked] = notices(running, erik)
    assert asked["Auto-Submitted"] == "auto-replied"
    token = confirm_token(asked)
    page = f"{settings.base_url}/confirm/{token}"
    assert page in asked.get_content()
    with httpx.Client(timeout=10) as web:
        assert web.get(page).status_code == 200
        time.sleep(2.5)  # longer than the gateway's look at web confirmations
        assert membership(running, erik) is None, "opening the link must not confirm"
        assert web.post(page).status_code == 200
    wait_until(lambda: membership(running, erik) is Mode.WEEKLY)


def test_join_by_mail_confirmed_by_replying(forum: tuple[Forum, Settings]) -> None:
    running, _ = forum
    erik = "erik.nilsson@goteborg.se"
    send(running, f"Erik Nilsson <{erik}>", f"maltider-request@{DOMAIN}", "join")
    [asked] = notices(running, erik)
    assert "Confirm that you want to join" in asked.get_content()
    send(running, f"Erik Nilsson <{erik}>", str(asked["Reply-To"]), "Re: Answer", "ja")
    assert membership(running, erik) is Mode.WEEKLY


def test_forget_me_leaves_no_trace_of_the_address(forum: tuple[Forum, Settings]) -> None:
    running, settings = forum
    anna = "anna.andersson@molndal.se"
    send(
        running,
        f"Anna Andersson <{anna}>",
        f"maltider@{DOMAIN}",
        "Matsvinn",
        "Hur väger ni svinnet?\n\nMvh\nAnna Andersson\n070-123 45 67\n",
        Message_ID="<svinn@molndal.se>",
    )
    send(running, f"Anna Andersson <{anna}>", f"maltider-request@{DOMAIN}", "glöm mig")
    asked = notices(running, anna)[-1]
    assert "glömmer dig" in asked.get_content()
    send(running, f"Anna Andersson <{anna}>", str(asked["Reply-To"]), "SV: Svar", "Ja, glöm mig.")

    assert anna not in database_text(running.factory)
    assert "Anna Andersson" not in database_text(running.factory)
    with httpx.Client(base_url=settings.base_url, timeout=10) as web:
        thread = web.get("/m/svinn@molndal.se", follow_redirects=True)
        assert thread.status_code == 200
        assert "Hur väger ni svinnet?" in thread.text
        assert "borttagen medlem" in thread.text.lower()
        assert "Mölndals stad" in thread.text
        for page in ("/", "/maltider/", "/maltider/atom.xml", "/search?q=svinnet"):
            text = web.get(page).text
            assert anna not in text and "Anna Andersson" not in text


def test_no_answer_to_automatic_mail_and_one_answer_a_day(forum: tuple[Forum, Settings]) -> None:
    running, _ = forum
    karin = "karin.lund@vaxjo.se"
    send(
        running,
        f"Karin <{karin}>",
        f"maltider-request@{DOMAIN}",
        "Automatiskt svar: hjälp",
        "Jag är på semester.",
        Auto_Submitted="auto-replied",
    )
    assert notices(running, karin) == []
    send(running, f"Karin <{karin}>", f"maltider-request@{DOMAIN}", "hjälp")
    send(running, f"Karin <{karin}>", f"maltider-request@{DOMAIN}", "hjälp")
    [answer] = notices(running, karin)
    assert "sammanfattning vecka" in answer.get_content()
