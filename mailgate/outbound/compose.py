"""Compose the copy of a post that one member receives: threaded, DMARC-safe, with list headers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime
from urllib.parse import quote

from mailgate import addresses
from mailgate.addresses import Kind
from models import Member, Post, Topic
from models.tokens import make_reply_key, sign_value

UNSUBSCRIBE_PURPOSE = "unsubscribe"


@dataclass(frozen=True)
class ListContext:
    """The forum-wide facts every copy needs."""

    list_domain: str
    base_url: str
    secret: bytes

    def url(self, path: str) -> str:
        return self.base_url.rstrip("/") + path


def unsubscribe_token(secret: bytes, member_id: int, topic_id: int) -> str:
    return sign_value(secret, UNSUBSCRIBE_PURPOSE, f"{member_id}:{topic_id}")


def _angle(message_id: str) -> str:
    return f"<{message_id}>"


def list_headers(message: EmailMessage, lc: ListContext, topic: Topic, member: Member) -> None:
    """RFC 2369/2919/8058 headers; the unsubscribe URL is this member's own."""
    d = lc.list_domain
    message["List-Id"] = f"{topic.name} <{topic.slug}.{d}>"
    message["List-Post"] = f"<mailto:{addresses.make(Kind.POST, topic.slug, d)}>"
    message["List-Help"] = f"<mailto:{addresses.make(Kind.REQUEST, topic.slug, d)}?subject=hjälp>"
    message["List-Subscribe"] = f"<mailto:{addresses.make(Kind.JOIN, topic.slug, d)}>"
    message["List-Owner"] = f"<mailto:{addresses.make(Kind.OWNER, topic.slug, d)}>"
    token = unsubscribe_token(lc.secret, member.id, topic.id)
    message["List-Unsubscribe"] = (
        f"<{lc.url('/u/' + token)}>, <mailto:{addresses.make(Kind.LEAVE, topic.slug, d)}>"
    )
    message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message["Precedence"] = "list"
    message["X-Auto-Response-Suppress"] = "OOF, AutoReply"
    message["X-Delapost-Loop"] = d


def footer(lc: ListContext, topic: Topic, thread_url: str, member: Member) -> str:
    token = unsubscribe_token(lc.secret, member.id, topic.id)
    request = addresses.make(Kind.REQUEST, topic.slug, lc.list_domain)
    return (
        "\n\n-- \n"
        f"{topic.name}: {thread_url}\n"
        f"Svara på det här brevet för att svara i tråden. Vill du hellre få en sammanfattning"
        f' per vecka, skriv "sammanfattning vecka" till {request}.\n'
        f"Lämna {topic.name}: {lc.url('/u/' + token)}\n"
    )


def compose_copy(
    post: Post,
    topic: Topic,
    member: Member,
    lc: ListContext,
    *,
    attachments: list[tuple[str, str, bytes]] = (),  # type: ignore[assignment]
    now: datetime | None = None,
) -> EmailMessage:
    """One member's copy of a post; `attachments` are (filename, content type, data)."""
    assert member.email is not None
    d = lc.list_domain
    author = post.author_name
    org = post.organization.name if post.organization else None
    display = f"{author} ({org}) via {topic.name}" if org else f"{author} via {topic.name}"
    thread_url = lc.url(f"/{topic.slug}/t/{post.thread_id}")
    message = EmailMessage()
    message["From"] = Address(
        display_name=display, addr_spec=addresses.make(Kind.POST, topic.slug, d)
    )
    message["To"] = addresses.make(Kind.POST, topic.slug, d)
    message["Reply-To"] = addresses.make(
        Kind.REPLY, topic.slug, d, make_reply_key(lc.secret, post.id)
    )
    subject = post.thread.subject if post.parent_id is None else f"SV: {post.thread.subject}"
    message["Subject"] = f"[{topic.slug}] {subject}"
    message["Date"] = format_datetime(now or post.created_at)
    message["Message-ID"] = _angle(post.message_id)
    parent = post.thread.posts[0] if post.thread.posts else None
    if post.parent_id is not None or (parent is not None and parent.id != post.id):
        parent_id = post.parent_id
        parent_post = next((p for p in post.thread.posts if p.id == parent_id), parent)
        if parent_post is not None and parent_post.id != post.id:
            message["In-Reply-To"] = _angle(parent_post.message_id)
            message["References"] = " ".join(
                _angle(p.message_id) for p in post.thread.posts if p.id != post.id
            )[-900:].lstrip()
    message["List-Archive"] = f"<{lc.url('/m/' + quote(post.message_id, safe='@'))}>"
    list_headers(message, lc, topic, member)
    message.set_content(post.full_text.rstrip() + footer(lc, topic, thread_url, member))
    for filename, content_type, data in attachments:
        maintype, _, subtype = content_type.partition("/")
        message.add_attachment(
            data,
            maintype=maintype or "application",
            subtype=subtype or "octet-stream",
            filename=filename,
        )
    return message
