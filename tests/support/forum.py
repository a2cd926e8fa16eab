"""A whole delapost forum (`delapost serve`'s loop) running in a thread, for end-to-end tests."""

from __future__ import annotations

import asyncio
import gc
import smtplib
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from email.message import EmailMessage
from email.policy import SMTP
from pathlib import Path

from delapost.cli import main as delapost_main
from delapost.database import NotReady
from delapost.serve import Forum, serve
from delapost.settings import Settings, load


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def write_settings(folder: Path, **values: str) -> Path:
    """A settings file on free loopback ports; `values` add to or override it."""
    http_port = free_port()
    settings = {
        "smtp_listen": f"127.0.0.1:{free_port()}",
        "http_listen": f"127.0.0.1:{http_port}",
        "base_url": f"http://127.0.0.1:{http_port}",
        "list_domain": "forum.localhost",
        **values,
    }
    path = folder / "delapost.toml"
    path.write_text("".join(f'{key} = "{value}"\n' for key, value in settings.items()), "utf-8")
    return path


def cli(config: Path, *args: str) -> None:
    """Run a `delapost` command in this process; fail the test if it fails."""
    assert delapost_main(["--config", str(config), *args]) == 0


def _move_to_new_ports(config: Path) -> None:
    """Give the forum other free ports: another process took one between choosing and binding."""
    http_port = free_port()
    fresh = {
        "smtp_listen": f"127.0.0.1:{free_port()}",
        "http_listen": f"127.0.0.1:{http_port}",
        "base_url": f"http://127.0.0.1:{http_port}",
    }
    lines = []
    for line in config.read_text("utf-8").splitlines():
        key = line.split("=", 1)[0].strip()
        lines.append(f'{key} = "{fresh[key]}"' if key in fresh else line)
    config.write_text("\n".join(lines) + "\n", "utf-8")


@contextmanager
def running_forum(config: Path, attempts: int = 3) -> Iterator[tuple[Forum, Settings]]:
    for attempt in range(attempts):
        try:
            started = _start(config)
        except OSError:
            if attempt == attempts - 1:
                raise
            _move_to_new_ports(config)
            continue
        break
    forum, settings, stop_forum = started
    try:
        yield forum, settings
    finally:
        stop_forum()


def _start(config: Path) -> tuple[Forum, Settings, Callable[[], None]]:
    settings = load(config, environ={})
    ready = threading.Event()
    forums: list[Forum] = []
    failures: list[BaseException] = []
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()

    def on_ready(forum: Forum) -> None:
        forums.append(forum)
        ready.set()

    def run() -> None:
        try:
            loop.run_until_complete(serve(settings, stop=stop, on_ready=on_ready))
        except BaseException as exc:
            failures.append(exc)
            ready.set()
        finally:
            loop.close()

    thread = threading.Thread(target=run, name="forum", daemon=True)
    thread.start()
    assert ready.wait(30), "the forum did not start"
    if failures:
        thread.join(30)
        failure = failures[0]
        if isinstance(failure, NotReady) and "cannot listen" in str(failure):
            raise OSError(str(failure))
        raise failure

    def stop_forum() -> None:
        loop.call_soon_threadsafe(stop.set)
        thread.join(30)
        assert not thread.is_alive(), "the forum did not stop"
        assert not failures, failures
        # Anything the forum left open is found now, in the test that started it.
        gc.collect()

    return forums[0], settings, stop_forum


ANNA = ("anna.andersson@molndal.se", "Anna Andersson", "each")


def set_up_forum(
    folder: Path, members: tuple[tuple[str, str, str], ...] = (ANNA,), **values: str
) -> Path:
    """A forum set up as an administrator would: `init`, the topic maltider, its members."""
    config = write_settings(folder, **values)
    cli(config, "init")
    cli(config, "topic", "add", "maltider", "--name", "Offentliga måltider")
    for address, name, mode in members:
        cli(config, "member", "add", address, "--name", name, "--topic", "maltider", "--mode", mode)
    return config


def send_post(forum: Forum, sender: str, message_id: str) -> tuple[int, bytes]:
    """One post to maltider@forum.localhost over SMTP; the server's answer to DATA."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = "maltider@forum.localhost"
    message["Subject"] = "Frukost i förskolan"
    message["Message-ID"] = f"<{message_id}>"
    message.set_content("Serverar ni frukost till alla barn?")
    with smtplib.SMTP(*forum.smtp_address, timeout=30) as smtp:
        smtp.ehlo("mx.example.se")
        smtp.mail(sender)
        smtp.rcpt("maltider@forum.localhost")
        return smtp.data(message.as_bytes(policy=SMTP))
