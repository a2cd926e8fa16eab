"""The outbox worker runs in a process of its own: copies go out even after it dies."""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import time
from pathlib import Path

import pytest

from delapost.serve import Forum
from delapost.settings import Settings
from mailgate.outbound.transport import read_eml
from tests.support.forum import ANNA, running_forum, send_post, set_up_forum

ERIK = ("erik.nilsson@goteborg.se", "Erik Nilsson", "each")


def post(forum: Forum, message_id: str) -> None:
    code, _ = send_post(forum, "anna.andersson@molndal.se", message_id)
    assert code == 250


def recipients_of_copies(settings: Settings, count: int, timeout: float = 30) -> list[str]:
    folder = settings.path(settings.outbox_dir)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        files = sorted(folder.glob("*.eml")) if folder.exists() else []
        if len(files) >= count:
            return sorted(read_eml(f)[1] for f in files)
        time.sleep(0.05)
    raise AssertionError(f"expected {count} copies in {folder}")


def outbox_workers() -> list[multiprocessing.process.BaseProcess]:
    return [p for p in multiprocessing.active_children() if p.name == "delapost-outbox"]


def test_copies_go_out_after_the_outbox_worker_was_killed(
    tmp_path: Path, database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    config = set_up_forum(
        tmp_path, members=(ANNA, ERIK), database_url=database_url, sender_auth="none"
    )
    caplog.set_level(logging.INFO, logger="delapost")
    with running_forum(config) as (forum, settings):
        (worker,) = outbox_workers()
        first = worker.pid
        assert first is not None and first != os.getpid()
        post(forum, "forst@molndal.se")
        assert recipients_of_copies(settings, 1) == ["erik.nilsson@goteborg.se"]

        os.kill(first, signal.SIGKILL)
        post(forum, "sedan@molndal.se")
        assert recipients_of_copies(settings, 2) == ["erik.nilsson@goteborg.se"] * 2
        (again,) = outbox_workers()
        assert again.pid != first
    assert "the outbox worker stopped (exit code -9)" in caplog.text
    # The worker's own lines reach the log of `serve`, once from each process.
    assert caplog.text.count("outbox worker started") == 2
    assert outbox_workers() == []


def test_serve_stops_cleanly_while_it_waits_to_start_the_worker_again(tmp_path: Path) -> None:
    config = set_up_forum(tmp_path, sender_auth="none")
    with running_forum(config):
        (worker,) = outbox_workers()
        assert worker.pid is not None
        os.kill(worker.pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while outbox_workers() and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(1.2)  # noticed, and waiting the first pause before a new start
    # Leaving the block stopped the forum; it fails the test if `serve` raised on the way out.
    assert outbox_workers() == []
