"""Print how fast one post reaches 17,000 members: DKIM-signed copies through the outbox worker.

A SQLite database (migrated with models.db.upgrade) gets a topic, 17,000 members in mode
`each` and one Swedish post of about 4 KB with its 17,000 queued copies, all made with the
models directly. An OutboxWorker in its own process composes, signs and sends them over
loopback SMTP to an aiosmtpd sink in another process that counts and discards. Prints copies
a second until the sink has them all, the worker process's peak memory (ru_maxrss), the
sink's own ceiling (as many pre-built signed messages pushed straight at it with aiosmtplib
over as many connections), and the cost of one signature, ours against dkimpy's.
A benchmark prints figures; it never asserts.

    .venv/bin/python bench/fanout.py [--members 17000] [--batch 200] [--concurrency 8]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import platform
import resource
import sys
import tempfile
import time
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from multiprocessing.sharedctypes import Synchronized
from pathlib import Path
from typing import Any

import aiosmtplib
import dkim
from aiosmtpd.smtp import SMTP
from sqlalchemy import func, insert, select

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mailgate.outbound import ListContext, OutboxWorker, SmtpRelay
from mailgate.outbound.compose import CopyTemplate
from mailgate.outbound.dkim_keys import generate_key
from mailgate.outbound.dkim_sign import DkimSigner
from models import (
    Member,
    Mode,
    Organization,
    Outbox,
    OutboxKind,
    Post,
    Subscription,
    Thread,
    Topic,
)
from models.db import make_engine, make_sessionmaker, unit_of_work, upgrade
from tests.support.smtp_sink import free_port

DOMAIN = "forum.example.se"
SELECTOR = "delapost"
SECRET = b"a benchmark secret, 32 bytes ..!"
NOW = datetime(2026, 11, 23, 9, 30, tzinfo=UTC)
PARAGRAPH = (
    "Vi har samma problem i Växjö. Leverantören av laktosfri mjölk har bytt förpackning och "
    "nu räcker en kartong bara till två avdelningar på förskolan. Vi löste det genom att "
    "beställa större förpackningar och att dela upp leveranserna på måndag och torsdag. "
    "Kostenheten har också pratat med upphandlingen om att ändra avtalet inför hösten.\n\n"
)


def post_text() -> str:
    text = "Hej alla,\n\n"
    while len(text.encode()) < 3800:
        text += PARAGRAPH
    return text + "Med vänlig hälsning\nAnna Andersson\nKostchef, Mölndals stad\n"


def make_forum(url: str, members: int) -> None:
    """The topic, the members, the post and its queued copies, in a few bulk inserts."""
    engine = make_engine(url)
    upgrade(engine)
    factory = make_sessionmaker(engine)
    with unit_of_work(factory) as session:
        org = Organization(slug="molndals-stad", name="Mölndals stad", kind="kommun")
        topic = Topic(slug="maltider", name="Offentliga måltider", created_at=NOW)
        session.add_all([org, topic])
        session.flush()
        author = Member(
            email="anna.andersson@molndal.se",
            name="Anna Andersson",
            organization_id=org.id,
            created_at=NOW,
            confirmed_at=NOW,
        )
        session.add(author)
        session.flush()
        thread = Thread(
            topic_id=topic.id,
            subject="Laktosfri mjölk i förskolan",
            subject_key="laktosfri mjölk i förskolan",
            created_at=NOW,
            last_post_at=NOW,
            post_count=1,
        )
        session.add(thread)
        session.flush()
        text = post_text()
        post = Post(
            topic_id=topic.id,
            thread_id=thread.id,
            member_id=author.id,
            organization_id=org.id,
            message_id="fraga-1@molndal.se",
            subject=thread.subject,
            full_text=text,
            new_text=text,
            created_at=NOW,
        )
        session.add(post)
        session.flush()
        session.execute(
            insert(Member),
            [
                {
                    "email": f"medlem{n}@kommun{n % 290}.se",
                    "name": f"Medlem {n}",
                    "organization_id": org.id,
                    "created_at": NOW,
                    "confirmed_at": NOW,
                }
                for n in range(members)
            ],
        )
        ids = list(session.scalars(select(Member.id).where(Member.id != author.id)))
        session.execute(
            insert(Subscription),
            [
                {"member_id": i, "topic_id": topic.id, "mode": Mode.EACH, "created_at": NOW}
                for i in ids
            ],
        )
        session.execute(
            insert(Outbox),
            [
                {
                    "kind": OutboxKind.COPY,
                    "post_id": post.id,
                    "member_id": i,
                    "created_at": NOW,
                    "next_attempt_at": NOW,
                }
                for i in ids
            ],
        )
    engine.dispose()


class _Discard:
    def __init__(self, counter: Synchronized[int]) -> None:
        self.counter = counter

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.counter.get_lock():
            self.counter.value += 1
        return "250 2.0.0 Discarded"


def run_sink(port: int, counter: Synchronized[int], ready: Any) -> None:
    """An aiosmtpd server on loopback that counts what it accepts and keeps nothing."""

    async def main() -> None:
        loop = asyncio.get_running_loop()
        handler = _Discard(counter)
        server = await loop.create_server(
            lambda: SMTP(handler, hostname="sink.localhost", data_size_limit=None),
            "127.0.0.1",
            port,
        )
        ready.set()
        async with server:
            await asyncio.Event().wait()

    asyncio.run(main())


def run_worker(
    url: str, key_file: str, port: int, batch: int, concurrency: int, pipe: Connection
) -> None:
    """The outbox worker in its own process; sends its peak memory back when told to stop."""

    async def main() -> None:
        engine = make_engine(url)
        factory = make_sessionmaker(engine)
        signer = DkimSigner(
            domain=DOMAIN, selector=SELECTOR, private_key_pem=Path(key_file).read_bytes()
        )
        relay = SmtpRelay(
            "127.0.0.1", port, tls="none", connections=concurrency, local_hostname="localhost"
        )
        worker = OutboxWorker(
            factory,
            ListContext(DOMAIN, "https://forum.example.se", SECRET),
            relay,
            signer=signer,
            clock=lambda: NOW,
            batch=batch,
            concurrency=concurrency,
        )
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        loop.add_reader(pipe.fileno(), stop.set)
        pipe.send("ready")
        await worker.run(stop, interval=0.05)
        await relay.close()
        engine.dispose()

    asyncio.run(main())
    pipe.recv()
    pipe.send(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


async def push_straight(port: int, message: bytes, count: int, connections: int) -> None:
    """The sink's ceiling: the same number of finished messages, no database, no signing."""
    queue = iter(range(count))

    async def lane() -> None:
        client = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, start_tls=False)
        await client.connect()
        for n in queue:
            await client.sendmail(
                f"maltider-bounces+medlem{n}=kommun.se@{DOMAIN}", [f"medlem{n}@kommun.se"], message
            )
        await client.quit()

    await asyncio.gather(*(lane() for _ in range(connections)))


def wait_for(counter: Synchronized[int], target: int, timeout: float) -> float:
    start = time.perf_counter()
    while counter.value < target and time.perf_counter() - start < timeout:
        time.sleep(0.01)
    return time.perf_counter() - start


def per_signature(sign: Any, message: bytes, rounds: int = 300) -> float:
    sign(message)
    start = time.perf_counter()
    for _ in range(rounds):
        sign(message)
    return (time.perf_counter() - start) / rounds * 1000


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=17_000)
    parser.add_argument("--batch", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--timeout", type=float, default=600.0)
    args = parser.parse_args()
    spawn = multiprocessing.get_context("spawn")

    print(f"machine: {os.cpu_count()} cores, {cpu_model()}, Python {platform.python_version()}")
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    with tempfile.TemporaryDirectory(prefix="delapost-fanout-") as folder:
        url = f"sqlite:///{folder}/fanout.db"
        key_file = Path(folder) / "dkim.key"
        generate_key(key_file)
        started = time.perf_counter()
        make_forum(url, args.members)
        print(f"forum: {args.members:,} members in mode each, 1 post, made in "
              f"{time.perf_counter() - started:.1f} s")  # fmt: skip

        port = free_port()
        counter = spawn.Value("q", 0)
        ready = spawn.Event()
        sink = spawn.Process(target=run_sink, args=(port, counter, ready), daemon=True)
        sink.start()
        ready.wait(10)

        ours, theirs = spawn.Pipe()
        worker = spawn.Process(
            target=run_worker,
            args=(url, str(key_file), port, args.batch, args.concurrency, theirs),
        )
        worker.start()
        ours.recv()
        elapsed = wait_for(counter, args.members, args.timeout)
        delivered = counter.value
        ours.send("stop")
        peak_kb = ours.recv()
        worker.join()
        print(
            f"worker (batch {args.batch}, {args.concurrency} lanes): {delivered:,} signed copies "
            f"in {elapsed:.1f} s = {delivered / elapsed:,.0f} copies/s; "
            f"peak memory {peak_kb / 1024:.0f} MB"
        )

        signer = DkimSigner(domain=DOMAIN, selector=SELECTOR, private_key_pem=key_file.read_bytes())
        sample = signer.sign(sample_copy(url))
        counter.value = 0
        started = time.perf_counter()
        asyncio.run(push_straight(port, sample, args.members, args.concurrency))
        wait_for(counter, args.members, args.timeout)
        ceiling = time.perf_counter() - started
        print(
            f"sink ceiling ({args.concurrency} connections, {len(sample):,}-byte messages): "
            f"{args.members:,} in {ceiling:.1f} s = {args.members / ceiling:,.0f} messages/s"
        )
        sink.terminate()
        sink.join()

        pem = key_file.read_bytes()
        unsigned = sample_copy(url)
        ours_ms = per_signature(signer.sign, unsigned)
        dkimpy_ms = per_signature(
            lambda m: (
                dkim.sign(
                    m,
                    SELECTOR.encode(),
                    DOMAIN.encode(),
                    pem,
                    canonicalize=(b"relaxed", b"relaxed"),
                    include_headers=[h.encode() for h in signed_header_names(sample)],
                )
                + m
            ),
            unsigned,
        )
        print(
            f"one signature of a {len(unsigned):,}-byte copy: DkimSigner {ours_ms:.2f} ms, "
            f"dkimpy {dkimpy_ms:.2f} ms"
        )
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


def sample_copy(url: str) -> bytes:
    """One member's copy as the worker composes it, unsigned."""
    engine = make_engine(url)
    try:
        with make_sessionmaker(engine)() as session:
            post = session.scalars(select(Post)).one()
            member_id = session.scalars(select(func.max(Member.id))).one()
            topic = session.scalars(select(Topic)).one()
            lc = ListContext(DOMAIN, "https://forum.example.se", SECRET)
            return CopyTemplate.of(post, topic, lc).for_member(member_id)
    finally:
        engine.dispose()


def signed_header_names(signed: bytes) -> list[str]:
    value = signed.split(b"\r\n\r\n", 1)[0].decode()
    tags = value.split("h=", 1)[1].split(";", 1)[0]
    return [name.strip() for name in tags.replace("\r\n\t", "").split(":") if name.strip()]


if __name__ == "__main__":
    main()
