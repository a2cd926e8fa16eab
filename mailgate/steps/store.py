"""Storing: the raw bytes first, then the post, its thread, tags and attachments.

Rows are written with Core statements built once, not through the ORM's unit of work: nothing
reads them back as objects in the same transaction, and a mail is stored many times a second.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from sqlalchemy import Connection, bindparam, case, insert, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from mailgate.authenticate import strip_forged_results
from mailgate.context import MailContext
from mailgate.parse import ParsedMessage
from mailgate.subjects import outlook_conversation_id, strip_prefixes, thread_key
from mailgate.tags import extract_tags
from mailgate.verdict import Accept, Verdict
from models import (
    Attachment,
    Blob,
    FollowState,
    Post,
    RawMessage,
    Tag,
    Thread,
    ThreadFollow,
    thread_tag,
)
from models.search import index_new_post

_REFUSED = {
    "executable": (
        "körbara filer tas inte emot av säkerhetsskäl",
        "executable files are not accepted, for safety",
    ),
    "too large": ("den var för stor", "it was too large"),
}

_NEW_RAW = insert(RawMessage).returning(RawMessage.id)
_DUPLICATE = select(Post.id).where(
    Post.topic_id == bindparam("topic_id"), Post.message_id == bindparam("message_id")
)
_NEW_THREAD = insert(Thread).returning(Thread.id)
_NOW = bindparam("now", type_=Thread.last_post_at.type)
_THREAD_GAINS_POST = (
    update(Thread)
    .where(Thread.id == bindparam("thread_id"))
    .values(
        post_count=Thread.post_count + 1,
        last_post_at=case((Thread.last_post_at < _NOW, _NOW), else_=Thread.last_post_at),
    )
)
_TAGS_NAMED = select(Tag.name, Tag.id).where(Tag.name.in_(bindparam("names", expanding=True)))
_NEW_TAG = insert(Tag).returning(Tag.id)
_THREAD_TAGS = select(thread_tag.c.tag_id).where(thread_tag.c.thread_id == bindparam("thread_id"))
_TAG_THREAD = insert(thread_tag)
_NEW_POST = insert(Post).returning(Post.id)
_NEW_ATTACHMENTS = insert(Attachment)
_BLOB = select(Blob.sha256).where(Blob.sha256 == bindparam("sha256"))
_NEW_BLOB = insert(Blob)
_FOLLOW = insert(ThreadFollow)
_FOLLOWING = select(ThreadFollow.state).where(
    ThreadFollow.member_id == bindparam("member_id"),
    ThreadFollow.thread_id == bindparam("thread_id"),
)
# INSERTs that leave a row with the same key alone, on the databases that can say so.
_BLOB_IF_ABSENT = {
    "sqlite": sqlite_insert(Blob).on_conflict_do_nothing(),
    "postgresql": postgresql_insert(Blob).on_conflict_do_nothing(),
}
_FOLLOW_IF_ABSENT = {
    "sqlite": sqlite_insert(ThreadFollow).on_conflict_do_nothing(),
    "postgresql": postgresql_insert(ThreadFollow).on_conflict_do_nothing(),
}


def store_raw(ctx: MailContext) -> int:
    """Keep the bytes as received, less any Authentication-Results forged in our name."""
    if ctx.raw_id is None:
        values = {
            "message_id": ctx.message_id,
            "mail_from": ctx.inbound.mail_from,
            "rcpt_to": ", ".join(ctx.inbound.rcpt_tos),
            "received_at": ctx.inbound.received_at,
            "data": strip_forged_results(ctx.inbound.data, ctx.config.authserv_id),
        }
        ctx.raw_id = ctx.connection().execute(_NEW_RAW, values).scalar_one()
    return ctx.raw_id


def skip_duplicate(ctx: MailContext) -> Verdict | None:
    """A server retrying after a lost 250 must not post twice."""
    assert ctx.topic is not None
    existing = ctx.connection().scalar(
        _DUPLICATE, {"topic_id": ctx.topic.id, "message_id": ctx.message_id}
    )
    if existing is not None:
        ctx.note("store", f"already stored as post #{existing}")
        return Accept("duplicate Message-ID")
    return None


def refusal_note(parsed: ParsedMessage) -> str:
    """What readers see in place of the attachments we did not take, in Swedish and English."""
    lines = []
    for name, reason in zip(parsed.refused_attachments, parsed.refusal_reasons, strict=False):
        swedish, english = _REFUSED.get(reason, _REFUSED["executable"])
        lines.append(
            f"[Bilagan ”{name}” togs bort: {swedish}. / "
            f"The attachment “{name}” was removed: {english}.]"
        )
    return "\n".join(lines)


def store_blob(connection: Connection, data: bytes) -> str:
    """Keep attachment content once per SHA-256; a concurrent twin storing it too is harmless."""
    digest = hashlib.sha256(data).hexdigest()
    values = {"sha256": digest, "size": len(data), "data": data}
    if_absent = _BLOB_IF_ABSENT.get(connection.dialect.name)
    if if_absent is not None:
        connection.execute(if_absent, values)
    elif connection.scalar(_BLOB, {"sha256": digest}) is None:
        connection.execute(_NEW_BLOB, values)
    return digest


def thread_for(ctx: MailContext, subject: str, display_subject: str) -> tuple[int, bool]:
    """The thread the post goes in, counting it there: (its id, whether it was made for it)."""
    assert ctx.topic is not None
    now = ctx.inbound.received_at
    if ctx.thread_id is not None:
        ctx.connection().execute(_THREAD_GAINS_POST, {"thread_id": ctx.thread_id, "now": now})
        return ctx.thread_id, False
    values = {
        "topic_id": ctx.topic.id,
        "subject": display_subject,
        "subject_key": thread_key(subject, ctx.topic.slug),
        "conversation_id": outlook_conversation_id(ctx.parsed.header("Thread-Index")),
        "created_at": now,
        "last_post_at": now,
        "post_count": 1,
    }
    thread_id: int = ctx.connection().execute(_NEW_THREAD, values).scalar_one()
    return thread_id, True


def tag_thread(
    connection: Connection, thread_id: int, names: Sequence[str], *, new_thread: bool
) -> None:
    """Give the thread these tags, each made when first used."""
    if not names:
        return
    ids = {name: tag_id for name, tag_id in connection.execute(_TAGS_NAMED, {"names": list(names)})}
    for name in names:
        if name not in ids:
            ids[name] = connection.execute(_NEW_TAG, {"name": name}).scalar_one()
    has = set() if new_thread else set(connection.scalars(_THREAD_TAGS, {"thread_id": thread_id}))
    missing = [ids[name] for name in names if ids[name] not in has]
    if missing:
        connection.execute(
            _TAG_THREAD, [{"thread_id": thread_id, "tag_id": tag_id} for tag_id in missing]
        )


def follow(connection: Connection, member_id: int, thread_id: int, *, new_thread: bool) -> None:
    """The writer follows the thread, unless they already chose (to follow, or to mute)."""
    values = {"member_id": member_id, "thread_id": thread_id, "state": FollowState.FOLLOW}
    if new_thread:  # nobody has chosen anything about it yet
        connection.execute(_FOLLOW, values)
        return
    if_absent = _FOLLOW_IF_ABSENT.get(connection.dialect.name)
    if if_absent is not None:
        connection.execute(if_absent, values)
    elif connection.scalar(_FOLLOWING, values) is None:
        connection.execute(_FOLLOW, values)


def insert_post(ctx: MailContext, thread_id: int, subject: str) -> int:
    """The post row, indexed for search; the search index's ORM event does not see Core."""
    assert ctx.topic is not None
    text = ctx.reply_text()
    note = refusal_note(ctx.parsed)
    new_text = f"{text.new}\n\n{note}".strip() if note else text.new
    values = {
        "topic_id": ctx.topic.id,
        "thread_id": thread_id,
        "parent_id": ctx.parent_id,
        "member_id": ctx.member_id,
        "organization_id": ctx.organization_id,
        "raw_message_id": store_raw(ctx),
        "message_id": ctx.message_id,
        "subject": subject,
        "full_text": text.full,
        "new_text": new_text,
        "quoted_text": text.quoted,
        "signature": text.signature,
        "html": ctx.parsed.html,
        "created_at": ctx.inbound.received_at,
    }
    connection = ctx.connection()
    post_id: int = connection.execute(_NEW_POST, values).scalar_one()
    index_new_post(connection, post_id, subject, new_text)
    return post_id


def store_attachments(connection: Connection, post_id: int, parsed: ParsedMessage) -> None:
    if parsed.attachments:
        rows = [
            {
                "post_id": post_id,
                "blob_sha256": store_blob(connection, part.data),
                "filename": part.filename,
                "content_type": part.content_type,
                "size": len(part.data),
            }
            for part in parsed.attachments
        ]
        connection.execute(_NEW_ATTACHMENTS, rows)


def store_post(ctx: MailContext) -> Verdict | None:
    assert ctx.topic is not None
    parsed = ctx.parsed
    store_raw(ctx)  # the bytes first, then what is made of them
    subject, tag_names = extract_tags(parsed.subject, ctx.reply_text().new)
    display_subject = strip_prefixes(subject, ctx.topic.slug) or "(inget ämne)"
    connection = ctx.connection()
    thread_id, new_thread = thread_for(ctx, subject, display_subject)
    ctx.thread_id = thread_id
    tag_thread(connection, thread_id, tag_names, new_thread=new_thread)
    post_id = insert_post(ctx, thread_id, display_subject)
    ctx.post_id = post_id
    store_attachments(connection, post_id, parsed)
    if ctx.member_id is not None:
        # Whoever writes in a thread hears the answers, even in digest mode.
        follow(connection, ctx.member_id, thread_id, new_thread=new_thread)
    refused = ", ".join(parsed.refused_attachments)
    ctx.note(
        "store",
        f"post #{post_id} in thread #{thread_id}"
        + (f", {len(parsed.attachments)} attachment(s)" if parsed.attachments else "")
        + (f"; refused attachments: {refused}" if refused else ""),
    )
    return None
