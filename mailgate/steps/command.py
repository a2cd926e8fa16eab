"""Command mail: what t-request@D, t-join@D, t-leave@D and a lone "följ" reply ask for."""

from __future__ import annotations

from mailgate import replies
from mailgate.addresses import Kind
from mailgate.commands import Command, Language, Verb, language_of, lone_thread_command
from mailgate.commands import read_commands as read_command_lines
from mailgate.context import MailContext
from mailgate.membership import Desk, answer_message, carry_out
from mailgate.notices import enqueue_notice
from mailgate.steps.authenticate import authenticate_sender
from mailgate.verdict import Accept, Reject, Verdict
from models import Thread

# Commands that change something for the From address at once; the rest only answer it,
# or ask it to confirm by a second mail, which proves the mailbox by itself.
_ACTING = frozenset({Verb.LEAVE, Verb.DIGEST, Verb.FOLLOW, Verb.MUTE})


def read_commands(ctx: MailContext) -> list[Command]:
    """The commands this mail gives; the join and leave addresses give theirs by themselves."""
    written = read_command_lines(ctx.parsed.subject, ctx.reply_text().new)
    language = language_of(written) if written else Language.SWEDISH
    if ctx.recipient.kind is Kind.JOIN:
        return [Command(Verb.JOIN, language)]
    if ctx.recipient.kind is Kind.LEAVE:
        return [Command(Verb.LEAVE, language)]
    return written


def authenticate_commands(ctx: MailContext) -> Verdict | None:
    """Leaving or changing delivery needs a proven From; help, joining and forgetting do not."""
    if any(command.verb in _ACTING for command in read_commands(ctx)):
        return authenticate_sender(ctx)
    return None


def carry_out_commands(ctx: MailContext) -> Verdict | None:
    return _carry_out(ctx, read_commands(ctx))


def take_thread_command(ctx: MailContext) -> Verdict | None:
    """A reply that says only "följ" or "tysta" follows or mutes its thread; it is not a post."""
    new_text = ctx.reply_text().new
    if lone_thread_command(new_text) is None:
        return None
    return _carry_out(ctx, read_command_lines("", new_text))


def _carry_out(ctx: MailContext, commands: list[Command]) -> Verdict:
    assert ctx.topic is not None
    address = ctx.parsed.from_address
    if not address:
        return Reject(replies.NO_FROM, "no From address")
    now = ctx.config.clock()
    desk = Desk(
        session=ctx.session,
        config=ctx.config,
        topic=ctx.topic,
        address=address,
        name=ctx.parsed.from_name,
        language=language_of(commands),
        now=now,
        thread=None if ctx.thread_id is None else ctx.session.get(Thread, ctx.thread_id),
        replying_to_digest=any(
            mid.startswith("digest.") and mid.endswith("@" + ctx.config.list_domain)
            for mid in ctx.parsed.in_reply_to + ctx.parsed.references
        ),
    )
    carry_out(desk, commands)
    done = ", ".join(c.verb.value for c in commands) or "help"
    ctx.note("command", done)
    # One answer a day per address and set of commands: enough for a person, and a loop
    # with a broken auto-responder ends at once.
    kind = "answer " + "+".join(sorted({c.verb.value for c in commands}) or ["help"])
    # RFC 3834: an automatic answer goes to the envelope sender (the Return-Path).
    to = ctx.inbound.mail_from.strip().strip("<>") or address
    sent = enqueue_notice(
        ctx.session, to=to, kind=kind[:40], message=answer_message(desk, to), now=now
    )
    ctx.note("command", "answer queued" if sent else "answered already today")
    return Accept(done)
