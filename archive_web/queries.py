"""Read-only queries that turn the forum's tables into small values for the pages."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session, joinedload, load_only, selectinload
from sqlalchemy.sql.base import ExecutableOption

from models import Attachment, Member, Organization, Post, Thread, Topic

THREADS_PER_PAGE = 50
LATEST_THREADS = 10
RECENT_WINDOW = timedelta(days=7)
# Ids above this cannot exist (PostgreSQL integer) and would make the database raise.
MAX_ID = 2**31 - 1


@dataclass(frozen=True)
class TopicSummary:
    slug: str
    name: str
    description: str
    thread_count: int
    recent_post_count: int


@dataclass(frozen=True)
class TopicInfo:
    slug: str
    name: str
    description: str


@dataclass(frozen=True)
class ThreadSummary:
    id: int
    topic_slug: str
    topic_name: str
    subject: str
    post_count: int
    last_post_at: datetime
    first_author: str
    first_organization: str
    first_organization_slug: str
    tags: tuple[str, ...]

    @property
    def reply_count(self) -> int:
        return max(self.post_count - 1, 0)

    @property
    def unanswered(self) -> bool:
        return self.post_count == 1


@dataclass(frozen=True)
class TopicPage:
    topic: TopicInfo
    threads: tuple[ThreadSummary, ...]
    page: int
    page_count: int


@dataclass(frozen=True)
class AttachmentView:
    id: int
    filename: str
    content_type: str
    size: int
    download_count: int


@dataclass(frozen=True)
class PostView:
    id: int
    author: str
    organization: str
    organization_slug: str
    created_at: datetime
    new_text: str
    quoted_text: str
    signature: str
    attachments: tuple[AttachmentView, ...]


@dataclass(frozen=True)
class ThreadView:
    id: int
    topic: TopicInfo
    subject: str
    tags: tuple[str, ...]
    posts: tuple[PostView, ...]


@dataclass(frozen=True)
class PostLocation:
    topic_slug: str
    thread_id: int
    post_id: int


def topic_summaries(session: Session, now: datetime) -> list[TopicSummary]:
    """Every topic by name, with how many threads it has and how lively it was lately."""
    threads = {
        topic_id: count
        for topic_id, count in session.execute(
            select(Thread.topic_id, func.count())
            .where(Thread.post_count > 0)
            .group_by(Thread.topic_id)
        )
    }
    since = now - RECENT_WINDOW
    # Only threads active lately can hold recent posts: the search goes through them and
    # the (thread, created) index instead of reading every post.
    active = select(Thread.id).where(Thread.last_post_at >= since)
    recent = {
        topic_id: count
        for topic_id, count in session.execute(
            select(Post.topic_id, func.count())
            .where(Post.thread_id.in_(active), Post.created_at >= since)
            .group_by(Post.topic_id)
        )
    }
    return [
        TopicSummary(
            slug=topic.slug,
            name=topic.name,
            description=topic.description,
            thread_count=threads.get(topic.id, 0),
            recent_post_count=recent.get(topic.id, 0),
        )
        for topic in session.scalars(select(Topic).order_by(Topic.name, Topic.id))
    ]


def latest_threads(session: Session, limit: int = LATEST_THREADS) -> list[ThreadSummary]:
    """The threads with the newest posts, across all topics."""
    threads = session.scalars(
        select(Thread)
        .where(Thread.post_count > 0)
        .order_by(Thread.last_post_at.desc(), Thread.id.desc())
        .limit(limit)
        .options(joinedload(Thread.topic), selectinload(Thread.tags))
    ).all()
    return thread_summaries(session, threads)


def topic_page(session: Session, slug: str, page: int) -> TopicPage | None:
    """One page of a topic's threads, newest activity first; None if there is no such page."""
    topic = session.scalar(select(Topic).where(Topic.slug == slug))
    if topic is None or page < 1:
        return None
    total = session.scalar(
        select(func.count())
        .select_from(Thread)
        .where(Thread.topic_id == topic.id, Thread.post_count > 0)
    )
    page_count = max(1, -(-(total or 0) // THREADS_PER_PAGE))
    if page > page_count:
        return None
    threads = session.scalars(
        select(Thread)
        .where(Thread.topic_id == topic.id, Thread.post_count > 0)
        .order_by(Thread.last_post_at.desc(), Thread.id.desc())
        .offset((page - 1) * THREADS_PER_PAGE)
        .limit(THREADS_PER_PAGE)
        .options(joinedload(Thread.topic), selectinload(Thread.tags))
    ).all()
    return TopicPage(
        topic=topic_info(topic),
        threads=tuple(thread_summaries(session, threads)),
        page=page,
        page_count=page_count,
    )


def load_thread(
    session: Session, slug: str, thread_id: int
) -> tuple[Thread, Sequence[Post]] | None:
    """A thread of that topic and its posts in the order they came; None if there is none."""
    if not 0 < thread_id <= MAX_ID:
        return None
    thread = session.scalar(
        select(Thread)
        .join(Topic, Topic.id == Thread.topic_id)
        .where(Thread.id == thread_id, Topic.slug == slug)
        .options(joinedload(Thread.topic), selectinload(Thread.tags))
    )
    if thread is None:
        return None
    posts = session.scalars(
        select(Post)
        .where(Post.thread_id == thread.id)
        .order_by(Post.created_at, Post.id)
        .options(*author_options(), selectinload(Post.attachments))
    ).all()
    return (thread, posts) if posts else None


def thread_view(session: Session, slug: str, thread_id: int) -> ThreadView | None:
    """A thread with all its posts in the order they came, if it belongs to that topic."""
    loaded = load_thread(session, slug, thread_id)
    if loaded is None:
        return None
    thread, posts = loaded
    return ThreadView(
        id=thread.id,
        topic=topic_info(thread.topic),
        subject=thread.subject,
        tags=tuple(tag.name for tag in thread.tags),
        posts=tuple(post_view(post) for post in posts),
    )


def locate_message(session: Session, message_id: str) -> PostLocation | None:
    """Where the post with this Message-ID is shown; the first one if it went to several topics."""
    row = session.execute(
        select(Topic.slug, Post.thread_id, Post.id)
        .join(Topic, Topic.id == Post.topic_id)
        .where(Post.message_id == message_id)
        .order_by(Post.id)
        .limit(1)
    ).first()
    if row is None:
        return None
    slug, thread_id, post_id = row
    return PostLocation(topic_slug=slug, thread_id=thread_id, post_id=post_id)


def topic_info(topic: Topic) -> TopicInfo:
    return TopicInfo(slug=topic.slug, name=topic.name, description=topic.description)


def author_options() -> tuple[ExecutableOption, ...]:
    # Many-to-one, so joined into the posts' own query: no extra round trips.
    return (
        joinedload(Post.member).joinedload(Member.organization),
        joinedload(Post.organization),
    )


def organization_of(post: Post) -> Organization | None:
    organization: Organization | None = post.organization
    if organization is None and post.member is not None:
        organization = post.member.organization
    return organization


def organization_name(post: Post) -> str:
    organization = organization_of(post)
    return organization.name if organization is not None else ""


def organization_slug(post: Post) -> str:
    organization = organization_of(post)
    return organization.slug if organization is not None else ""


def thread_summaries(session: Session, threads: Sequence[Thread]) -> list[ThreadSummary]:
    firsts = _first_posts(session, [thread.id for thread in threads])
    summaries = []
    for thread in threads:
        first = firsts.get(thread.id)
        summaries.append(
            ThreadSummary(
                id=thread.id,
                topic_slug=thread.topic.slug,
                topic_name=thread.topic.name,
                subject=thread.subject,
                post_count=thread.post_count,
                last_post_at=thread.last_post_at,
                first_author=first.author_name if first else "",
                first_organization=organization_name(first) if first else "",
                first_organization_slug=organization_slug(first) if first else "",
                tags=tuple(tag.name for tag in thread.tags),
            )
        )
    return summaries


def _first_posts(session: Session, thread_ids: list[int]) -> dict[int, Post]:
    """The opening post of each thread, in one query however many threads there are."""
    if not thread_ids:
        return {}
    ranked = (
        select(
            Post.id,
            func.row_number()
            .over(partition_by=Post.thread_id, order_by=(Post.created_at, Post.id))
            .label("rank"),
        )
        .where(Post.thread_id.in_(thread_ids))
        .subquery()
    )
    posts = session.scalars(
        select(Post)
        .where(Post.id.in_(select(ranked.c.id).where(ranked.c.rank == 1)))
        # Only who wrote it is shown: the texts stay in the database.
        .options(
            load_only(Post.id, Post.thread_id, Post.member_id, Post.organization_id),
            *author_options(),
        )
    ).all()
    return {post.thread_id: post for post in posts}


def post_view(post: Post) -> PostView:
    return PostView(
        id=post.id,
        author=post.author_name,
        organization=organization_name(post),
        organization_slug=organization_slug(post),
        created_at=post.created_at,
        new_text=post.new_text,
        quoted_text=post.quoted_text,
        signature=post.signature,
        attachments=tuple(_attachment_view(a) for a in post.attachments),
    )


def _attachment_view(attachment: Attachment) -> AttachmentView:
    return AttachmentView(
        id=attachment.id,
        filename=attachment.filename,
        content_type=attachment.content_type,
        size=attachment.size,
        download_count=attachment.download_count,
    )
