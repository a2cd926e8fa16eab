"""The links a digest entry carries: the thread in the archive, "Svara" and "Följ" as mailto.

The addresses follow mailgate.addresses (`t+KEY@D`, `t-request@D`); digest may import only
mailgate.outbound of the gateway, so they are spelled here, and a test holds the two equal.
"""

from __future__ import annotations

from urllib.parse import quote

from mailgate.outbound import ListContext
from models.tokens import make_reply_key


def reply_address(lc: ListContext, slug: str, post_id: int) -> str:
    """`t+KEY@D`: a mail to it is posted as an answer to post `post_id`, in its thread."""
    return f"{slug}+{make_reply_key(lc.secret, post_id)}@{lc.list_domain}"


def request_address(lc: ListContext, slug: str) -> str:
    """`t-request@D`: commands (följ, sammanfattning, hjälp…), never posted."""
    return f"{slug}-request@{lc.list_domain}"


def mailto(address: str, subject: str) -> str:
    """A mailto URL with the subject percent-encoded as UTF-8 (RFC 6068)."""
    return f"mailto:{address}?subject={quote(subject, safe='')}"


def thread_url(lc: ListContext, slug: str, thread_id: int) -> str:
    return lc.url(f"/{slug}/t/{thread_id}")


def topic_url(lc: ListContext, slug: str) -> str:
    return lc.url(f"/{slug}/")


def tag_url(lc: ListContext, tag: str) -> str:
    return lc.url(f"/tags/{quote(tag, safe='')}")


def reply_link(lc: ListContext, slug: str, post_id: int, thread_subject: str) -> str:
    """ "Svara": an answer to the thread's latest post, subject `SV: <thread subject>`."""
    return mailto(reply_address(lc, slug, post_id), f"SV: {thread_subject}")


def follow_command(thread_id: int) -> str:
    """The command the request address reads to follow a thread: `följ <thread id>`."""
    return f"följ {thread_id}"


def follow_link(lc: ListContext, slug: str, thread_id: int) -> str:
    """ "Följ": get every new post of the thread by mail, whatever one's digest mode."""
    return mailto(request_address(lc, slug), follow_command(thread_id))


# The request address's words for each delivery mode ("sammanfattning vecka"…).
MODE_WORDS = {"each": "varje", "daily": "dag", "weekly": "vecka", "none": "ingen"}


def mode_link(lc: ListContext, slug: str, mode: str) -> str:
    """Switch delivery mode: `sammanfattning varje|dag|vecka|ingen` to the request address."""
    return mailto(request_address(lc, slug), f"sammanfattning {MODE_WORDS[mode]}")
