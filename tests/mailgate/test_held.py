"""Held posts: owners decide by mail, or an operator from the shell; old ones expire."""

from __future__ import annotations

from email import message_from_bytes
from email.message import EmailMessage
from email.policy import SMTP, default
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from delapost import admin
from delapost.cli import main as delapost_main
from mailgate import held
from mailgate.config import GatewayConfig
from mailgate.held import HeldError
from mailgate.inbound import Inbound
from mailgate.pipeline import Pipeline
from mailgate.verdict import Accept, Hold
from models import HeldPost, HeldStatus, Mode, Outbox, Post
from models.db import unit_of_work
from tests.conftest import Clock
from tests.support.forum import cli, write_settings


def config(clock: Clock) -> GatewayConfig:
    return GatewayConfig(
        list_domain="forum.localhost",
        base_url="https://forum.example.se",
        secret=b"k" * 32,
        sender_auth="none",
        clock=clock,
    )


def setup(factory: sessionmaker[Session], clock: Clock) -> None:
    with unit_of_work(factory) as session:
        admin.add_topic(
            session, "maltider", "Offentliga måltider", "", clock(), owners=("agare@skr.se",)
        )
        admin.add_member(
            session,
            "anna.andersson@molndal.se",
            "Anna",
            clock(),
            topic_slug="maltider",
            mode=Mode.EACH,
        )


def deliver(
    factory: sessionmaker[Session], clock: Clock, sender: str, to: str, subject: str, body: str
) -> object:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message["Message-ID"] = f"<{abs(hash((sender, to, subject, body)))}@test.se>"
    message.set_content(body)
    pipeline = Pipeline(factory, config(clock))
    try:
        return pipeline.deliver_now(
            Inbound(sender, (to,), message.as_bytes(policy=SMTP), "127.0.0.1", clock())
        )
    finally:
        pipeline.close()


def notices_to(factory: sessionmaker[Session], address: str) -> list[EmailMessage]:
    with factory() as session:
        rows = session.scalars(select(Outbox.message).where(Outbox.recipient == address)).all()
    return [message_from_bytes(m, policy=default) for m in rows if m is not None]  # type: ignore[misc]


def text_of(message: EmailMessage) -> str:
    payload = message.get_payload(decode=True)
    assert isinstance(payload, bytes)
    return payload.decode("utf-8")


def hold_one(factory: sessionmaker[Session], clock: Clock) -> int:
    verdict = deliver(
        factory,
        clock,
        "erik.nilsson@goteborg.se",
        "maltider@forum.localhost",
        "Ny här: frågor om specialkost",
        "Hej! Hur hanterar ni specialkost i förskolan?",
    )
    assert isinstance(verdict, Hold)
    with factory() as session:
        return session.scalars(select(HeldPost.id)).one()


def test_owners_get_one_notice_and_release_by_replying(
    factory: sessionmaker[Session], clock: Clock
) -> None:
    setup(factory, clock)
    held_id = hold_one(factory, clock)
    [notice] = notices_to(factory, "agare@skr.se")
    body = text_of(notice)
    assert "Ny här: frågor om specialkost" in body and "erik.nilsson@goteborg.se" in body
    release_address = next(
        line.split()[-1] for line in body.splitlines() if line.startswith("Publicera")
    )
    assert release_address.startswith("maltider-owner+")
    # Someone else who learns the address cannot decide.
    deliver(factory, clock, "nagon@molndal.se", release_address, "SV: vänta", "")
    with factory() as session:
        assert session.get(HeldPost, held_id).status is HeldStatus.HELD  # type: ignore[union-attr]
    verdict = deliver(factory, clock, "agare@skr.se", release_address, "SV: väntar", "")
    assert isinstance(verdict, Accept)
    with factory() as session:
        assert session.get(HeldPost, held_id).status is HeldStatus.RELEASED  # type: ignore[union-attr]
        post = session.scalars(select(Post)).one()
        assert "specialkost i förskolan" in post.new_text
        copies = session.scalar(select(func.count(Outbox.id)).where(Outbox.post_id == post.id))
        assert copies == 1  # Anna, in mode each


def test_refusing_tells_the_sender_why_once(factory: sessionmaker[Session], clock: Clock) -> None:
    setup(factory, clock)
    held_id = hold_one(factory, clock)
    with unit_of_work(factory) as session:
        held.refuse(session, held_id, "Frågan hör hemma i ämnet Förskola.", config(clock), clock())
    with unit_of_work(factory) as session, pytest.raises(HeldError, match="refused already"):
        held.refuse(session, held_id, "igen", config(clock), clock())
    refusals = [
        m
        for m in notices_to(factory, "erik.nilsson@goteborg.se")
        if "publicerades inte" in str(m["Subject"])
    ]
    assert len(refusals) == 1
    assert "Frågan hör hemma i ämnet Förskola." in text_of(refusals[0])
    with factory() as session:
        assert session.scalar(select(func.count(Post.id))) == 0


def test_the_shell_lists_and_releases(factory: sessionmaker[Session], clock: Clock) -> None:
    setup(factory, clock)
    held_id = hold_one(factory, clock)
    with factory() as session:
        [line] = held.list_held(session, "maltider")
        assert line.id == held_id and line.subject == "Ny här: frågor om specialkost"
        assert "confirmation" in line.reason
    with unit_of_work(factory) as session:
        assert "released" in held.release(session, held_id, config(clock), clock())
    with factory() as session:
        assert held.list_held(session) == []
        assert session.scalar(select(func.count(Post.id))) == 1
    with unit_of_work(factory) as session, pytest.raises(HeldError, match="released already"):
        held.release(session, held_id, config(clock), clock())


def test_held_posts_expire_after_14_days_and_owners_are_told(
    factory: sessionmaker[Session], clock: Clock
) -> None:
    setup(factory, clock)
    held_id = hold_one(factory, clock)
    clock.advance(days=13)
    with unit_of_work(factory) as session:
        assert held.expire_held(session, config(clock), clock()) == 0
    clock.advance(days=2)
    with unit_of_work(factory) as session:
        assert held.expire_held(session, config(clock), clock()) == 1
    with factory() as session:
        assert session.get(HeldPost, held_id).status is HeldStatus.EXPIRED  # type: ignore[union-attr]
    assert any("Borttaget ur kön" in str(m["Subject"]) for m in notices_to(factory, "agare@skr.se"))


def test_the_held_command(
    factory: sessionmaker[Session],
    clock: Clock,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    url = factory.kw["bind"].url.render_as_string(hide_password=False)
    config_file = write_settings(tmp_path, database_url=url)
    cli(config_file, "init")
    setup(factory, clock)
    held_id = hold_one(factory, clock)
    capsys.readouterr()
    cli(config_file, "held", "list", "--topic", "maltider")
    listed = capsys.readouterr().out
    assert f"#{held_id}\tmaltider\t" in listed and "Ny här: frågor om specialkost" in listed
    cli(config_file, "held", "refuse", str(held_id), "--reason", "Fel ämne.")
    assert f"held post #{held_id} refused" in capsys.readouterr().out
    assert delapost_main(["--config", str(config_file), "held", "release", str(held_id)]) == 1
    assert capsys.readouterr().err.strip() == f"delapost: held post #{held_id} was refused already"
    cli(config_file, "held", "list")
    assert capsys.readouterr().out.strip() == "Nothing is held."
