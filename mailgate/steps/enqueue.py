"""Enqueueing: one outbox row per member who gets this post by mail, in the same transaction."""

from __future__ import annotations

from sqlalchemy import bindparam, insert, select

from mailgate.context import MailContext
from mailgate.verdict import Accept, Verdict
from models import FollowState, Member, Mode, Outbox, OutboxKind, Subscription, ThreadFollow

# Built once: members in mode each, plus digest readers who follow the thread, minus the muted.
_RECIPIENTS = (
    select(Subscription.member_id, Subscription.mode, ThreadFollow.state)
    .join(Member, Member.id == Subscription.member_id)
    .outerjoin(
        ThreadFollow,
        (ThreadFollow.member_id == Subscription.member_id)
        & (ThreadFollow.thread_id == bindparam("thread_id")),
    )
    .where(
        Subscription.topic_id == bindparam("topic_id"),
        Subscription.ended_at.is_(None),
        Member.email.is_not(None),
        Member.delivery_disabled_at.is_(None),
    )
)
_NEW_COPY = insert(Outbox)


def recipients_of(ctx: MailContext) -> list[int]:
    """Members in mode `each`, plus digest readers who follow the thread, minus the muted."""
    assert ctx.topic is not None and ctx.thread_id is not None
    ctx.session.flush()  # what a caller publishing a held post changed through the ORM
    rows = (
        ctx.connection()
        .execute(_RECIPIENTS, {"thread_id": ctx.thread_id, "topic_id": ctx.topic.id})
        .all()
    )
    author = ctx.member_id
    chosen = []
    for member_id, mode, state in rows:
        if member_id == author or state is FollowState.MUTE or mode is Mode.NONE:
            continue
        if mode is Mode.EACH or state is FollowState.FOLLOW:
            chosen.append(member_id)
    return sorted(chosen)


def enqueue_copies(ctx: MailContext) -> Verdict | None:
    assert ctx.post_id is not None
    member_ids = recipients_of(ctx)
    now = ctx.config.clock()
    if member_ids:
        ctx.connection().execute(
            _NEW_COPY,
            [
                {
                    "kind": OutboxKind.COPY,
                    "post_id": ctx.post_id,
                    "member_id": member_id,
                    "created_at": now,
                    "next_attempt_at": now,
                }
                for member_id in member_ids
            ],
        )
    ctx.note("enqueue", f"{len(member_ids)} copies queued")
    return Accept(f"post #{ctx.post_id}")
