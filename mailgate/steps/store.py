"""Storing: the raw bytes first, then the post, its thread, tags and attachments."""

from __future__ import annotations

import hashlib

from sqlalchemy import select

from mailgate.context import MailContext
from mailgate.reply_text import split_reply
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


def store_raw(ctx: MailContext) -> RawMessage:
    raw = RawMessage(
        message_id=ctx.message_id,
        mail_from=ctx.inbound.mail_from,
        rcpt_to=", ".join(ctx.inbound.rcpt_tos),
        received_at=ctx.inbound.received_at,
        data=ctx.inbound.data,
    )
    ctx.session.add(raw)
    ctx.session.flush()
    return raw


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


def store_post(ctx: MailContext, raw: RawMessage | None = None) -> Verdict | None:
    assert ctx.topic is not None
    parsed = ctx.parsed
    now = ctx.inbound.received_at
    raw = raw or store_raw(ctx)
    text = split_reply(parsed.text)
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
            post_count=0,
        )
        ctx.session.add(thread)
        ctx.session.flush()
        ctx.thread = thread
    thread.post_count += 1
    thread.last_post_at = max(thread.last_post_at, now)
    for name in tag_names:
        tag = _tag(ctx, name)
        if tag not in thread.tags:
            thread.tags.append(tag)
    post = Post(
        topic_id=ctx.topic.id,
        thread_id=thread.id,
        parent_id=ctx.parent.id if ctx.parent else None,
        member_id=ctx.member.id if ctx.member else None,
        organization_id=ctx.organization.id if ctx.organization else None,
        raw_message_id=raw.id,
        message_id=ctx.message_id,
        subject=display_subject,
        full_text=text.full,
        new_text=text.new,
        quoted_text=text.quoted,
        signature=text.signature,
        html=parsed.html,
        created_at=now,
    )
    ctx.session.add(post)
    ctx.session.flush()
    for part in parsed.attachments:
        digest = hashlib.sha256(part.data).hexdigest()
        if ctx.session.get(Blob, digest) is None:
            ctx.session.add(Blob(sha256=digest, size=len(part.data), data=part.data))
        ctx.session.add(
            Attachment(
                post_id=post.id,
                blob_sha256=digest,
                filename=part.filename,
                content_type=part.content_type,
                size=len(part.data),
            )
        )
    if ctx.member is not None and ctx.session.get(ThreadFollow, (ctx.member.id, thread.id)) is None:
        # Whoever writes in a thread hears the answers, even in digest mode.
        ctx.session.add(
            ThreadFollow(member_id=ctx.member.id, thread_id=thread.id, state=FollowState.FOLLOW)
        )
    ctx.post = post
    refused = (
        f"; refused attachments: {', '.join(parsed.refused_attachments)}"
        if (parsed.refused_attachments)
        else ""
    )
    ctx.note("store", f"post #{post.id} in thread #{thread.id}{refused}")
    return None
