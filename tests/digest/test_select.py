"""What a week's digest shows: new threads, new answers, questions waiting, tags; no quotes."""

from __future__ import annotations

from datetime import UTC, timedelta

from sqlalchemy.orm import Session, sessionmaker

from digest.excerpt import first_lines
from digest.period import Period, Span
from digest.select import select_content
from models.db import unit_of_work
from tests.digest.content import MONDAY, STOCKHOLM, answer, kost_forum, start_thread, topic_of

WEEK = Span(Period.WEEKLY.earliest_start(MONDAY.astimezone(UTC), STOCKHOLM), MONDAY.astimezone(UTC))
QUOTE = "> Vi kör en egen upphandling i Mölndal och har gjort det i tio år."


def a_busy_week(session: Session) -> dict[str, int]:
    """A week in `kost`, and the weeks around it; returns the ids of the posts that matter."""
    people = kost_forum(session, MONDAY - timedelta(days=60))
    topic = topic_of(session)
    anna, erik, asa, karin = (people[k] for k in ("anna", "erik", "asa", "karin"))
    day = MONDAY - timedelta(days=7)  # the Monday the week starts

    tender = start_thread(
        session,
        topic,
        anna,
        "Upphandling av livsmedel 2027",
        "Hej alla,\n\nHur gör ni med upphandlingen av livsmedel inför 2027?\n",
        day - timedelta(days=20),
        tags=("upphandling",),
    )
    answer(session, tender, erik, "Vi väntar på SKR.", day - timedelta(days=19))
    answer(session, tender, erik, "Nu har vi börjat med en egen.", day + timedelta(days=1))
    latest = answer(
        session,
        tender,
        asa,
        "Hej Anna!\n\nVi gick med i SKR:s avtal. Det sparade oss mycket arbete.\n",
        day + timedelta(days=3),
        quoted=QUOTE,
    )
    milk = start_thread(
        session,
        topic,
        karin,
        "Laktosfri mjölk i förskolan",
        "Vem levererar laktosfri mjölk till förskolorna?\n",
        day + timedelta(days=2),
        tags=("mjolk", "forskola"),
    )
    milk_answer = answer(
        session, milk, anna, "Arla, via grossisten.", day + timedelta(days=2, hours=3)
    )
    lasagne = start_thread(
        session,
        topic,
        erik,
        "Vegetarisk lasagne som barnen äter",
        "Har någon ett recept som fungerar i storkök?\n",
        day + timedelta(days=1, hours=2),
        tags=("recept",),
    )
    sunday = start_thread(
        session,
        topic,
        asa,
        "Julbord för äldreboenden",
        "Vad serverar ni?\n",
        day + timedelta(days=6),
    )
    last_week = start_thread(
        session,
        topic,
        karin,
        "Allergikort i skolköket",
        "Finns det en mall för allergikort?\n",
        day - timedelta(days=1, hours=-3),  # Sunday before the week, still unanswered
    )
    answered_before = start_thread(
        session, topic, karin, "Kaffe i personalrummet", "Vem köper?\n", day - timedelta(days=2)
    )
    answer(session, answered_before, erik, "Vi.", day - timedelta(hours=20))
    late = start_thread(
        session, topic, erik, "För sent", "Kom efter utskicket.\n", MONDAY + timedelta(hours=1)
    )
    return {
        "late": late.thread_id,
        "tender": tender.thread_id,
        "tender_latest": latest.id,
        "milk": milk.thread_id,
        "milk_answer": milk_answer.id,
        "lasagne": lasagne.thread_id,
        "sunday": sunday.thread_id,
        "last_week": last_week.thread_id,
    }


def test_a_week_shows_new_threads_new_answers_and_questions_waiting_for_two_days(
    factory: sessionmaker[Session],
) -> None:
    with unit_of_work(factory) as session:
        ids = a_busy_week(session)
        content = select_content(session, topic_of(session).id, WEEK)

    assert [e.thread_id for e in content.questions] == [ids["last_week"], ids["lasagne"]]
    assert [e.thread_id for e in content.new_threads] == [ids["sunday"], ids["milk"]]
    assert [e.thread_id for e in content.active_threads] == [ids["tender"]]
    assert (content.new_thread_count, content.reply_count) == (3, 3)

    milk = content.new_threads[1]
    assert str(milk.started_by) == "Karin Lind"  # skr.se is no organisation of the registry
    assert milk.opening == "Vem levererar laktosfri mjölk till förskolorna?"
    assert [str(a) for a in milk.repliers] == ["Anna Andersson (Mölndals stad)"]
    assert milk.latest_post_id == ids["milk_answer"]

    tender = content.active_threads[0]
    assert tender.replies == 2
    assert [a.name for a in tender.repliers] == ["Erik Nilsson", "Åsa Öberg"]
    assert tender.latest_by is not None and tender.latest_by.name == "Åsa Öberg"
    assert tender.latest == "Vi gick med i SKR:s avtal. Det sparade oss mycket arbete."
    assert tender.latest_post_id == ids["tender_latest"]
    assert tender.opening == ""  # an old thread: only what is new is shown

    assert dict(content.tags) == {"forskola": 1, "mjolk": 1, "recept": 1, "upphandling": 1}


def test_a_question_waits_two_days_before_it_is_asked_again_and_is_asked_once(
    factory: sessionmaker[Session],
) -> None:
    with unit_of_work(factory) as session:
        ids = a_busy_week(session)
        topic_id = topic_of(session).id
        next_week = select_content(session, topic_id, WEEK.shifted(timedelta(days=7)))

    # Sunday's thread was new this week; next Monday it has waited long enough to be asked,
    # and so has the one that came after this week's digest. The rest are asked no more.
    assert [e.thread_id for e in next_week.questions] == [ids["sunday"], ids["late"]]
    assert next_week.new_threads == ()


def test_a_quiet_week_is_empty(factory: sessionmaker[Session]) -> None:
    with unit_of_work(factory) as session:
        a_busy_week(session)
        quiet = select_content(session, topic_of(session).id, WEEK.shifted(timedelta(days=-28)))

    assert quiet.is_empty


def test_first_lines_never_carry_quotes_or_the_whole_post() -> None:
    long_post = "Hej!\n\n" + "\n".join(f"Stycke {n} om skolmaten i Umeå." for n in range(1, 9))
    assert first_lines(long_post) == (
        "Stycke 1 om skolmaten i Umeå. Stycke 2 om skolmaten i Umeå. "
        "Stycke 3 om skolmaten i Umeå. …"
    )
    assert "Stycke 4" not in first_lines(long_post)
    inline = "Ja, det stämmer.\n> Har ni laktosfri mjölk?\nOch mer efter citatet."
    assert first_lines(inline) == "Ja, det stämmer."
    outlook = "Vi gör så.\n\nFrån: Anna Andersson\nSkickat: den 3 mars 2026\nÄmne: Mjölk\n"
    assert first_lines(outlook) == "Vi gör så."
    words = " ".join(["ord"] * 200)
    assert len(first_lines(words)) <= 242 and first_lines(words).endswith(" …")
