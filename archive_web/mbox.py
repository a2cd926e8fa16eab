"""A thread as an mboxrd file: each post composed again from what the archive shows.

The stored raw bytes carry addresses in From, To, Cc, Received and the quoted headers, so
they are never handed out. Each message here is from "Name, Organisation" at the topic's own
address (as mailing lists rewrite From), its text masked like the pages; Message-ID,
In-Reply-To and References keep the thread together in a mail program. A Message-ID is kept
as it came (so the export matches the copies in members' inboxes and the /m/ links), unless
the sender's program built it from the sender's own address.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import default
from email.utils import format_datetime
from urllib.parse import quote

from sqlalchemy.orm import Session

from archive_web.privacy import mask_private
from archive_web.queries import load_thread, organization_name
from models import Post

MEDIA_TYPE = "application/mbox"
# Non-ASCII names as RFC 2047 encoded words; text as 8bit UTF-8 up to the 998 limit.
_POLICY = default.clone(linesep="\n", max_line_length=998)
_FROM_LINE = re.compile(rb"^(>*From )", re.MULTILINE)


@dataclass(frozen=True)
class MboxPost:
    id: int
    message_id: str
    parent_message_id: str | None
    author: str
    organization: str
    created_at: datetime
    text: str
    attachments: tuple[tuple[int, str], ...]  # (id, filename)


@dataclass(frozen=True)
class MboxThread:
    topic_slug: str
    subject: str
    posts: tuple[MboxPost, ...]


def thread_posts(session: Session, slug: str, thread_id: int) -> MboxThread | None:
    loaded = load_thread(session, slug, thread_id)
    if loaded is None:
        return None
    thread, posts = loaded
    message_ids = {post.id: _public_message_id(post, slug) for post in posts}
    return MboxThread(
        topic_slug=slug,
        subject=thread.subject,
        posts=tuple(
            MboxPost(
                id=post.id,
                message_id=message_ids[post.id],
                parent_message_id=message_ids.get(post.parent_id) if post.parent_id else None,
                author=post.author_name,
                organization=organization_name(post),
                created_at=post.created_at,
                # new text, signature and quote: the whole mail, masked
                text=post.full_text,
                attachments=tuple((a.id, a.filename) for a in post.attachments),
            )
            for post in posts
        ),
    )


def _public_message_id(post: Post, slug: str) -> str:
    local = ((post.member.email if post.member else None) or "").partition("@")[0].casefold()
    if len(local) >= 3 and local in post.message_id.casefold():
        return f"post-{post.id}.{slug}@delapost.invalid"
    return post.message_id


def _message(post: MboxPost, thread: MboxThread, list_address: str, base_url: str) -> bytes:
    message = EmailMessage(policy=_POLICY)
    name = f"{post.author}, {post.organization}" if post.organization else post.author
    local, _, domain = list_address.partition("@")
    message["From"] = Address(display_name=mask_private(name), username=local, domain=domain)
    message["To"] = list_address
    message["Subject"] = mask_private(thread.subject)
    message["Date"] = format_datetime(post.created_at.astimezone(UTC))
    message["Message-ID"] = f"<{post.message_id}>"
    if post.parent_message_id:
        message["In-Reply-To"] = f"<{post.parent_message_id}>"
        message["References"] = f"<{post.parent_message_id}>"
    text = mask_private(post.text).replace("\r\n", "\n")
    if post.attachments:
        links = "\n".join(
            f"- {name}: {base_url}/attachments/{id_}/{quote(name, safe='')}"
            for id_, name in ((id_, mask_private(filename)) for id_, filename in post.attachments)
        )
        text = f"{text.rstrip()}\n\nBilagor:\n{links}\n"
    message.set_content(text, charset="utf-8")
    return message.as_bytes(policy=_POLICY)


def mboxrd_quote(message: bytes) -> bytes:
    """mboxrd: every line that is `From ` behind any number of `>` gets one more `>`."""
    return _FROM_LINE.sub(rb">\1", message)


def render_mbox(thread: MboxThread, *, list_address: str, base_url: str) -> bytes:
    """The whole thread, oldest post first, each message after its own `From ` line."""
    chunks = []
    for post in thread.posts:
        message = _message(post, thread, list_address, base_url.rstrip("/"))
        stamp = post.created_at.astimezone(UTC).strftime("%a %b %d %H:%M:%S %Y")
        body = mboxrd_quote(message)
        if not body.endswith(b"\n"):
            body += b"\n"
        chunks.append(b"From MAILER-DAEMON " + stamp.encode("ascii") + b"\n" + body + b"\n")
    return b"".join(chunks)
