"""A topic's newest posts as an Atom feed (RFC 4287), with stable tag: ids and no addresses."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import quote
from xml.etree import ElementTree as ET

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from archive_web.privacy import mask_private
from archive_web.queries import author_options, organization_name
from models import Post, Thread, Topic

ATOM = "http://www.w3.org/2005/Atom"
FEED_ENTRIES = 50
MEDIA_TYPE = "application/atom+xml; charset=utf-8"
# XML 1.0 cannot carry most control characters, and mail sometimes does.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


@dataclass(frozen=True)
class FeedEntry:
    post_id: int
    thread_id: int
    subject: str
    author: str
    organization: str
    created_at: datetime
    text: str


@dataclass(frozen=True)
class Feed:
    slug: str
    name: str
    description: str
    created_at: datetime
    entries: tuple[FeedEntry, ...]


def topic_feed(session: Session, slug: str) -> Feed | None:
    topic = session.scalar(select(Topic).where(Topic.slug == slug))
    if topic is None:
        return None
    posts = session.scalars(
        select(Post)
        .where(Post.topic_id == topic.id)
        .order_by(Post.created_at.desc(), Post.id.desc())
        .limit(FEED_ENTRIES)
        .options(*author_options(), joinedload(Post.thread))
    ).all()
    return Feed(
        slug=topic.slug,
        name=topic.name,
        description=topic.description,
        created_at=topic.created_at,
        entries=tuple(_entry(post) for post in posts),
    )


def _entry(post: Post) -> FeedEntry:
    thread: Thread = post.thread
    return FeedEntry(
        post_id=post.id,
        thread_id=thread.id,
        subject=thread.subject,
        author=post.author_name,
        organization=organization_name(post),
        created_at=post.created_at,
        text=post.new_text,
    )


def _clean(text: str) -> str:
    return _NOT_XML.sub("", mask_private(text))


def _stamp(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def tag_uri(list_domain: str, since: datetime, specific: str) -> str:
    """An RFC 4151 id that stays the same however the archive's address changes."""
    return f"tag:{list_domain},{since.astimezone(UTC).date().isoformat()}:{specific}"


def render_atom(feed: Feed, *, base_url: str, list_domain: str) -> bytes:
    """The feed document; `base_url` makes the absolute links feed readers need."""
    base = base_url.rstrip("/")
    topic_url = f"{base}/{quote(feed.slug, safe='')}/"
    root = ET.Element("feed", {"xmlns": ATOM, "xml:lang": "sv"})
    ET.SubElement(root, "id").text = tag_uri(list_domain, feed.created_at, f"{feed.slug}")
    ET.SubElement(root, "title").text = _clean(feed.name)
    if feed.description:
        ET.SubElement(root, "subtitle").text = _clean(feed.description)
    updated = max((entry.created_at for entry in feed.entries), default=feed.created_at)
    ET.SubElement(root, "updated").text = _stamp(updated)
    ET.SubElement(root, "link", {"rel": "self", "href": f"{topic_url}atom.xml"})
    ET.SubElement(root, "link", {"rel": "alternate", "type": "text/html", "href": topic_url})
    ET.SubElement(root, "generator").text = "delapost"
    for entry in feed.entries:
        item = ET.SubElement(root, "entry")
        specific = f"{feed.slug}/post/{entry.post_id}"
        ET.SubElement(item, "id").text = tag_uri(list_domain, entry.created_at, specific)
        ET.SubElement(item, "title").text = _clean(entry.subject)
        ET.SubElement(item, "updated").text = _stamp(entry.created_at)
        ET.SubElement(item, "published").text = _stamp(entry.created_at)
        link = f"{topic_url}t/{entry.thread_id}#p{entry.post_id}"
        ET.SubElement(item, "link", {"rel": "alternate", "type": "text/html", "href": link})
        author = ET.SubElement(item, "author")
        name = f"{entry.author}, {entry.organization}" if entry.organization else entry.author
        ET.SubElement(author, "name").text = _clean(name)
        ET.SubElement(item, "content", {"type": "text"}).text = _clean(entry.text)
    body: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return body
