"""Print how fast the archive answers: topic page, thread page and search on a filled forum.

Fills a fresh SQLite database (or an empty PostgreSQL one with --database-url) with 20,000
posts in 3,000 threads across 5 topics, serves the archive with uvicorn in its own process on
loopback, and sends a bounded number of requests per page from a few client threads. Prints
requests per second and p50/p99 latency; never asserts.

    .venv/bin/python bench/archive.py [--posts 20000 --threads 3000 --requests 400 --clients 4]
"""

from __future__ import annotations

import argparse
import itertools
import multiprocessing
import random
import socket
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import uvicorn
from sqlalchemy import func, insert, select

from archive_web.app import ArchiveConfig, create_app
from models import Member, Organization, OrgDomain, Post, Tag, Thread, Topic, registry, thread_tag
from models.db import make_engine, make_sessionmaker, unit_of_work, upgrade
from models.search import reindex

TOPICS = (
    ("kost", "Kost och måltider"),
    ("lokaler", "Lokalförsörjning"),
    ("upphandling", "Upphandling"),
    ("skolskjuts", "Skolskjuts"),
    ("it", "IT och digitalisering"),
)
# A vocabulary with Swedish compounds and endings, drawn with Zipf weights: a few words are
# everywhere, most are rare, as in real posts (and as search needs to be measured against).
_FIRST_PARTS = (
    "skol förskole kost mat lunch kök avtal upphandlings leverantörs budget personal elev "
    "rektors buss lokal hyres städ ventilations system licens server e-tjänst medborgar "
    "allergi mjölk fisk kyckling grönsaks frukt bröd vatten energi miljö klimat ekonomi "
    "kvalitets säkerhets kommun region läns måltids"
)
_SECOND_PARTS = (
    "plan kök mat avtal personal leverans rutin policy budget lista system tjänst möte "
    "rapport beslut ärende chef fråga grupp arbete schema kostnad pris krav mål"
)
_ENDINGS = ("", "", "", "en", "er", "erna", "ar", "arna", "et", "s")
_SMALL_LIST = "och att det som på är för med av till i en vi ni har inte men om så kan"
SMALL = _SMALL_LIST.split()
_STEMS = [a + b for a in _FIRST_PARTS.split() for b in _SECOND_PARTS.split()]
_COMMON_LIST = "måltiderna måltid leverantören förskolan hösten våren veckan eleverna"
_COMMON = _COMMON_LIST.split()
WORDS = _COMMON + random.Random(1).sample(_STEMS, len(_STEMS))
_CUMULATIVE = list(itertools.accumulate(1 / (rank + 30) for rank in range(len(WORDS))))
TAGS = [f"tagg{n}" for n in range(30)] + ["skolmat", "ekologiskt", "allergi", "avtal"]
QUERIES = ["måltid", "skolmat", "leverantörsavtal", "allergirutin", "förskolan höst", "kostplan"]


@dataclass(frozen=True)
class Filled:
    url: str
    topic: str
    thread_path: str
    thread_posts: int


def _word(rng: random.Random) -> str:
    word = rng.choices(WORDS, cum_weights=_CUMULATIVE)[0]
    return word if word in _COMMON else word + rng.choice(_ENDINGS)


def sentence(rng: random.Random, words: int) -> str:
    chosen = [_word(rng) if rng.random() < 0.55 else rng.choice(SMALL) for _ in range(words)]
    return " ".join(chosen).capitalize() + "."


def fill(url: str, posts: int, threads: int, seed: int = 2026) -> Filled:
    """A forum of the given size, written in bulk (no ORM events), then indexed for search."""
    rng = random.Random(seed)
    engine = make_engine(url)
    upgrade(engine)
    factory = make_sessionmaker(engine)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    with unit_of_work(factory) as session:
        registry.load(session, registry.shipped_rows())
        for slug, name in TOPICS:
            session.add(Topic(slug=slug, name=name, description=f"Om {name.lower()}."))
        session.add_all(Tag(name=name) for name in TAGS)
        session.flush()
        topic_ids = list(session.scalars(select(Topic.id).order_by(Topic.id)))
        tag_ids = list(session.scalars(select(Tag.id)))
        domains = session.execute(
            select(OrgDomain.domain, Organization.id).join(Organization).limit(300)
        ).all()
        session.execute(
            insert(Member),
            [
                {
                    "email": f"person{n}@{domain}",
                    "name": f"Person {n} Svensson",
                    "organization_id": org_id,
                    "created_at": start,
                    "confirmed_at": start,
                }
                for n, (domain, org_id) in enumerate(domains)
            ],
        )
        members = session.execute(select(Member.id, Member.organization_id)).all()
        thread_rows = []
        for n in range(threads):
            subject = sentence(rng, rng.randint(3, 7)).rstrip(".")
            at = start + timedelta(minutes=rng.randint(0, 60 * 24 * 300))
            thread_rows.append(
                {
                    "topic_id": topic_ids[n % len(topic_ids)],
                    "subject": subject,
                    "subject_key": subject.lower(),
                    "created_at": at,
                    "last_post_at": at,
                    "post_count": 0,
                }
            )
        session.execute(insert(Thread), thread_rows)
        thread_list = session.execute(
            select(Thread.id, Thread.topic_id, Thread.subject, Thread.created_at).order_by(
                Thread.id
            )
        ).all()
        session.execute(
            insert(thread_tag),
            [
                {"thread_id": thread.id, "tag_id": tag}
                for thread in thread_list
                for tag in rng.sample(tag_ids, rng.randint(0, 2))
            ],
        )
        # Every thread gets its first post; the rest land where conversations are lively.
        owners = [thread_list[n % len(thread_list)] for n in range(posts)]
        owners[len(thread_list) :] = rng.choices(
            thread_list, weights=[1 + (n % 17) ** 2 for n in range(len(thread_list))], k=posts
        )[: posts - len(thread_list)]
        counts: dict[int, int] = {}
        last: dict[int, datetime] = {}
        rows = []
        for n, thread in enumerate(owners):
            at = thread.created_at + timedelta(
                minutes=counts.get(thread.id, 0) * rng.randint(5, 600)
            )
            member_id, org_id = rng.choice(members)
            text = "\n".join(sentence(rng, rng.randint(6, 18)) for _ in range(rng.randint(1, 6)))
            rows.append(
                {
                    "topic_id": thread.topic_id,
                    "thread_id": thread.id,
                    "member_id": member_id,
                    "organization_id": org_id,
                    "message_id": f"bench-{n}@example.se",
                    "subject": thread.subject,
                    "full_text": text,
                    "new_text": text,
                    "quoted_text": "",
                    "signature": "Med vänlig hälsning\nPerson\n031-123 45 67",
                    "created_at": at,
                }
            )
            counts[thread.id] = counts.get(thread.id, 0) + 1
            last[thread.id] = max(last.get(thread.id, at), at)
        for offset in range(0, len(rows), 2000):
            session.execute(insert(Post), rows[offset : offset + 2000])
        for thread_id, count in counts.items():
            session.execute(
                Thread.__table__.update()
                .where(Thread.id == thread_id)
                .values(post_count=count, last_post_at=last[thread_id])
            )
    with unit_of_work(factory) as session:
        began = time.perf_counter()
        indexed = reindex(session)
        print(f"search index: {indexed} posts in {time.perf_counter() - began:.1f} s")
    with factory() as session:
        # A thread of typical length for the thread page: the median post count.
        median = sorted(counts.values())[len(counts) // 2]
        thread_id = next(t for t, c in counts.items() if c == median)
        slug = session.scalar(
            select(Topic.slug)
            .join(Thread, Thread.topic_id == Topic.id)
            .where(Thread.id == thread_id)
        )
        total = session.scalar(select(func.count()).select_from(Post))
    engine.dispose()
    print(f"forum: {total} posts in {len(thread_list)} threads across {len(TOPICS)} topics")
    return Filled(
        url=url, topic=TOPICS[0][0], thread_path=f"/{slug}/t/{thread_id}", thread_posts=median
    )


def serve(url: str, sock: socket.socket) -> None:
    engine = make_engine(url)
    app = create_app(
        make_sessionmaker(engine),
        ArchiveConfig(base_url="http://127.0.0.1", list_domain="forum.example.se"),
    )
    config = uvicorn.Config(app, log_level="warning", lifespan="off", access_log=False)
    uvicorn.Server(config).run(sockets=[sock])


def measure(base: str, name: str, paths: Callable[[int], str], requests: int, clients: int) -> str:
    latencies: list[float] = []
    lock = threading.Lock()

    def worker(share: range) -> None:
        with httpx.Client(base_url=base, timeout=30) as client:
            for n in share:
                began = time.perf_counter()
                response = client.get(paths(n))
                elapsed = time.perf_counter() - began
                if response.status_code != 200:
                    print(f"  {paths(n)} answered {response.status_code}")
                with lock:
                    latencies.append(elapsed)

    shares = [range(n, requests, clients) for n in range(clients)]
    began = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(worker, shares))
    wall = time.perf_counter() - began
    latencies.sort()
    p50 = statistics.median(latencies) * 1000
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000
    return (
        f"{name:<14} {requests:>5} requests, {clients} clients: {requests / wall:7.1f} req/s"
        f"   p50 {p50:6.1f} ms   p99 {p99:6.1f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=20_000)
    parser.add_argument("--threads", type=int, default=3_000)
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--database-url", help="an empty database; default: a new SQLite file")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as folder:
        url = args.database_url or f"sqlite:///{Path(folder) / 'archive.db'}"
        began = time.perf_counter()
        filled = fill(url, args.posts, args.threads)
        print(f"filled in {time.perf_counter() - began:.1f} s")

        # IPPROTO_TCP spelled out: asyncio sets TCP_NODELAY only on sockets that say so, and
        # without it every keep-alive response waits 40 ms for a delayed ACK (Nagle).
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        server = multiprocessing.get_context("spawn").Process(
            target=serve, args=(url, sock), daemon=True
        )
        server.start()
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{base}/robots.txt", timeout=1)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise SystemExit("the archive did not start") from None
                time.sleep(0.1)
        try:
            pages = max(1, args.threads // len(TOPICS) // 50)
            print(f"thread page: {filled.thread_path} ({filled.thread_posts} posts)")
            for name, paths in (
                ("start page", lambda n: "/"),
                ("topic page", lambda n: f"/{filled.topic}/?page={1 + n % min(pages, 5)}"),
                ("thread page", lambda n: filled.thread_path),
                ("search", lambda n: f"/search?q={QUERIES[n % len(QUERIES)]}"),
                ("search+topic", lambda n: f"/search?q={QUERIES[n % len(QUERIES)]}&topic=kost"),
            ):
                measure(base, name, paths, min(20, args.requests), args.clients)  # warm up
                print(measure(base, name, paths, args.requests, args.clients))
        finally:
            server.terminate()
            server.join(10)
            sock.close()


if __name__ == "__main__":
    main()
