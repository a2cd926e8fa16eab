"""Threads by tag and posts by organisation: the ways across topics to what colleagues wrote."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session, joinedload, selectinload
from sqlalchemy.sql.elements import ColumnElement

from archive_web.privacy import mask_private
from archive_web.queries import (
    THREADS_PER_PAGE,
    ThreadSummary,
    author_options,
    thread_summaries,
)
from models import Member, Organization, Post, Tag, Thread, Topic, thread_tag

ORG_RECENT_POSTS = 30
ORG_PEOPLE = 50
EXCERPT_CHARS = 240


@dataclass(frozen=True)
class TagPage:
    tag: str
    threads: tuple[ThreadSummary, ...]
    page: int
    page_count: int


@dataclass(frozen=True)
class Person:
    name: str
    post_count: int
    last_post_at: datetime


@dataclass(frozen=True)
class OrgPost:
    id: int
    topic_slug: str
    topic_name: str
    thread_id: int
    subject: str
    author: str
    created_at: datetime
    excerpt: str


@dataclass(frozen=True)
class OrgPage:
    slug: str
    name: str
    kind: str
    county: str
    people: tuple[Person, ...]
    posts: tuple[OrgPost, ...]


def page_count(total: int, per_page: int = THREADS_PER_PAGE) -> int:
    return max(1, -(-total // per_page))


def tag_page(session: Session, name: str, page: int) -> TagPage | None:
    """One page of the threads carrying a tag, in every topic, newest activity first."""
    tag = session.scalar(select(Tag).where(Tag.name == name))
    if tag is None or page < 1:
        return None
    tagged = and_(
        Thread.post_count > 0,
        Thread.id.in_(select(thread_tag.c.thread_id).where(thread_tag.c.tag_id == tag.id)),
    )
    total = session.scalar(select(func.count()).select_from(Thread).where(tagged)) or 0
    pages = page_count(total)
    if total == 0 or page > pages:
        return None
    threads = session.scalars(
        select(Thread)
        .where(tagged)
        .order_by(Thread.last_post_at.desc(), Thread.id.desc())
        .offset((page - 1) * THREADS_PER_PAGE)
        .limit(THREADS_PER_PAGE)
        .options(joinedload(Thread.topic), selectinload(Thread.tags))
    ).all()
    return TagPage(
        tag=tag.name,
        threads=tuple(thread_summaries(session, threads)),
        page=page,
        page_count=pages,
    )


def _from_organization(organization_id: int) -> ColumnElement[bool]:
    # The organisation at the time of posting; for rows without one, the member's.
    members = select(Member.id).where(Member.organization_id == organization_id)
    return or_(
        Post.organization_id == organization_id,
        and_(Post.organization_id.is_(None), Post.member_id.in_(members)),
    )


def org_page(session: Session, slug: str) -> OrgPage | None:
    """An organisation, who from it has written, and what they wrote lately.

    Only people who have posted are shown: the archive never lists who merely subscribes.
    """
    organization = session.scalar(select(Organization).where(Organization.slug == slug))
    if organization is None:
        return None
    written = _from_organization(organization.id)
    people = session.execute(
        select(Member, func.count(Post.id), func.max(Post.created_at))
        .join(Post, Post.member_id == Member.id)
        .where(written, Member.forgotten_at.is_(None))
        .group_by(Member.id)
        .order_by(func.max(Post.created_at).desc(), Member.id)
        .limit(ORG_PEOPLE)
    ).all()
    posts = session.scalars(
        select(Post)
        .where(written)
        .order_by(Post.created_at.desc(), Post.id.desc())
        .limit(ORG_RECENT_POSTS)
        .options(*author_options(), joinedload(Post.thread).joinedload(Thread.topic))
    ).all()
    return OrgPage(
        slug=organization.slug,
        name=organization.name,
        kind=organization.kind,
        county=organization.county,
        people=tuple(
            Person(name=member.display_name, post_count=count, last_post_at=last)
            for member, count, last in people
        ),
        posts=tuple(_org_post(post) for post in posts),
    )


def _org_post(post: Post) -> OrgPost:
    topic: Topic = post.thread.topic
    # Masked before it is cut, so no half phone number slips through.
    text = " ".join(mask_private(post.new_text).split())
    if len(text) > EXCERPT_CHARS:
        text = text[:EXCERPT_CHARS].rsplit(" ", 1)[0] + " …"
    return OrgPost(
        id=post.id,
        topic_slug=topic.slug,
        topic_name=topic.name,
        thread_id=post.thread_id,
        subject=post.thread.subject,
        author=post.author_name,
        created_at=post.created_at,
        excerpt=text,
    )
