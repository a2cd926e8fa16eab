"""Carry out membership commands (join, leave, digest mode, follow, mute, topics, forget me)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailgate import addresses
from mailgate.addresses import Kind
from mailgate.answers import MODE_WORDS, text
from mailgate.commands import Command, Language, Verb
from mailgate.config import GatewayConfig
from mailgate.notices import compose as compose_notice
from models import (
    Confirmation,
    ConfirmationKind,
    FollowState,
    Member,
    Subscription,
    Thread,
    ThreadFollow,
    Topic,
)
from models.registry import domain_of, organization_for
from models.tokens import new_token, token_hash

CONFIRMATION_LIFETIME = timedelta(days=7)
_THREAD_ID = re.compile(r"(\d+)\s*$")


@dataclass
class Desk:
    """One command mail being answered: who wrote, about which topic, and the answer so far."""

    session: Session
    config: GatewayConfig
    topic: Topic
    address: str
    name: str
    language: Language
    now: datetime
    thread: Thread | None = None  # the thread the mail answers, for follow and mute
    replying_to_digest: bool = False  # a plain reply to a digest gets its own explanation
    paragraphs: list[str] = field(default_factory=list)
    confirm_token: str | None = None  # set when the writer must confirm by replying

    def say(self, key: str, **values: str) -> None:
        self.paragraphs.append(text(key, self.language, **self.words(), **values))

    def words(self) -> dict[str, str]:
        d = self.config.list_domain
        return {
            "topic": self.topic.name,
            "request": addresses.make(Kind.REQUEST, self.topic.slug, d),
            "owner": addresses.make(Kind.OWNER, self.topic.slug, d),
        }

    def member(self) -> Member | None:
        return self.session.scalar(select(Member).where(Member.email == self.address))

    def subscription(self) -> Subscription | None:
        member = self.member()
        if member is None:
            return None
        return self.session.scalar(
            select(Subscription).where(
                Subscription.member_id == member.id,
                Subscription.topic_id == self.topic.id,
                Subscription.ended_at.is_(None),
            )
        )

    def ask_to_confirm(self, kind: ConfirmationKind) -> str:
        token = new_token()
        self.session.add(
            Confirmation(
                token_hash=token_hash(token),
                kind=kind,
                email=self.address,
                name=self.name,
                topic_id=self.topic.id,
                created_at=self.now,
                expires_at=self.now + CONFIRMATION_LIFETIME,
            )
        )
        self.confirm_token = token
        return f"{self.config.base_url.rstrip('/')}/confirm/{token}"


def is_staff_address(config: GatewayConfig, session: Session, address: str) -> bool:
    domain = domain_of(address)
    if any(domain.startswith(prefix) for prefix in config.non_staff_prefixes):
        return False
    return organization_for(session, address) is not None


def join(desk: Desk) -> None:
    member = desk.member()
    paused = member is not None and member.delivery_disabled_at is not None
    if desk.subscription() is not None and not paused:
        desk.say("joined_already")
        return
    if not is_staff_address(desk.config, desk.session, desk.address):
        desk.say("not_public_sector")
        return
    desk.say("join_confirm", url=desk.ask_to_confirm(ConfirmationKind.JOIN))


def leave(desk: Desk) -> None:
    subscription = desk.subscription()
    if subscription is None:
        desk.say("not_member")
        return
    subscription.ended_at = desk.now
    desk.say("left")


def set_mode(desk: Desk, command: Command) -> None:
    subscription = desk.subscription()
    if subscription is None or command.mode is None:
        desk.say("not_member")
        return
    subscription.mode = command.mode
    swedish, english = MODE_WORDS[command.mode.value]
    desk.say("mode", mode_sv=swedish, mode_en=english)


def follow_or_mute(desk: Desk, command: Command) -> None:
    member = desk.member()
    if member is None or desk.subscription() is None:
        desk.say("not_member")
        return
    thread = _named_thread(desk, command) or desk.thread
    if thread is None or thread.topic_id != desk.topic.id:
        desk.say("no_thread")
        return
    set_follow(desk.session, member, thread, command.verb)
    desk.say("followed" if command.verb is Verb.FOLLOW else "muted", subject=thread.subject)


def set_follow(session: Session, member: Member, thread: Thread, verb: Verb) -> None:
    """Follow (every post by mail) or mute (never) one thread, whatever the member's mode."""
    state = FollowState.FOLLOW if verb is Verb.FOLLOW else FollowState.MUTE
    row = session.get(ThreadFollow, (member.id, thread.id))
    if row is None:
        session.add(ThreadFollow(member_id=member.id, thread_id=thread.id, state=state))
    else:
        row.state = state


def _named_thread(desk: Desk, command: Command) -> Thread | None:
    """`följ 123` (as the digest's Följ link writes it) names thread 123."""
    match = _THREAD_ID.search(command.words)
    if match is None or command.words.split()[-1] == command.words:
        return None
    return desk.session.get(Thread, int(match.group(1)))


def list_topics(desk: Desk) -> None:
    d = desk.config.list_domain
    lines = "\n".join(
        f"  {addresses.make(Kind.POST, t.slug, d):<40} {t.name}"
        for t in desk.session.scalars(select(Topic).order_by(Topic.name))
    )
    desk.say("topics", lines=lines)


def ask_to_forget(desk: Desk) -> None:
    desk.ask_to_confirm(ConfirmationKind.FORGET)
    desk.say("forget_confirm")


def carry_out(desk: Desk, commands: list[Command]) -> None:
    """Do each command in order; the desk collects one answer for all of them."""
    understood = [c for c in commands if c.verb is not Verb.UNKNOWN]
    if desk.replying_to_digest and not understood:
        desk.say("digest_reply")
        return
    if not commands:
        desk.say("help")
        return
    for command in commands:
        if command.verb is Verb.JOIN:
            join(desk)
        elif command.verb is Verb.LEAVE:
            leave(desk)
        elif command.verb is Verb.DIGEST:
            set_mode(desk, command)
        elif command.verb in {Verb.FOLLOW, Verb.MUTE}:
            follow_or_mute(desk, command)
        elif command.verb is Verb.TOPICS:
            list_topics(desk)
        elif command.verb is Verb.FORGET:
            ask_to_forget(desk)
        elif command.verb is Verb.UNKNOWN:
            desk.say("unknown", words=command.words)
            desk.say("help")
        else:
            desk.say("help")


def answer_message(desk: Desk, to: str) -> bytes:
    """The one answer to a command mail, from the request address, in the writer's language."""
    d = desk.config.list_domain
    request = addresses.make(Kind.REQUEST, desk.topic.slug, d)
    reply_to = (
        addresses.make(Kind.CONFIRM, desk.topic.slug, d, desk.confirm_token)
        if desk.confirm_token
        else request
    )
    archive = f"{desk.config.base_url.rstrip('/')}/{desk.topic.slug}/"
    body = (
        text("greeting", desk.language, request=request)
        + "\n"
        + "\n\n".join(desk.paragraphs)
        + "\n"
        + text("sign_off", desk.language, topic=desk.topic.name, archive=archive)
    )
    return compose_notice(
        to=to,
        from_name=desk.topic.name,
        from_address=request,
        subject=text("subject", desk.language, topic=desk.topic.name),
        body=body,
        list_domain=d,
        now=desk.now,
        reply_to=reply_to,
    )
