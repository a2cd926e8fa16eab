"""Print how fast `delapost serve` takes posts over SMTP, against a bare aiosmtpd on this machine.

N posts (new threads and replies, Swedish text, some with a PDF attached) go from C client
processes, each holding one SMTP connection, into a forum on SQLite with sender_auth = none and
outgoing mail written to files. The same load then goes to an aiosmtpd server that accepts and
discards everything: the ceiling. Prints accepted messages a second and the DATA-to-250
latency (p50, p99) of both, and their ratio. With --floor it also times serve with its
pipeline cut down to parsing each mail, and to nothing: the cost of the SMTP side and of the
email package alone. A benchmark prints figures; it never asserts.

    .venv/bin/python bench/ingest.py --messages 3000 --clients 8 --floor
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import multiprocessing
import os
import platform
import shutil
import smtplib
import socket
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from email.utils import format_datetime, make_msgid
from pathlib import Path
from typing import Any

from aiosmtpd.smtp import SMTP
from sqlalchemy import func, select

# Run as a script, Python puts bench/ first on the path, where bench/digest.py would hide the
# digest package; the project comes first instead (its modules are imported where used).
sys.path[0] = str(Path(__file__).resolve().parent.parent)

TOPIC = "maltider"
DOMAIN = "forum.localhost"
SENDERS = [
    ("anna.andersson", "molndal.se"),
    ("erik.nilsson", "goteborg.se"),
    ("maria.lindqvist", "umea.se"),
    ("karin.lund", "vaxjo.se"),
    ("bo.ek", "lund.se"),
    ("sara.holm", "uppsala.se"),
    ("per.berg", "malmo.se"),
    ("lena.sjoberg", "orebro.se"),
    ("johan.strom", "kalmar.se"),
    ("eva.dahl", "linkoping.se"),
    ("olof.nyberg", "lulea.se"),
    ("ida.falk", "gavle.se"),
]
SUBJECTS = [
    "Matsvinn i skolan",
    "Laktosfri mjölk i förskolan",
    "Upphandling av livsmedel #upphandling",
    "Specialkost och allergier",
    "Ekologiska råvaror – hur långt har ni kommit?",
    "Måltidsmiljön i matsalen",
    "Frukost på fritids",
    "Vegetariska alternativ #klimat",
]
BODY = (
    "Hej alla,\n\nVi har samma fråga i vår kommun. Leverantören av laktosfri mjölk har bytt "
    "förpackning och nu räcker en kartong bara till två avdelningar. Vi löste det genom att "
    "beställa större förpackningar och dela upp leveranserna på måndag och torsdag.\n\n"
    "Kostenheten har också pratat med upphandlingen om att ändra avtalet inför hösten. "
    "Hur gör ni med svinnet i skolköken? Vi väger tallrikssvinnet varje dag och ser att det "
    "har minskat med en femtedel sedan vi började servera grönsakerna först.\n\n"
    "Med vänlig hälsning\n\n{name}\nKostchef\n{org}\nTel: 031-123 45 67\n"
)
QUOTE = (
    "\n________________________________\nFrån: {name} <{address}>\nSkickat: den 3 mars 2026 "
    "10:12\nTill: {topic}@{domain}\nÄmne: {subject}\n\n"
    "Hej alla,\n\nHur gör ni med laktosfri mjölk i förskolan? Vi har fått klagomål från "
    "föräldrar om att det tar slut.\n"
)
PDF = b"%PDF-1.7\n" + bytes(range(256)) * 60  # about 15 KB


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def build_posts(client: int, count: int, attach_every: int) -> list[tuple[str, bytes]]:
    """(envelope sender, message) pairs: a new thread, then replies to this client's posts."""
    posts: list[tuple[str, bytes]] = []
    own: list[tuple[str, str]] = []  # (Message-ID, subject) of this client's new threads
    for i in range(count):
        local, domain = SENDERS[(client + i) % len(SENDERS)]
        address = f"{local}@{domain}"
        name = local.replace(".", " ").title()
        message = EmailMessage()
        message["From"] = f"{name} <{address}>"
        message["To"] = f"{TOPIC}@{DOMAIN}"
        message["Date"] = format_datetime(_now())
        message["Message-ID"] = make_msgid(f"c{client}n{i}", domain=domain)
        body = BODY.format(name=name, org=domain)
        if i % 3 == 0 or not own:
            subject = f"{SUBJECTS[(client + i) % len(SUBJECTS)]} ({client}-{i})"
            own.append((message["Message-ID"], subject))
        else:
            parent, original = own[(i * 7) % len(own)]
            subject = f"SV: {original}"
            message["In-Reply-To"] = parent
            message["References"] = parent
            body = (
                "Tack, vi gör likadant här.\n\n"
                + body
                + QUOTE.format(
                    name=name, address=address, topic=TOPIC, domain=DOMAIN, subject=original
                )
            )
        message["Subject"] = subject
        message.set_content(body, cte="quoted-printable")
        if attach_every and i % attach_every == attach_every - 1:
            message.add_attachment(
                PDF, maintype="application", subtype="pdf", filename="Måltidspolicy 2026.pdf"
            )
        posts.append((address, message.as_bytes(policy=SMTP_POLICY)))
    return posts


def _now() -> Any:
    from datetime import UTC, datetime

    return datetime.now(UTC)


def client(
    address: tuple[str, int], posts: list[tuple[str, bytes]], start: Any, results: Any
) -> None:
    """One sending server: one connection, messages one after another; times each DATA."""
    latencies: list[float] = []
    accepted = 0
    refusals: list[str] = []
    try:
        with smtplib.SMTP(*address, timeout=120) as smtp:
            smtp.ehlo("mx.bench.localhost")
            start.wait()
            for sender, data in posts:
                smtp.mail(sender)
                code, text = smtp.rcpt(f"{TOPIC}@{DOMAIN}")
                if code == 250:
                    began = time.perf_counter()
                    code, text = smtp.data(data)
                    latencies.append(time.perf_counter() - began)
                if code == 250:
                    accepted += 1
                else:
                    refusals.append(f"{code} {text.decode(errors='replace')}")
                    smtp.rset()
    except (OSError, smtplib.SMTPException) as exc:
        refusals.append(f"client stopped: {exc!r}")
    results.put((accepted, refusals, latencies))


def load_once(
    address: tuple[str, int], clients: int, messages: int, attach_every: int
) -> dict[str, float]:
    per_client = max(1, messages // clients)
    batches = [build_posts(c, per_client, attach_every) for c in range(clients)]
    context = multiprocessing.get_context("spawn")
    start = context.Event()
    results = context.Queue()
    processes = [
        context.Process(target=client, args=(address, batch, start, results)) for batch in batches
    ]
    for process in processes:
        process.start()
    time.sleep(1.0)  # every client connected and greeted
    began = time.perf_counter()
    start.set()
    collected = [results.get(timeout=600) for _ in processes]
    elapsed = time.perf_counter() - began
    for process in processes:
        process.join()
    latencies = sorted(x for _, _, lat in collected for x in lat) or [0.0]
    accepted = sum(a for a, _, _ in collected)
    refusals = [r for _, rs, _ in collected for r in rs]
    if refusals:
        print(f"  {len(refusals)} refused, e.g. {refusals[0]}")
    return {
        "accepted": accepted,
        "refused": len(refusals),
        "seconds": elapsed,
        "per_second": accepted / elapsed,
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000,
    }


class _Discard:
    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        return "250 2.0.0 OK"


@contextmanager
def bare_aiosmtpd() -> Iterator[tuple[str, int]]:
    """aiosmtpd with a handler that accepts and discards: what SMTP alone costs here."""
    loop = asyncio.new_event_loop()
    port = free_port()
    ready = threading.Event()
    holder: list[asyncio.Server] = []

    async def start() -> None:
        server = await loop.create_server(
            lambda: SMTP(_Discard(), enable_SMTPUTF8=True, decode_data=False),
            host="127.0.0.1",
            port=port,
        )
        holder.append(server)
        ready.set()

    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    asyncio.run_coroutine_threadsafe(start(), loop).result(10)
    ready.wait(10)
    try:
        yield ("127.0.0.1", port)
    finally:

        async def stop() -> None:
            holder[0].close()
            await holder[0].wait_closed()

        asyncio.run_coroutine_threadsafe(stop(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


@contextmanager
def running_forum(folder: Path, mode: str) -> Iterator[Any]:
    """`delapost serve` on SQLite in a thread of this process, as tests/support/forum.py does.

    Every sender is a member in `mode`; in any mode but "none" a reply is copied to the thread's
    earlier writers, who follow it, so the outbox worker composes copies meanwhile.
    """
    from delapost.cli import main as delapost_main
    from delapost.serve import Forum, serve
    from delapost.settings import load

    http = free_port()
    config = folder / "delapost.toml"
    config.write_text(
        f'database_url = "sqlite:///{folder / "bench.db"}"\n'
        f'smtp_listen = "127.0.0.1:{free_port()}"\n'
        f'http_listen = "127.0.0.1:{http}"\n'
        f'base_url = "http://127.0.0.1:{http}"\n'
        f'list_domain = "{DOMAIN}"\n'
        'sender_auth = "none"\n'
        'outbox_dir = "outbox"\n'
        # Every client connects from 127.0.0.1, as they would through a relay in front.
        "smtp_max_messages_per_minute = 0\n",
        "utf-8",
    )
    for args in (["init"], ["topic", "add", TOPIC, "--name", "Offentliga måltider"]):
        assert delapost_main(["--config", str(config), *args]) == 0
    for local, domain in SENDERS:
        name = local.replace(".", " ").title()
        command = ["member", "add", f"{local}@{domain}", "--name", name, "--topic", TOPIC]
        command += ["--mode", mode]
        assert delapost_main(["--config", str(config), *command]) == 0
    # `delapost serve` logs each decision at INFO; so does this run, into a file.
    logging.basicConfig(
        level=logging.INFO,
        filename=str(folder / "serve.log"),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        force=True,
    )
    for chatty in ("mail.log", "apscheduler"):
        logging.getLogger(chatty).setLevel(logging.WARNING)
    settings = load(config, environ={})
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()
    forums: list[Forum] = []
    ready = threading.Event()

    def on_ready(forum: Forum) -> None:
        forums.append(forum)
        ready.set()

    thread = threading.Thread(
        target=lambda: loop.run_until_complete(serve(settings, stop=stop, on_ready=on_ready)),
        daemon=True,
    )
    thread.start()
    if not ready.wait(60):
        raise SystemExit("the forum did not start")
    try:
        yield forums[0]
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(60)
        loop.close()


def floor(only: str, args: argparse.Namespace) -> dict[str, float]:
    """serve with its pipeline cut down to parsing each mail, or to nothing: what the SMTP side
    and the email package cost before any database work, the floor under the figures above."""
    from mailgate.inbound import Inbound
    from mailgate.parse import parse
    from mailgate.pipeline import Pipeline
    from mailgate.verdict import Accept, Verdict

    def cut_down(self: Pipeline, inbound: Inbound) -> Verdict:
        if only == "parse":
            parse(inbound.data, max_attachment_bytes=self.config.max_attachment_bytes)
        return Accept(f"benchmark floor: {only}")

    whole = Pipeline.deliver_now
    Pipeline.deliver_now = cut_down  # type: ignore[method-assign]
    folder = Path(tempfile.mkdtemp(prefix="delapost-bench-"))
    try:
        with running_forum(folder, "none") as forum:
            return load_once(forum.smtp_address, args.clients, args.messages, args.attach_every)
    finally:
        Pipeline.deliver_now = whole  # type: ignore[method-assign]
        shutil.rmtree(folder, ignore_errors=True)


def report(name: str, figures: dict[str, float]) -> None:
    print(
        f"{name:<16} {figures['accepted']:>6.0f} accepted {figures['refused']:>4.0f} refused "
        f"in {figures['seconds']:6.2f} s: {figures['per_second']:7.1f} msg/s, "
        f"DATA-to-250 p50 {figures['p50_ms']:6.1f} ms, p99 {figures['p99_ms']:6.1f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--messages", type=int, default=3000, help="posts per run (N)")
    parser.add_argument("--clients", type=int, default=8, help="client processes (C)")
    parser.add_argument("--attach-every", type=int, default=10, help="every k-th post has a PDF")
    parser.add_argument("--keep", action="store_true", help="keep the forum's folder and log")
    parser.add_argument(
        "--floor",
        action="store_true",
        help="also time serve with a pipeline that only parses, and one that does nothing",
    )
    args = parser.parse_args()
    print(
        f"{platform.python_implementation()} {platform.python_version()} on "
        f"{platform.machine()}, {os.cpu_count()} CPUs; N={args.messages} C={args.clients}; "
        f"one PDF every {args.attach_every} posts"
    )
    with bare_aiosmtpd() as address:
        ceiling = load_once(address, args.clients, args.messages, args.attach_every)
    report("bare aiosmtpd", ceiling)
    runs = []
    for mode, name in (("weekly", "delapost serve"), ("none", "  without copies")):
        folder = Path(tempfile.mkdtemp(prefix="delapost-bench-"))
        try:
            with running_forum(folder, mode) as forum:
                from models import Outbox, Post

                figures = load_once(
                    forum.smtp_address, args.clients, args.messages, args.attach_every
                )
                with forum.factory() as session:
                    stored = session.scalar(select(func.count(Post.id)))
                    copies = session.scalar(select(func.count(Outbox.id)))
        finally:
            if args.keep:
                print(f"forum folder kept: {folder}")
            else:
                shutil.rmtree(folder, ignore_errors=True)
        report(name, figures)
        print(f"{'':<16} {stored} posts stored, {copies} copies queued")
        runs.append(figures)
    if args.floor:
        for only in ("parse", "nothing"):
            report({"parse": "  parse only", "nothing": "  no pipeline"}[only], floor(only, args))
    for mode, figures in zip(("with copies", "without copies"), runs, strict=True):
        ratio = figures["per_second"] / ceiling["per_second"]
        print(
            f"{mode}: {ratio:.0%} of the ceiling (target: at least 50 %); "
            f"p99 {figures['p99_ms']:.0f} ms (target: under 100 ms at C=8)"
        )


if __name__ == "__main__":
    main()
