"""Storing: the raw bytes first, then the post, its thread, tags and attachments."""

from __future__ import annotations

import hashlib

from sqlalchemy import insert, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

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
)

_REFUSED = {
    "executable": (
        "körbara filer tas inte emot av säkerhetsskäl",
        "executable files are not accepted, for safety",
    ),
    "too large": ("den var för stor", "it was too large"),
}


def store_raw(ctx: MailContext) -> int:
    """Keep the bytes as received, less any Authentication-Results forged in our name."""
    if ctx.raw_id is None:
        ctx.raw_id = ctx.session.execute(
            insert(RawMessage)
            .values(
                message_id=ctx.message_id,
                mail_from=ctx.inbound.mail_from,
                rcpt_to=", ".join(ctx.inbound.rcpt_tos),
                received_at=ctx.inbound.received_at,
                data=strip_forged_results(ctx.inbound.data, ctx.config.authserv_id),
            )
            .returning(RawMessage.id)
        ).scalar_one()
    return ctx.raw_id


def skip_duplicate(ctx: MailContext) -> Verdict | None:
    """A server retrying after a lost 250 must not post twice."""
    assert ctx.topic is not None
    existing = ctx.session.scalar(
        select(Post.id).where(Post.topic_id == ctx.topic.id, Post.message_id == ctx.message_id)
    )
    if existing is not None:
        ctx.note("store", f"already stored as post #{existing}")
        return Accept("duplicate Message-ID")
    return None


def _tag(ctx: MailContext, name: str) -> Tag:
    tag = ctx.session.scalar(select(Tag).where(Tag.name == name))
    if tag is None:
        tag = Tag(name=name)
        ctx.session.add(tag)
        ctx.session.flush()
    return tag


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


def store_blob(session: Session, data: bytes) -> str:
    """Keep attachment content once per SHA-256; a concurrent twin storing it too is harmless."""
    digest = hashlib.sha256(data).hexdigest()
    values = {"sha256": digest, "size": len(data), "data": data}
    dialect = session.get_bind().dialect.name
    if dialect == "sqlite":
        session.execute(sqlite_insert(Blob).values(values).on_conflict_do_nothing())
    elif dialect == "postgresql":
        session.execute(postgresql_insert(Blob).values(values).on_conflict_do_nothing())
    elif session.get(Blob, digest) is None:
        session.execute(insert(Blob).values(values))
    return digest


def store_post(ctx: MailContext) -> Verdict | None:
    assert ctx.topic is not None
    parsed = ctx.parsed
    now = ctx.inbound.received_at
    raw_id = store_raw(ctx)
    text = ctx.reply_text()
    subject, tag_names = extract_tags(parsed.subject, text.new)
    display_subject = strip_prefixes(subject, ctx.topic.slug) or "(inget ämne)"
    thread = ctx.thread
    if thread is None:
        thread = Thread(
            topic_id=ctx.topic.id,
            subject=display_subject,
            subject_key=thread_key(subject, ctx.topic.slug),
            conversation_id=outlook_conversation_id(parsed.header("Thread-Index")),
            created_at=now,
            last_post_at=now,
            post_count=1,
        )
        ctx.session.add(thread)
        ctx.session.flush()
        ctx.thread = thread
    else:
        thread.post_count += 1
        thread.last_post_at = max(thread.last_post_at, now)
    for name in tag_names:
        tag = _tag(ctx, name)
        if tag not in thread.tags:
            thread.tags.append(tag)
    note = refusal_note(parsed)
    post = Post(
        topic_id=ctx.topic.id,
        thread_id=thread.id,
        parent_id=ctx.parent.id if ctx.parent else None,
        member_id=ctx.member.id if ctx.member else None,
        organization_id=ctx.organization.id if ctx.organization else None,
        raw_message_id=raw_id,
        message_id=ctx.message_id,
        subject=display_subject,
        full_text=text.full,
        new_text=f"{text.new}\n\n{note}".strip() if note else text.new,
        quoted_text=text.quoted,
        signature=text.signature,
        html=parsed.html,
        created_at=now,
    )
    ctx.session.add(post)
    ctx.session.flush()
    if parsed.attachments:
        ctx.session.execute(
            insert(Attachment),
            [
                {
                    "post_id": post.id,
                    "blob_sha256": store_blob(ctx.session, part.data),
                    "filename": part.filename,
                    "content_type": part.content_type,
                    "size": len(part.data),
                }
                for part in parsed.attachments
            ],
        )
    if ctx.member is not None and ctx.session.get(ThreadFollow, (ctx.member.id, thread.id)) is None:
        # Whoever writes in a thread hears the answers, even in digest mode.
        ctx.session.add(
            ThreadFollow(member_id=ctx.member.id, thread_id=thread.id, state=FollowState.FOLLOW)
        )
    ctx.post = post
    refused = ", ".join(parsed.refused_attachments)
    ctx.note(
        "store",
        f"post #{post.id} in thread #{thread.id}"
        + (f", {len(parsed.attachments)} attachment(s)" if parsed.attachments else "")
        + (f"; refused attachments: {refused}" if refused else ""),
    )
    return None
