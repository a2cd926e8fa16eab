"""Print what a weekly digest of a large topic costs: build, per-member copies, memory, bytes.

    .venv/bin/python -m bench.digest [--members 17000] [--threads 120] [--posts 500]
                                     [--database-url URL] [--tracemalloc]

A week of posts in one topic, every member reading it weekly: the digest is built once and
each member's copy queued in the outbox, as `delapost serve` does at Monday 07:00. Figures
only; nothing is asserted. Signing and sending are the outbox worker's (see dkim_sign.py).
"""

from __future__ import annotations

import argparse
import random
import resource
import tempfile
import time
import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session, sessionmaker

from digest.build import build_letter
from digest.period import Period, Span
from digest.runner import DigestConfig, DigestSender
from digest.schedule import DigestSchedule
from mailgate.outbound import ListContext
from models import (
    DigestRun,
    Member,
    Mode,
    Organization,
    Outbox,
    OutboxKind,
    Post,
    Subscription,
    Tag,
    Thread,
    Topic,
    registry,
    thread_tag,
)
from models.db import make_engine, make_sessionmaker, unit_of_work, upgrade

SECRET = b"a benchmark secret of 32 bytes!!"
LC = ListContext("forum.example.se", "https://forum.example.se", SECRET)
SCHEDULE = DigestSchedule.of("Europe/Stockholm", ("mon", 7, 0), (7, 0))
MONDAY = datetime(2026, 11, 23, 6, 0, tzinfo=UTC)  # 07:00 in Stockholm
SUBJECTS = (
    "Laktosfri mjölk i förskolan",
    "Upphandling av livsmedel 2027",
    "Vegetarisk lasagne som barnen äter",
    "Allergikort i skolköket",
    "Julbord för äldreboenden",
    "Matsvinn i gymnasieskolan",
    "Nya näringsrekommendationer",
    "Schemaläggning i storköket",
)
TEXT = (
    "Hej alla,\n\nVi har samma fråga i vår kommun. Leverantören har bytt förpackning och nu "
    "räcker en kartong bara till två avdelningar på förskolan. Hur har ni löst det?\n\n"
    "Vi funderar på att dela upp leveranserna på måndag och torsdag, men kostenheten vill "
    "först höra hur andra gör. Upphandlingen ser över avtalet inför hösten.\n\n"
    "Med vänlig hälsning\n"
)


def populate(factory: sessionmaker[Session], members: int, threads: int, posts: int) -> int:
    """A topic a year old, `members` weekly readers, a week of `posts` in `threads`."""
    rng = random.Random(47)
    created = MONDAY - timedelta(days=365)
    with unit_of_work(factory) as session:
        registry.load(session, registry.shipped_rows())
        orgs = list(session.scalars(select(Organization.id)))
        topic = Topic(slug="kost", name="Kost och måltider", created_at=created)
        session.add(topic)
        session.flush()
        session.execute(
            insert(Member),
            [
                {
                    "email": f"medlem{n}@kommun{n % 290}.se",
                    "name": f"Medlem {n}",
                    "organization_id": orgs[n % len(orgs)],
                    "created_at": created,
                    "confirmed_at": created,
                }
                for n in range(members)
            ],
        )
        member_ids = list(session.scalars(select(Member.id).order_by(Member.id)))
        session.execute(
            insert(Subscription),
            [
                {"member_id": m, "topic_id": topic.id, "mode": Mode.WEEKLY, "created_at": created}
                for m in member_ids
            ],
        )
        tags = [Tag(name=name) for name in ("mjolk", "upphandling", "recept", "allergi", "svinn")]
        session.add_all(tags)
        session.flush()
        week = MONDAY - timedelta(days=7)
        thread_rows = []
        for n in range(threads):
            # A sixth of the threads are older ones that get answers this week.
            started = week + timedelta(minutes=rng.randrange(7 * 24 * 60))
            if n % 6 == 0:
                started = week - timedelta(days=rng.randrange(1, 20))
            thread = Thread(
                topic_id=topic.id,
                subject=f"{SUBJECTS[n % len(SUBJECTS)]} ({n})",
                subject_key=f"s{n}",
                created_at=started,
                last_post_at=started,
                post_count=0,
            )
            session.add(thread)
            thread_rows.append(thread)
        session.flush()
        session.execute(
            insert(thread_tag),
            [
                {"thread_id": t.id, "tag_id": tags[n % len(tags)].id}
                for n, t in enumerate(thread_rows)
                if n % 2 == 0
            ],
        )
        authors = member_ids[:400]
        rows = []
        for n in range(posts):
            thread = thread_rows[n % threads]
            if n < threads:
                at = thread.created_at
            else:
                at = max(thread.created_at, week) + timedelta(minutes=rng.randrange(1, 3000))
                at = min(at, MONDAY - timedelta(minutes=1))
            author = authors[rng.randrange(len(authors))]
            rows.append(
                {
                    "topic_id": topic.id,
                    "thread_id": thread.id,
                    "member_id": author,
                    "organization_id": orgs[(author - 1) % len(orgs)],
                    "message_id": f"bench-{n}@kommun.se",
                    "subject": thread.subject,
                    "full_text": TEXT,
                    "new_text": TEXT,
                    "created_at": at,
                }
            )
        session.execute(insert(Post), rows)
        return topic.id


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=17_000)
    parser.add_argument("--threads", type=int, default=120)
    parser.add_argument("--posts", type=int, default=500)
    parser.add_argument("--database-url", help="default: a SQLite file in a temporary folder")
    parser.add_argument("--tracemalloc", action="store_true", help="trace Python allocations")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        url = args.database_url or f"sqlite:///{Path(folder) / 'bench.db'}"
        engine = make_engine(url)
        upgrade(engine)
        factory = make_sessionmaker(engine)
        started = time.perf_counter()
        topic_id = populate(factory, args.members, args.threads, args.posts)
        print(
            f"setup: {args.members:,} weekly members, {args.posts} posts in {args.threads} "
            f"threads ({engine.dialect.name}), {time.perf_counter() - started:.1f} s"
        )
        config = DigestConfig(LC, SCHEDULE)
        span = Span(MONDAY - timedelta(days=7), MONDAY)

        with factory() as session:
            topic = session.get_one(Topic, topic_id)
            started = time.perf_counter()
            letter = build_letter(
                session,
                topic,
                Period.WEEKLY,
                span,
                lc=LC,
                zone=SCHEDULE.zone,
                message_id="<bench@forum.example.se>",
                now=MONDAY,
            )
            built = time.perf_counter() - started
        assert letter is not None
        content = letter.content
        print(
            f"build once (select + render): {built:.3f} s  "
            f"({len(content.questions)} questions, {len(content.new_threads)} of "
            f"{content.new_thread_count} new threads, {len(content.active_threads)} threads with "
            f"answers, {content.reply_count} replies)"
        )
        member = Member(id=1, email="medlem1@kommun1.se")
        started = time.perf_counter()
        for _ in range(2000):
            letter.message_for(member)
        print(f"one member's copy from the letter: {(time.perf_counter() - started) / 2:.3f} ms")

        if args.tracemalloc:
            tracemalloc.start()
        rss_before = rss_mb()
        sender = DigestSender(factory, config, clock=lambda: MONDAY + timedelta(minutes=1))
        started = time.perf_counter()
        reports = sender.send_due(Period.WEEKLY)
        elapsed = time.perf_counter() - started
        peak = tracemalloc.get_traced_memory()[1] / 2**20 if args.tracemalloc else None
        tracemalloc.stop()
        queued = sum(r.queued for r in reports)
        with factory() as session:
            total, largest = session.execute(
                select(func.sum(func.length(Outbox.message)), func.max(func.length(Outbox.message)))
                .join(DigestRun, DigestRun.id == Outbox.digest_run_id)
                .where(Outbox.kind == OutboxKind.DIGEST)
            ).one()
        print(
            f"build and queue the weekly digest: {elapsed:.2f} s for {queued:,} copies, "
            f"{1000 * elapsed / max(queued, 1):.3f} ms per member (batches of {config.batch})"
        )
        if peak is not None:
            print(f"peak Python memory while queueing (tracemalloc): {peak:.1f} MB")
        print(f"peak RSS of the process: {rss_mb():.0f} MB (before queueing: {rss_before:.0f} MB)")
        print(
            f"outbox bytes: {total / 2**20:.1f} MB in all, {total / max(queued, 1) / 1024:.1f} KB "
            f"per copy, largest {largest / 1024:.1f} KB"
        )
        engine.dispose()


if __name__ == "__main__":
    main()
