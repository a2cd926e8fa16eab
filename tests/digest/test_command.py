"""`delapost digest send`: now, as a dry run that records nothing, or one preview."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from delapost.cli import main as delapost_main
from delapost.secret import read_secret
from delapost.settings import load
from mailgate.outbound import ListContext, OutboxWorker, SmtpRelay
from models import DigestRun, Member, Outbox, OutboxKind, Topic, utcnow
from models.db import make_engine, make_sessionmaker, unit_of_work
from tests.digest.content import answer, start_thread
from tests.digest.reading import parse, parts
from tests.support.forum import cli, write_settings
from tests.support.smtp_sink import SmtpSink


@pytest.fixture
def forum(tmp_path: Path, database_url: str) -> Iterator[tuple[Path, sessionmaker[Session]]]:
    """A forum set up by the command, with a topic a month old and a day of posts."""
    config = write_settings(tmp_path, database_url=database_url)
    cli(config, "init")
    cli(config, "topic", "add", "kost", "--name", "Kost och måltider")
    for email, name, mode in (
        ("anna.andersson@molndal.se", "Anna Andersson", "weekly"),
        ("erik.nilsson@goteborg.se", "Erik Nilsson", "weekly"),
        ("asa.oberg@vaxjo.se", "Åsa Öberg", "daily"),
    ):
        cli(config, "member", "add", email, "--name", name, "--topic", "kost", "--mode", mode)
    engine = make_engine(load(config, environ={}).database_url_resolved)
    factory = make_sessionmaker(engine)
    now = utcnow()
    with unit_of_work(factory) as session:
        session.execute(update(Topic).values(created_at=now - timedelta(days=30)))
        anna, erik = session.scalars(select(Member).order_by(Member.id)).all()[:2]
        topic = session.scalars(select(Topic)).one()
        first = start_thread(
            session,
            topic,
            anna,
            "Laktosfri mjölk i förskolan",
            "Vem levererar laktosfri mjölk?\n",
            now - timedelta(hours=20),
        )
        answer(session, first, erik, "Arla, via grossisten.", now - timedelta(hours=2))
    yield config, factory
    engine.dispose()


def counts(factory: sessionmaker[Session]) -> tuple[int, int]:
    with factory() as session:
        return (
            session.scalar(select(func.count(DigestRun.id))) or 0,
            session.scalar(select(func.count(Outbox.id))) or 0,
        )


def run(config: Path, *args: str) -> int:
    return delapost_main(["--config", str(config), "digest", "send", *args])


def test_dry_run_prints_the_text_and_records_nothing(
    forum: tuple[Path, sessionmaker[Session]], capsys: pytest.CaptureFixture[str]
) -> None:
    config, factory = forum

    assert run(config, "--topic", "kost", "--period", "weekly", "--dry-run") == 0

    out = capsys.readouterr().out
    assert out.startswith("Subject: [kost] Sammanfattning vecka ")
    assert "1 ny tråd, 1 nytt svar" in out.splitlines()[0]
    assert "* Laktosfri mjölk i förskolan" in out
    assert "   Svara: mailto:kost+" in out
    assert "<html" not in out
    assert counts(factory) == (0, 0)


def test_to_sends_one_preview_to_that_address_only_and_records_nothing(
    forum: tuple[Path, sessionmaker[Session]], capsys: pytest.CaptureFixture[str]
) -> None:
    config, factory = forum

    assert run(config, "--topic", "kost", "--period", "weekly", "--to", "chef@molndal.se") == 0

    assert capsys.readouterr().out == (
        "kost: a preview of the weekly digest is queued for chef@molndal.se.\n"
    )
    with factory() as session:
        kinds = session.execute(select(Outbox.kind, Outbox.recipient)).all()
        assert [tuple(row) for row in kinds] == [(OutboxKind.NOTICE, "chef@molndal.se")]
        assert session.scalar(select(func.count(DigestRun.id))) == 0
    settings = load(config, environ={})
    lc = ListContext(
        settings.list_domain,
        settings.base_url,
        read_secret(settings.path(settings.secret_key_file)),
    )
    with SmtpSink() as sink:
        relay = SmtpRelay(sink.host, sink.port, local_hostname="localhost", timeout=5)

        async def send() -> int:
            try:
                return await OutboxWorker(factory, lc, relay).run_once()
            finally:
                await relay.close()

        assert asyncio.run(send()) == 1
    assert [r.rcpt_tos for r in sink.received] == [("chef@molndal.se",)]
    preview = parse(sink.received[0].data)
    assert preview.get_content_type() == "multipart/alternative"
    text, _ = parts(preview)
    assert "* Laktosfri mjölk i förskolan" in text


def test_send_queues_the_digest_now_and_then_finds_nothing_new(
    forum: tuple[Path, sessionmaker[Session]], capsys: pytest.CaptureFixture[str]
) -> None:
    config, factory = forum

    assert run(config, "--topic", "kost", "--period", "weekly") == 0
    assert run(config, "--topic", "kost", "--period", "weekly") == 0

    first, second = capsys.readouterr().out.splitlines()
    assert first.startswith("kost: weekly digest (run #1): 1 new thread, 1 reply;")
    assert first.endswith("2 copies queued for the outbox.")
    assert second == "kost: nothing has arrived since the last weekly digest: none sent."
    with factory() as session:
        recipients = session.scalars(
            select(Outbox.recipient).where(Outbox.kind == OutboxKind.DIGEST)
        ).all()
    assert sorted(recipients) == ["anna.andersson@molndal.se", "erik.nilsson@goteborg.se"]


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--topic", "nope", "--period", "weekly"], "no topic 'nope'"),
        (["--topic", "kost", "--period", "weekly", "--dry-run", "--to", "a@b.se"], "choose one"),
        (["--topic", "kost", "--period", "weekly", "--to", "inte en adress"], "--to"),
    ],
)
def test_mistakes_get_one_line(
    forum: tuple[Path, sessionmaker[Session]],
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    words: str,
) -> None:
    config, factory = forum

    assert run(config, *args) == 1

    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and words in err
    assert counts(factory) == (0, 0)


def test_a_period_that_does_not_exist_gets_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        run(write_settings(tmp_path), "--topic", "kost", "--period", "hourly")
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "--period" in err
    with pytest.raises(SystemExit) as help_:
        delapost_main(["digest", "send", "--help"])
    assert help_.value.code == 0
    assert "--dry-run" in capsys.readouterr().out
