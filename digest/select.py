"""What goes into a topic's digest for a span: new threads, new replies, questions waiting."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from digest.excerpt import first_lines
from digest.period import Span
from models import Member, Post, Thread

# A question nobody has answered for this long is asked again, once, under "Kan du svara?".
QUESTION_AGE = timedelta(days=2)
# A digest is read on a Monday morning, not studied: the rest is a link to the archive away.
MAX_QUESTIONS = 10
MAX_NEW_THREADS = 30
MAX_ACTIVE_THREADS = 30
MAX_TAGS = 15
MAX_REPLIERS = 5


@dataclass(frozen=True)
class Author:
    name: str
    organization: str | None

    def __str__(self) -> str:
        return f"{self.name} ({self.organization})" if self.organization else self.name


@dataclass(frozen=True)
class Entry:
    """One thread as the digest shows it; only first lines of what was newly written."""

    thread_id: int
    subject: str
    started_by: Author | None  # None for an older thread: its start is not in the span
    started_at: datetime
    opening: str  # first lines of the thread's first post; "" for a thread only answered
    replies: int  # answers within the span
    repliers: tuple[Author, ...]  # who answered, first answer first, at most MAX_REPLIERS
    more_repliers: int
    latest_by: Author | None  # the latest answer in the span
    latest: str  # its first lines
    latest_post_id: int  # replying to the digest entry answers this post
    latest_at: datetime  # when the thread last had a post within the span
    tags: tuple[str, ...]


@dataclass(frozen=True)
class DigestContent:
    span: Span
    questions: tuple[Entry, ...]  # "Kan du svara?": unanswered for more than QUESTION_AGE
    new_threads: tuple[Entry, ...]
    active_threads: tuple[Entry, ...]  # older threads with new answers
    more_new_threads: int  # left out to keep the letter short
    more_active_threads: int
    tags: tuple[tuple[str, int], ...]  # (tag, threads) of the span, most used first
    new_thread_count: int
    reply_count: int

    @property
    def is_empty(self) -> bool:
        """Nothing arrived in the span: no digest is sent for it."""
        return self.new_thread_count == 0 and self.reply_count == 0


def _author(post: Post) -> Author:
    return Author(post.author_name, post.organization.name if post.organization else None)


def _posts(session: Session, topic_id: int, start: datetime, end: datetime) -> list[Post]:
    return list(
        session.scalars(
            select(Post)
            .where(Post.topic_id == topic_id, Post.created_at >= start, Post.created_at < end)
            .options(
                selectinload(Post.member).selectinload(Member.organization),
                selectinload(Post.organization),
                selectinload(Post.thread).selectinload(Thread.tags),
            )
            .order_by(Post.created_at, Post.id)
        )
    )


def _question_posts(session: Session, topic_id: int, span: Span) -> list[Post]:
    """First posts of threads started in the span moved back QUESTION_AGE, still unanswered."""
    window = span.shifted(-QUESTION_AGE)
    posts_before_end = (
        select(func.count(Post.id))
        .where(Post.thread_id == Thread.id, Post.created_at < span.end)
        .scalar_subquery()
    )
    thread_ids = select(Thread.id).where(
        Thread.topic_id == topic_id,
        Thread.created_at >= window.start,
        Thread.created_at < window.end,
        posts_before_end == 1,
    )
    return list(
        session.scalars(
            select(Post)
            .where(Post.thread_id.in_(thread_ids), Post.created_at < span.end)
            .options(
                selectinload(Post.member).selectinload(Member.organization),
                selectinload(Post.organization),
                selectinload(Post.thread).selectinload(Thread.tags),
            )
            .order_by(Post.created_at, Post.id)
        )
    )


def _entry(first: Post | None, thread_posts: list[Post], answers: list[Post]) -> Entry:
    thread = thread_posts[0].thread
    repliers: list[Author] = []
    for answer in answers:
        author = _author(answer)
        if author not in repliers:
            repliers.append(author)
    latest = answers[-1] if answers else None
    return Entry(
        thread_id=thread.id,
        subject=thread.subject,
        started_by=_author(first) if first is not None else None,
        started_at=thread.created_at,
        opening=first_lines(first.new_text) if first is not None else "",
        replies=len(answers),
        repliers=tuple(repliers[:MAX_REPLIERS]),
        more_repliers=max(len(repliers) - MAX_REPLIERS, 0),
        latest_by=_author(latest) if latest is not None else None,
        latest=first_lines(latest.new_text) if latest is not None else "",
        latest_post_id=thread_posts[-1].id,
        latest_at=thread_posts[-1].created_at,
        tags=tuple(tag.name for tag in thread.tags),
    )


def select_content(session: Session, topic_id: int, span: Span) -> DigestContent:
    """Everything a digest of `topic_id` shows for `span`, read in one go."""
    by_thread: dict[int, list[Post]] = {}
    for post in _posts(session, topic_id, span.start, span.end):
        by_thread.setdefault(post.thread_id, []).append(post)
    questions = [_entry(post, [post], []) for post in _question_posts(session, topic_id, span)]
    asked = {entry.thread_id for entry in questions}
    new_threads: list[Entry] = []
    active: list[Entry] = []
    reply_count = 0
    new_thread_count = 0
    for posts in by_thread.values():
        thread = posts[0].thread
        is_new = thread.created_at >= span.start
        answers = posts[1:] if is_new else posts
        reply_count += len(answers)
        new_thread_count += is_new
        if thread.id in asked:
            continue
        if is_new:
            new_threads.append(_entry(posts[0], posts, answers))
        else:
            active.append(_entry(None, posts, answers))
    new_threads.sort(key=lambda e: e.started_at, reverse=True)
    active.sort(key=lambda e: (e.latest_at, e.latest_post_id), reverse=True)
    tags = Counter(tag for entry in (*questions, *new_threads, *active) for tag in entry.tags)
    return DigestContent(
        span=span,
        questions=tuple(questions[:MAX_QUESTIONS]),
        new_threads=tuple(new_threads[:MAX_NEW_THREADS]),
        active_threads=tuple(active[:MAX_ACTIVE_THREADS]),
        more_new_threads=max(len(new_threads) - MAX_NEW_THREADS, 0),
        more_active_threads=max(len(active) - MAX_ACTIVE_THREADS, 0),
        tags=tuple(sorted(tags.items(), key=lambda item: (-item[1], item[0]))[:MAX_TAGS]),
        new_thread_count=new_thread_count,
        reply_count=reply_count,
    )
