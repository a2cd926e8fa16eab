"""A forum that was down when the daily digest was due sends it on start-up, once, by relay."""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select, update

from delapost.schedule_spec import parse_daily
from delapost.settings import load
from digest.period import Period
from digest.schedule import DigestSchedule
from models import DigestRun, Member, Topic, utcnow
from models.db import make_engine, make_sessionmaker, unit_of_work
from tests.digest.content import STOCKHOLM, answer, start_thread
from tests.digest.reading import outline, parse, parts
from tests.support.forum import cli, running_forum, write_settings
from tests.support.smtp_sink import SmtpSink


def test_the_missed_daily_digest_arrives_once_signed_multipart_with_list_headers(
    tmp_path: Path, database_url: str
) -> None:
    # The daily digest was due three hours ago, far from now whenever the test runs.
    due = (datetime.now(STOCKHOLM) - timedelta(hours=3)).strftime("%H:%M")
    with SmtpSink() as sink:
        config = write_settings(
            tmp_path,
            database_url=database_url,
            relay=f"{sink.host}:{sink.port}",
            relay_tls="none",
            list_domain="forum.example.se",
            digest_daily=due,
        )
        cli(config, "init")
        cli(config, "dkim", "keygen")
        cli(config, "topic", "add", "kost", "--name", "Kost och måltider")
        cli(config, "member", "add", "anna.andersson@molndal.se", "--name", "Anna Andersson")
        cli(
            config,
            *("member", "add", "asa.oberg@vaxjo.se", "--name", "Åsa Öberg"),
            *("--topic", "kost", "--mode", "daily"),
        )
        settings = load(config, environ={})
        schedule = DigestSchedule.of(settings.timezone, ("mon", 7, 0), parse_daily(due))
        due_at = schedule.latest_fire(Period.DAILY, utcnow())
        engine = make_engine(settings.database_url_resolved)
        factory = make_sessionmaker(engine)
        with unit_of_work(factory) as session:
            session.execute(update(Topic).values(created_at=due_at - timedelta(days=30)))
            anna, asa = session.scalars(select(Member).order_by(Member.id)).all()
            first = start_thread(
                session,
                session.scalars(select(Topic)).one(),
                anna,
                "Laktosfri mjölk i förskolan",
                "Vem levererar laktosfri mjölk till förskolorna?\n",
                due_at - timedelta(hours=5),
            )
            answer(session, first, asa, "Arla, via grossisten.", due_at - timedelta(hours=2))

        with running_forum(config):
            received = sink.wait_for(1, timeout=20)
        with running_forum(config):  # down and up again: nothing more is due
            time.sleep(1.5)
        with factory() as session:
            runs = dict(
                session.execute(
                    select(DigestRun.period, func.count(DigestRun.id)).group_by(DigestRun.period)
                ).all()
            )
        engine.dispose()

    assert len(received) == 1 and len(sink.received) == 1
    digest = received[0]
    assert digest.rcpt_tos == ("asa.oberg@vaxjo.se",)
    assert digest.envelope_from == "kost-bounces+asa.oberg=vaxjo.se@forum.example.se"
    assert digest.data.startswith(b"DKIM-Signature: ")
    message = parse(digest.data)
    assert message.get_content_type() == "multipart/alternative"
    assert message["Subject"].startswith("[kost] Sammanfattning ")
    assert message["Subject"].endswith(": 1 ny tråd, 1 nytt svar")
    assert message["List-Id"] == "Kost och måltider <kost.forum.example.se>"
    assert message["List-Unsubscribe"].startswith(f"<{settings.base_url}/u/")
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message["Reply-To"] == "kost-request@forum.example.se"
    text, html = parts(message)
    assert "* Laktosfri mjölk i förskolan" in text
    assert "   Svara: mailto:kost+" in text
    day = message["Subject"].removeprefix("[kost] Sammanfattning ").split(":")[0]
    assert ("h1", f"Kost och måltider: sammanfattning {day}") in outline(html).headings
    assert runs == {"daily": 1, "weekly": 1}  # the weekly one had no readers
