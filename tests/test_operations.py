"""What an operator relies on: /healthz, /metrics and `delapost why`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from delapost.cli import main as delapost_main
from delapost.serve import Forum
from delapost.settings import Settings
from tests.support.database import postgres_server_url
from tests.support.forum import running_forum, send_post, set_up_forum


@pytest.fixture
def forum(tmp_path: Path, database_url: str) -> Iterator[tuple[Forum, Settings, Path]]:
    config = set_up_forum(tmp_path, database_url=database_url, sender_auth="none")
    with running_forum(config) as (running, settings):
        yield running, settings, config


def metric(body: str, name: str, **labels: str) -> float:
    """One sample's value from the Prometheus text format, 0 when it is absent."""
    for family in text_string_to_metric_families(body):
        for sample in family.samples:
            if sample.name == name and sample.labels == labels:
                return float(sample.value)
    return 0.0


def test_metrics_move_when_mail_is_accepted_and_refused(
    forum: tuple[Forum, Settings, Path],
) -> None:
    running, settings, _ = forum
    with httpx.Client(base_url=settings.base_url, timeout=10) as web:
        before = web.get("/metrics")
        assert before.status_code == 200
        assert before.headers["content-type"].startswith("text/plain")
        assert send_post(running, "anna.andersson@molndal.se", "ok-1@molndal.se")[0] == 250
        assert send_post(running, "saljare@leverantor.se", "nej-1@leverantor.se")[0] == 550
        web.get("/maltider/")
        after = web.get("/metrics").text
    accepted = {"verdict": "accept", "status": "250 2.0.0"}
    refused = {"verdict": "reject", "status": "550 5.7.1"}
    assert metric(after, "delapost_mails_total", **accepted) == (
        metric(before.text, "delapost_mails_total", **accepted) + 1
    )
    assert metric(after, "delapost_mails_total", **refused) == (
        metric(before.text, "delapost_mails_total", **refused) + 1
    )
    assert metric(after, "delapost_posts_total") == 1
    assert 'delapost_http_request_duration_seconds_count{route="/{topic}/",status="200"}' in after


def test_why_tells_the_trail_of_an_accepted_and_a_refused_mail(
    forum: tuple[Forum, Settings, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    running, _, config = forum
    send_post(running, "anna.andersson@molndal.se", "ok-2@molndal.se")
    send_post(running, "saljare@leverantor.se", "nej-2@leverantor.se")
    capsys.readouterr()
    assert delapost_main(["--config", str(config), "why", "<ok-2@molndal.se>"]) == 0
    accepted = capsys.readouterr().out
    assert "member #" in accepted and "accept: 250 2.0.0" in accepted
    assert delapost_main(["--config", str(config), "why", "nej-2@leverantor.se"]) == 0
    refused = capsys.readouterr().out
    assert "leverantor.se is not in the public-sector registry" in refused
    assert "reject: 550 5.7.1" in refused
    assert delapost_main(["--config", str(config), "why", "aldrig@sett.se"]) == 1
    assert "no mail with Message-ID <aldrig@sett.se>" in capsys.readouterr().err


def test_healthz_turns_503_when_the_database_is_gone(
    forum: tuple[Forum, Settings, Path],
) -> None:
    _, settings, _ = forum
    with httpx.Client(base_url=settings.base_url, timeout=10) as web:
        healthy = web.get("/healthz")
        assert healthy.status_code == 200
        assert healthy.json() == {
            "status": "ok",
            "database": "ok",
            "scheduler": "running",
            "oldest_unsent_seconds": 0,
        }
        lose_database(settings)
        failing = web.get("/healthz")
        assert failing.status_code == 503
        assert failing.json()["database"] == "unreachable"
        assert failing.headers["x-robots-tag"].startswith("noindex")


def lose_database(settings: Settings) -> None:
    url = make_url(settings.database_url_resolved)
    if url.get_backend_name() == "sqlite":
        # Overwrite in place, so that even open connections find no database there.
        # Overwrite in place (open connections keep unlinked files alive), the write-ahead log
        # and its index included, so that every connection finds garbage where the data was.
        for name in (str(url.database), f"{url.database}-wal", f"{url.database}-shm"):
            path = Path(name)
            if path.exists():
                size = path.stat().st_size
                with path.open("r+b") as part:
                    part.write(b"\xff" * max(size, 4096))
        return
    server = postgres_server_url()
    assert server is not None
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE "{url.database}" WITH (FORCE)'))
    admin.dispose()
