"""Membership commands carried out: join, leave, digest mode, follow, mute, topics, forget me."""

from __future__ import annotations

from email import message_from_bytes
from email.message import Message

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from delapost import admin
from mailgate.commands import language_of, read_commands
from mailgate.config import GatewayConfig
from mailgate.confirm import apply_confirmation_token
from mailgate.membership import Desk, answer_message, carry_out
from models import Member, Mode, Subscription, Thread, ThreadFollow, Topic
from models.db import unit_of_work
from tests.conftest import Clock
from tests.support.dump import database_text

CONFIG = GatewayConfig(
    list_domain="forum.localhost", base_url="https://forum.example.se", secret=b"s" * 32
)


def setup(factory: sessionmaker[Session], clock: Clock) -> None:
    with unit_of_work(factory) as session:
        admin.add_topic(session, "maltider", "Offentliga måltider", "", clock())
        admin.add_member(
            session,
            "anna.andersson@molndal.se",
            "Anna Andersson",
            clock(),
            topic_slug="maltider",
            mode=Mode.EACH,
        )


def run(
    factory: sessionmaker[Session],
    clock: Clock,
    address: str,
    subject: str,
    body: str = "",
    thread: int | None = None,
) -> tuple[Message, Desk]:
    commands = read_commands(subject, body)
    with unit_of_work(factory) as session:
        topic = session.scalars(select(Topic)).one()
        desk = Desk(
            session=session,
            config=CONFIG,
            topic=topic,
            address=address,
            name="",
            language=language_of(commands),
            now=clock(),
            thread=session.get(Thread, thread) if thread else None,
        )
        carry_out(desk, commands)
        answer = message_from_bytes(answer_message(desk, address))
    return answer, desk


def body_of(message: Message) -> str:
    payload = message.get_payload(decode=True)
    assert isinstance(payload, bytes)
    return payload.decode(message.get_content_charset() or "utf-8")


def test_join_is_confirmed_by_token_and_gives_the_weekly_default(
    factory: sessionmaker[Session], clock: Clock
) -> None:
    setup(factory, clock)
    answer, desk = run(factory, clock, "erik.nilsson@goteborg.se", "gå med")
    assert desk.confirm_token
    assert f"https://forum.example.se/confirm/{desk.confirm_token}" in body_of(answer)
    assert answer["Reply-To"] == f"maltider-confirm+{desk.confirm_token}@forum.localhost"
    assert answer["Auto-Submitted"] == "auto-replied"
    with factory() as session:
        assert (
            session.scalar(select(Member).where(Member.email == "erik.nilsson@goteborg.se")) is None
        )
    clock.advance(hours=1)
    with unit_of_work(factory) as session:
        done = apply_confirmation_token(session, desk.confirm_token, lambda s, r: None, clock())  # type: ignore[arg-type,return-value]
        assert "joined maltider" in done
    with unit_of_work(factory) as session:
        again = apply_confirmation_token(session, desk.confirm_token, lambda s, r: None, clock())  # type: ignore[arg-type,return-value]
        assert again == "confirmation already used"
    with factory() as session:
        member = session.scalar(select(Member).where(Member.email == "erik.nilsson@goteborg.se"))
        assert member is not None
        sub = session.scalar(select(Subscription).where(Subscription.member_id == member.id))
        assert sub is not None and sub.mode is Mode.WEEKLY


def test_an_expired_join_token_does_nothing(factory: sessionmaker[Session], clock: Clock) -> None:
    setup(factory, clock)
    _, desk = run(factory, clock, "erik.nilsson@goteborg.se", "join")
    assert desk.confirm_token
    clock.advance(days=8)
    with unit_of_work(factory) as session:
        assert (
            apply_confirmation_token(session, desk.confirm_token, lambda s, r: None, clock())  # type: ignore[arg-type,return-value]
            == "confirmation expired"
        )


def test_outsiders_are_told_who_may_join_and_whom_to_ask(
    factory: sessionmaker[Session], clock: Clock
) -> None:
    setup(factory, clock)
    answer, desk = run(factory, clock, "saljare@leverantor.se", "gå med")
    text = body_of(answer)
    assert desk.confirm_token is None
    assert "kommuner, regioner och myndigheter" in text and "maltider-owner@forum.localhost" in text
    answer, _ = run(factory, clock, "elev@elev.molndal.se", "join")
    assert "Only staff of Swedish municipalities" in body_of(answer)


def test_leave_and_digest_modes(factory: sessionmaker[Session], clock: Clock) -> None:
    setup(factory, clock)
    answer, _ = run(factory, clock, "anna.andersson@molndal.se", "", "sammanfattning dag")
    assert "en sammanfattning per dag" in body_of(answer)
    with factory() as session:
        assert session.scalars(select(Subscription.mode)).one() is Mode.DAILY
    answer, _ = run(factory, clock, "anna.andersson@molndal.se", "leave")
    assert "You have left Offentliga måltider" in body_of(answer)
    with factory() as session:
        assert session.scalars(select(Subscription.ended_at)).one() is not None
    answer, _ = run(factory, clock, "anna.andersson@molndal.se", "digest weekly")
    assert "You are not a member" in body_of(answer)


def test_follow_and_mute_a_thread_named_by_the_digest_link(
    factory: sessionmaker[Session], clock: Clock
) -> None:
    setup(factory, clock)
    with unit_of_work(factory) as session:
        topic = session.scalars(select(Topic)).one()
        thread = Thread(
            topic_id=topic.id,
            subject="Matsvinn",
            subject_key="matsvinn",
            created_at=clock(),
            last_post_at=clock(),
            post_count=1,
        )
        session.add(thread)
        session.flush()
        thread_id = thread.id
    answer, _ = run(factory, clock, "anna.andersson@molndal.se", f"följ {thread_id}")
    assert 'följer nu tråden "Matsvinn"' in body_of(answer)
    answer, _ = run(factory, clock, "anna.andersson@molndal.se", "", "mute", thread=thread_id)
    assert 'no longer get mail from the thread "Matsvinn"' in body_of(answer)
    with factory() as session:
        assert session.scalars(select(ThreadFollow.state)).one().value == "mute"
    answer, _ = run(factory, clock, "anna.andersson@molndal.se", "följ")
    assert "ingen tråd" in body_of(answer)


def test_topics_and_help(factory: sessionmaker[Session], clock: Clock) -> None:
    setup(factory, clock)
    answer, _ = run(factory, clock, "anna.andersson@molndal.se", "ämnen")
    assert "maltider@forum.localhost" in body_of(answer)
    answer, _ = run(factory, clock, "anna.andersson@molndal.se", "", "Kan ni skicka färre brev?")
    text = body_of(answer)
    assert 'Vi förstod inte "kan ni skicka färre brev?"' in text
    assert "sammanfattning vecka" in text


def test_forget_me_removes_the_address_everywhere(
    factory: sessionmaker[Session], clock: Clock
) -> None:
    setup(factory, clock)
    _, desk = run(factory, clock, "anna.andersson@molndal.se", "glöm mig")
    assert desk.confirm_token
    assert "anna.andersson@molndal.se" in database_text(factory)
    with unit_of_work(factory) as session:
        done = apply_confirmation_token(session, desk.confirm_token, lambda s, r: None, clock())  # type: ignore[arg-type,return-value]
        assert "forgotten" in done and "@" not in done
    dump = database_text(factory)
    assert "anna.andersson@molndal.se" not in dump
    assert "Anna Andersson" not in dump
    with factory() as session:
        member = session.scalars(select(Member)).one()
        assert member.display_name == "borttagen medlem"
        assert member.organization is not None and member.organization.name == "Mölndals stad"


def test_a_plain_reply_to_a_digest_is_explained_not_posted(
    factory: sessionmaker[Session], clock: Clock
) -> None:
    setup(factory, clock)
    commands = read_commands(
        "SV: Veckans sammanfattning", "Tack, intressant läsning!\n\n> Nya trådar"
    )
    with unit_of_work(factory) as session:
        desk = Desk(
            session=session,
            config=CONFIG,
            topic=session.scalars(select(Topic)).one(),
            address="anna.andersson@molndal.se",
            name="",
            language=language_of(commands),
            now=clock(),
            replying_to_digest=True,
        )
        carry_out(desk, commands)
        text = body_of(message_from_bytes(answer_message(desk, desk.address)))
    assert "Ett svar på själva sammanfattningen\npubliceras inte" in text
    assert "Svara" in text and "Vi förstod inte" not in text
