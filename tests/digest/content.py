"""Topics, members, threads and replies made with the models, at the times a test chooses."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from digest.runner import DigestConfig
from digest.schedule import DigestSchedule
from models import Member, Mode, Post, Thread, Topic
from tests.mailgate.outbound.builders import DOMAIN, LC, add_member, add_topic, new_thread

__all__ = ["DOMAIN", "LC", "add_member", "add_topic"]

STOCKHOLM = ZoneInfo("Europe/Stockholm")
SCHEDULE = DigestSchedule.of("Europe/Stockholm", ("mon", 7, 0), (7, 0))
CONFIG = DigestConfig(LC, SCHEDULE, settle=timedelta(0))
# Monday 23 November 2026, 07:00 in Stockholm: when the weekly digest of week 47 goes out.
MONDAY = datetime(2026, 11, 23, 7, 0, tzinfo=STOCKHOLM)

_message_ids = itertools.count(1)


def start_thread(
    session: Session,
    topic: Topic,
    author: Member,
    subject: str,
    text: str,
    at: datetime,
    *,
    tags: tuple[str, ...] = (),
) -> Post:
    thread = new_thread(session, topic, subject, at, tags=tags)
    return _post(session, thread, author, text, at, parent=None)


def answer(
    session: Session, to: Post, author: Member, text: str, at: datetime, *, quoted: str = ""
) -> Post:
    return _post(session, to.thread, author, text, at, parent=to, quoted=quoted)


def _post(
    session: Session,
    thread: Thread,
    author: Member,
    text: str,
    at: datetime,
    *,
    parent: Post | None,
    quoted: str = "",
) -> Post:
    post = Post(
        topic_id=thread.topic_id,
        thread_id=thread.id,
        parent_id=parent.id if parent else None,
        member_id=author.id,
        organization_id=author.organization_id,
        message_id=f"post-{next(_message_ids)}@example.se",
        subject=thread.subject if parent is None else f"SV: {thread.subject}",
        full_text=text + ("\n" + quoted if quoted else ""),
        new_text=text,
        quoted_text=quoted,
        created_at=at,
    )
    thread.post_count += 1
    thread.last_post_at = max(thread.last_post_at, at)
    session.add(post)
    session.flush()
    return post


def kost_forum(session: Session, now: datetime, mode: Mode = Mode.WEEKLY) -> dict[str, Member]:
    """Topic `kost` (made a month before `now`) and four members: two post, all read `mode`."""
    topic = add_topic(session, now - timedelta(days=30))
    people = {
        "anna": ("anna.andersson@molndal.se", "Anna Andersson"),
        "erik": ("erik.nilsson@goteborg.se", "Erik Nilsson"),
        "asa": ("asa.oberg@vaxjo.se", "Åsa Öberg"),
        "karin": ("karin.lind@skr.se", "Karin Lind"),
    }
    return {
        key: add_member(session, topic, email, name, now - timedelta(days=30), mode)
        for key, (email, name) in people.items()
    }


def topic_of(session: Session) -> Topic:
    return session.scalars(select(Topic)).one()
