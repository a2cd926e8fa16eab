"""`delapost demo`: a throwaway forum in ./demo, filled through the real SMTP gateway."""

from __future__ import annotations

import asyncio
import shutil
import signal
import smtplib
import time
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from delapost import admin, demo_content
from delapost.admin import AdminError
from delapost.secret import create_secret
from delapost.serve import Forum, serve
from delapost.settings import Settings, load
from models import Mode, Outbox, OutboxStatus, registry, utcnow
from models.db import make_engine, make_sessionmaker, unit_of_work, upgrade

SETTINGS = """\
# The demo forum's settings. sender_auth = "none" trusts the From header without DKIM/DMARC,
# which is right for a demo on your own machine and wrong anywhere else.
database_url = "sqlite:///delapost.db"
list_domain = "forum.localhost"
base_url = "http://127.0.0.1:8080"
smtp_listen = "127.0.0.1:2525"
http_listen = "127.0.0.1:8080"
outbox_dir = "outbox"
sender_auth = "none"
"""

MARKER = ".delapost-demo"


def prepare(folder: Path) -> Settings:
    """Make a fresh demo folder with settings, database, secret, topic and members."""
    if folder.exists():
        if not (folder / MARKER).exists():
            raise AdminError(f"{folder} exists and is not a demo forum; choose another --dir")
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    (folder / MARKER).write_text("made by 'delapost demo'; removed by the next demo\n")
    (folder / "delapost.toml").write_text(SETTINGS, "utf-8")
    settings = load(folder / "delapost.toml", environ={})
    engine = make_engine(settings.database_url_resolved)
    try:
        upgrade(engine)
        with unit_of_work(make_sessionmaker(engine)) as session:
            registry.load(session, registry.shipped_rows())
            now = utcnow()
            admin.add_topic(
                session,
                demo_content.TOPIC_SLUG,
                demo_content.TOPIC_NAME,
                demo_content.TOPIC_DESCRIPTION,
                now,
            )
            for address, name, mode in demo_content.MEMBERS:
                admin.add_member(
                    session, address, name, now, topic_slug=demo_content.TOPIC_SLUG, mode=Mode(mode)
                )
    finally:
        engine.dispose()
    create_secret(settings.path(settings.secret_key_file))
    return settings


def feed(host: str, port: int, list_domain: str) -> int:
    """Post the demo threads through the gateway, as a mail server would; returns how many."""
    message_ids: list[str] = []
    with smtplib.SMTP(host, port, timeout=30) as smtp:
        for index in range(len(demo_content.MAILS)):
            message = demo_content.compose(index, list_domain, message_ids)
            smtp.send_message(message)
            message_ids.append(str(message["Message-ID"]))
    return len(message_ids)


def wait_for_outbox(forum: Forum, timeout: float = 20.0) -> int:
    """Wait until the outbox worker has sent what the demo posts queued; returns how many."""
    deadline = time.monotonic() + timeout
    while True:
        with forum.factory() as session:
            queued = session.scalar(
                select(func.count(Outbox.id)).where(Outbox.status == OutboxStatus.QUEUED)
            )
            sent = session.scalar(
                select(func.count(Outbox.id)).where(Outbox.status == OutboxStatus.SENT)
            )
        if not queued or time.monotonic() > deadline:
            return sent or 0
        time.sleep(0.1)


def how_to_post(settings: Settings, host: str, port: int) -> str:
    address, name, _ = demo_content.MEMBERS[0]
    return f"""\
python3 - <<'MAIL'
import smtplib
import time
from email.message import EmailMessage
m = EmailMessage()
m["From"] = "{name} <{address}>"
m["To"] = "{demo_content.TOPIC_SLUG}@{settings.list_domain}"
m["Subject"] = "Veckans meny: vad serverar ni på fredag?"
m.set_content("Hej! Vi testar fiskgratäng med dillpotatis. Vad bjuder ni på?")
smtplib.SMTP("{host}", {port}).send_message(m)
MAIL"""


def run_demo(folder_name: str, *, serve_after: bool = True) -> None:
    folder = Path(folder_name).resolve()
    settings = prepare(folder)

    async def main() -> None:
        stop = asyncio.Event()
        ready: asyncio.Future[Forum] = asyncio.get_running_loop().create_future()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        task = asyncio.create_task(serve(settings, stop=stop, on_ready=ready.set_result))
        either: set[asyncio.Future[Any]] = {task, ready}
        done, _ = await asyncio.wait(either, return_when=asyncio.FIRST_COMPLETED)
        if task in done:
            task.result()  # serve could not start: its error says why
            return
        forum = ready.result()
        host, port = forum.smtp_address
        count = await asyncio.to_thread(feed, host, port, settings.list_domain)
        print(f"\nThe demo forum is in {folder} ({count} mails posted through SMTP {host}:{port}).")
        print('It trusts the From header (sender_auth = "none"), fine for a demo only.')
        print(f"Archive:  {settings.base_url}/{demo_content.TOPIC_SLUG}/")
        print(f"Outgoing mail lands as .eml files in {settings.path(settings.outbox_dir)}")
        sent = await asyncio.to_thread(wait_for_outbox, forum)
        print(f"{sent} copies went out to members in mode 'each'.")
        if serve_after:
            print("Post a new message from another terminal:\n")
            print(how_to_post(settings, host, port))
            print("\nStop with Ctrl-C.")
        else:
            stop.set()
        await task

    asyncio.run(main())
