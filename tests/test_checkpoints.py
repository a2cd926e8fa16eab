"""`serve` moves SQLite's write-ahead log into the database file itself, off the SMTP path."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from sqlalchemy.engine import make_url

from tests.support.forum import running_forum, set_up_forum
from tests.test_outbox_process import post


def posts_in_the_database_file(database: Path) -> int:
    """Posts found in the main file alone: `immutable` makes SQLite ignore the log."""
    with sqlite3.connect(f"file:{database}?immutable=1", uri=True) as connection:
        (count,) = connection.execute("SELECT count(*) FROM post").fetchone()
    return int(count)


def test_accepted_posts_reach_the_database_file_within_seconds(tmp_path: Path) -> None:
    config = set_up_forum(tmp_path, sender_auth="none")
    with running_forum(config) as (forum, settings):
        database = Path(make_url(settings.database_url_resolved).database or "")
        for number in range(3):
            post(forum, f"fil-{number}@molndal.se")
        deadline = time.monotonic() + 10
        while posts_in_the_database_file(database) < 3 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert posts_in_the_database_file(database) == 3
