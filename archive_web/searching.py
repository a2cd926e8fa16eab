"""The search page's results: the matching threads, each with its best post as a marked snippet."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from markupsafe import Markup
from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from archive_web.highlight import highlight, snippet
from archive_web.privacy import mask_private
from archive_web.queries import author_options, organization_name, organization_slug
from models import Post, Tag, Thread, Topic
from models.search import query_stems, search

RESULTS_PER_PAGE = 20
MAX_QUERY_CHARS = 200
MAX_PAGE = 50


@dataclass(frozen=True)
class SearchResultView:
    thread_id: int
    post_id: int
    topic_slug: str
    topic_name: str
    subject: Markup
    author: str
    organization: str
    organization_slug: str
    created_at: datetime
    snippet: Markup
    reply_count: int


@dataclass(frozen=True)
class SearchForm:
    """What the visitor asked, and the choices the form offers."""

    query: str
    topic: str
    tag: str
    topics: tuple[tuple[str, str], ...]  # (slug, name)


@dataclass(frozen=True)
class SearchPage:
    form: SearchForm
    results: tuple[SearchResultView, ...]
    total: int
    page: int
    page_count: int
    only_small_words: bool


def search_form(session: Session, query: str, topic: str, tag: str) -> SearchForm:
    rows = session.execute(select(Topic.slug, Topic.name).order_by(Topic.name, Topic.id))
    topics = tuple((slug, name) for slug, name in rows)
    return SearchForm(query=query[:MAX_QUERY_CHARS], topic=topic, tag=tag, topics=topics)


def search_page(session: Session, form: SearchForm, page: int) -> SearchPage | None:
    """A page of results; None when the page number is past the last page."""
    terms = query_stems(form.query)
    known_tag = not form.tag or session.scalar(select(Tag.id).where(Tag.name == form.tag))
    if not terms or not known_tag:
        return SearchPage(
            form=form,
            results=(),
            total=0,
            page=1,
            page_count=1,
            only_small_words=bool(form.query.strip()) and not terms,
        )
    found = search(
        session,
        form.query,
        topic=form.topic or None,
        tag=form.tag or None,
        limit=RESULTS_PER_PAGE,
        offset=(page - 1) * RESULTS_PER_PAGE,
    )
    page_count = max(1, -(-found.total // RESULTS_PER_PAGE))
    if page > page_count:
        return None
    posts = {
        post.id: post
        for post in session.scalars(
            select(Post)
            .where(Post.id.in_([hit.post_id for hit in found.hits]))
            .options(*author_options(), joinedload(Post.thread).joinedload(Thread.topic))
        )
    }
    wanted = set(terms)
    results = tuple(
        _result(posts[hit.post_id], wanted) for hit in found.hits if hit.post_id in posts
    )
    return SearchPage(
        form=form,
        results=results,
        total=found.total,
        page=page,
        page_count=page_count,
        only_small_words=False,
    )


def _result(post: Post, terms: set[str]) -> SearchResultView:
    thread: Thread = post.thread
    return SearchResultView(
        thread_id=thread.id,
        post_id=post.id,
        topic_slug=thread.topic.slug,
        topic_name=thread.topic.name,
        subject=highlight(mask_private(thread.subject), terms),
        author=post.author_name,
        organization=organization_name(post),
        organization_slug=organization_slug(post),
        created_at=post.created_at,
        snippet=snippet(mask_private(post.new_text), terms),
        reply_count=max(thread.post_count - 1, 0),
    )
