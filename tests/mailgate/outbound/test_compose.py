"""What a member's copy of a post says: who wrote it, how it threads, how to answer or leave."""

from __future__ import annotations

import dataclasses
import re
from datetime import datetime, timedelta
from email import message_from_bytes
from email.header import decode_header, make_header
from email.message import EmailMessage
from email.policy import default

from sqlalchemy.orm import Session, sessionmaker

from mailgate.outbound.compose import AttachmentFile, CopyTemplate, ListContext
from mailgate.subjects import outlook_conversation_id
from models import Member, Post, Topic
from models.db import unit_of_work
from models.tokens import make_reply_key, read_signed_value
from tests.conftest import Clock
from tests.mailgate.outbound.builders import DOMAIN, LC, add_member, add_post, add_reply, add_topic

ANNA = "anna.andersson@molndal.se"
SIGNED_TEXT = (
    "Hej alla,\n\nVem levererar laktosfri mjölk till förskolorna?\n\n"
    "Med vänlig hälsning\nAnna Andersson\nKostchef, Mölndals stad\n"
    "Anna.Andersson@Molndal.se | 031-315 00 00\n"
)


@dataclasses.dataclass
class Forum:
    topic: Topic
    anna: Member
    erik: Member
    asa: Member
    question: Post


def forum(session: Session, now: datetime, text: str = SIGNED_TEXT) -> Forum:
    topic = add_topic(session, now, slug="maltider", name="Offentliga måltider")
    anna = add_member(session, topic, ANNA, "Anna Andersson", now)
    erik = add_member(session, topic, "erik.nilsson@goteborg.se", "Erik Nilsson", now)
    asa = add_member(session, topic, "asa.oberg@vaxjo.se", "Åsa Öberg", now)
    return Forum(topic, anna, erik, asa, add_post(session, topic, anna, now, text=text))


def copy_of(
    post: Post,
    topic: Topic,
    member: Member,
    lc: ListContext = LC,
    attachments: tuple[AttachmentFile, ...] = (),
) -> bytes:
    return CopyTemplate.of(post, topic, lc, attachments).for_member(member.id)


def parse(data: bytes) -> EmailMessage:
    message = message_from_bytes(data, policy=default)
    assert isinstance(message, EmailMessage)
    return message


def shown(data: bytes, name: str) -> str:
    """A header as a mail program shows it (RFC 2047 decoded, adjacent encoded-words joined)."""
    raw = message_from_bytes(data)[name]
    return str(make_header(decode_header(raw)))


def text_of(data: bytes) -> str:
    body = parse(data).get_body(("plain",))
    assert body is not None
    content: str = body.get_content()
    return content.replace("\r\n", "\n")


def test_from_names_author_and_organisation_via_the_topic_and_never_their_address(
    factory: sessionmaker[Session], clock: Clock
) -> None:
    with unit_of_work(factory) as session:
        f = forum(session, clock())
        data = copy_of(f.question, f.topic, f.erik)

    assert shown(data, "From") == (
        f"Anna Andersson (Mölndals stad) via Offentliga måltider <maltider@{DOMAIN}>"
    )
    assert parse(data)["From"].addresses[0].addr_spec == f"maltider@{DOMAIN}"
    assert ANNA not in data.decode("ascii").lower()
    assert ANNA not in text_of(data).lower()
    assert "Anna.Andersson@… | 031-315 00 00" in text_of(data)  # the signature keeps its shape


def test_reply_to_is_the_posts_own_reply_address_and_the_subject_carries_the_tag(
    factory: sessionmaker[Session], clock: Clock
) -> None:
    with unit_of_work(factory) as session:
        f = forum(session, clock())
        data = copy_of(f.question, f.topic, f.erik)

    copy = parse(data)
    assert copy["Reply-To"] == f"maltider+{make_reply_key(LC.secret, f.question.id)}@{DOMAIN}"
    assert copy["To"] == f"maltider@{DOMAIN}"
    assert copy["Subject"] == "[maltider] Laktosfri mjölk i förskolan"
    assert copy["Message-ID"] == f"<{f.question.message_id}>"
    assert copy["Date"] == "Mon, 23 Nov 2026 09:30:00 +0000"
    assert "In-Reply-To" not in copy and "References" not in copy


def test_replies_thread_under_their_parent_in_every_mail_program_and_in_outlook(
    factory: sessionmaker[Session], clock: Clock
) -> None:
    with unit_of_work(factory) as session:
        f = forum(session, clock())
        clock.advance(hours=2)
        answer = add_reply(session, f.question, f.erik, clock(), "Vi köper av Arla.\n")
        clock.advance(days=1)
        follow_up = add_reply(session, answer, f.asa, clock(), "Samma hos oss.\n")
        clock.advance(minutes=5)
        later = add_reply(session, f.question, f.erik, clock(), "Tillägg: även havredryck.\n")
        copies = [copy_of(p, f.topic, f.anna) for p in (f.question, answer, follow_up, later)]
        ids = [p.message_id for p in (f.question, answer, follow_up, later)]

    first, second, third, fourth = (parse(c) for c in copies)
    assert second["In-Reply-To"] == f"<{ids[0]}>"
    assert second["References"] == f"<{ids[0]}>"
    assert third["Message-ID"] == f"<{ids[2]}>"
    assert third["In-Reply-To"] == f"<{ids[1]}>"
    assert third["References"] == f"<{ids[0]}> <{ids[1]}>"
    assert fourth["In-Reply-To"] == f"<{ids[0]}>"  # answers the question, not the latest post
    assert fourth["References"] == f"<{ids[0]}>"
    # Outlook: a reply prefix opens the subject; one conversation topic and GUID for all.
    assert third["Subject"] == "SV: [maltider] Laktosfri mjölk i förskolan"
    assert {c["Thread-Topic"] for c in (first, second, third, fourth)} == {
        "[maltider] Laktosfri mjölk i förskolan"
    }
    guids = {outlook_conversation_id(c["Thread-Index"]) for c in (first, second, third, fourth)}
    assert len(guids) == 1 and None not in guids
    lengths = [len(c["Thread-Index"]) for c in (first, second, third)]
    assert lengths == sorted(set(lengths))  # one level deeper with each answer


def test_a_thread_begun_in_outlook_keeps_outlooks_conversation(
    factory: sessionmaker[Session], clock: Clock
) -> None:
    guid = "5f1a2b3c4d5e6f708192a3b4c5d6e7f8"
    with unit_of_work(factory) as session:
        f = forum(session, clock())
        f.question.thread.conversation_id = guid
        data = copy_of(f.question, f.topic, f.erik)

    assert outlook_conversation_id(parse(data)["Thread-Index"]) == guid


def test_list_headers_let_mail_programs_post_get_help_join_read_and_leave(
    factory: sessionmaker[Session], clock: Clock
) -> None:
    with unit_of_work(factory) as session:
        f = forum(session, clock())
        data = copy_of(f.question, f.topic, f.erik)
        erik_id, topic_id = f.erik.id, f.topic.id

    copy = parse(data)
    assert shown(data, "List-Id") == f"Offentliga måltider <maltider.{DOMAIN}>"
    assert copy["List-Post"] == f"<mailto:maltider@{DOMAIN}>"
    assert copy["List-Help"] == f"<mailto:maltider-request@{DOMAIN}?subject=hj%C3%A4lp>"
    assert copy["List-Subscribe"] == f"<mailto:maltider-join@{DOMAIN}>"
    assert copy["List-Archive"] == "<https://forum.example.se/m/fraga-1@molndal.se>"
    link, mailto = copy["List-Unsubscribe"].split(", ")
    assert mailto == f"<mailto:maltider-leave@{DOMAIN}>"
    token = link.removeprefix("<https://forum.example.se/u/").removesuffix(">")
    assert read_signed_value(LC.secret, "unsubscribe", token) == f"{erik_id}:{topic_id}"
    assert copy["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert copy["Precedence"] == "list"
    assert copy["X-Auto-Response-Suppress"] == "OOF, AutoReply"
    head = data.split(b"\r\n\r\n", 1)[0]
    assert head.isascii() and all(len(line) <= 78 for line in head.split(b"\r\n"))


def test_footer_links_the_thread_and_says_how_to_get_a_digest_or_leave(
    factory: sessionmaker[Session], clock: Clock
) -> None:
    with unit_of_work(factory) as session:
        f = forum(session, clock())
        erik, asa = copy_of(f.question, f.topic, f.erik), copy_of(f.question, f.topic, f.asa)
        thread_id = f.question.thread_id

    text = text_of(erik)
    footer = text[text.index("\n-- \n") :]
    assert f"https://forum.example.se/maltider/t/{thread_id}" in footer
    assert f'"digest weekly" till maltider-request@{DOMAIN}' in footer
    leave = footer.rstrip().splitlines()[-1]
    assert f"<{leave}>" == parse(erik)["List-Unsubscribe"].split(", ")[0]
    assert leave not in text_of(asa)  # everyone's link is their own


def test_long_lines_and_odd_text_arrive_unchanged_in_short_encoded_lines(
    factory: sessionmaker[Session], clock: Clock
) -> None:
    text = (
        "Ett långt stycke utan radbrytning: " + "måltid " * 300 + "\n"
        ".En rad som börjar med punkt\nFrom en rad som mbox kunde röra\n"
        "Slutar med mellanslag   \n"
    )
    with unit_of_work(factory) as session:
        f = forum(session, clock(), text=text)
        data = copy_of(f.question, f.topic, f.erik)

    assert text_of(data).startswith(text.rstrip())
    assert data.isascii()
    assert max(len(line) for line in data.split(b"\r\n")) <= 78
    assert b"\n" not in data.replace(b"\r\n", b"")  # CRLF only, as SMTP wants


def test_small_attachments_go_along_and_large_ones_as_archive_links(
    factory: sessionmaker[Session], clock: Clock
) -> None:
    menu = b"%PDF-1.4 meny vecka 48\n" * 40
    lc = dataclasses.replace(LC, attachment_link_bytes=4096)
    attachments = (
        AttachmentFile(7, "meny v48.pdf", "application/pdf", len(menu), menu),
        AttachmentFile(8, "ritning kök 2.dwg", "application/acad", 6 * 1024 * 1024),
        AttachmentFile(9, "allergener.csv", "text/csv", 30, b"vara;allergen\nmjolk;laktos\n"),
    )
    with unit_of_work(factory) as session:
        f = forum(session, clock())
        data = copy_of(f.question, f.topic, f.erik, lc, attachments)

    copy = parse(data)
    along = {a.get_filename(): a for a in copy.iter_attachments()}
    assert sorted(along) == ["allergener.csv", "meny v48.pdf"]
    assert along["meny v48.pdf"].get_content() == menu
    assert along["allergener.csv"].get_content_type() == "text/csv"
    text = text_of(data)
    assert (
        "- ritning kök 2.dwg (6,0 MB): "
        "https://forum.example.se/attachments/8/ritning%20k%C3%B6k%202.dwg"
    ) in text
    assert "meny v48.pdf" not in text


def test_every_member_gets_the_same_post_with_only_their_own_link_changed(
    factory: sessionmaker[Session], clock: Clock
) -> None:
    with unit_of_work(factory) as session:
        f = forum(session, clock())
        template = CopyTemplate.of(f.question, f.topic, LC)
        erik, asa = template.for_member(f.erik.id), template.for_member(f.asa.id)

    tokens = re.compile(rb"/u/[a-z0-9-]+")
    assert tokens.sub(b"/u/TOKEN", erik) == tokens.sub(b"/u/TOKEN", asa)
    assert erik != asa


def test_dates_and_times_come_from_the_post(factory: sessionmaker[Session], clock: Clock) -> None:
    with unit_of_work(factory) as session:
        f = forum(session, clock())
        clock.advance(days=3)
        data = copy_of(f.question, f.topic, f.erik)

    assert parse(data)["Date"].datetime == clock() - timedelta(days=3)


HEADER_FIELDS = [
    ("From", '"Åsa Öberg (Mölndals stad) via Offentliga måltider" <maltider@forum.localhost>'),
    ("To", "maltider@forum.localhost"),
    ("Subject", "SV: [maltider] Laktosfri mjölk i förskolan – vem levererar till er i höst?"),
    ("Comments", "[maltider] Frukost på fritids"),
    ("Thread-Topic", "[maltider] Specialkost 😀 och allergier i äldreomsorgens kök, hur gör ni?"),
    ("References", " ".join(f"<c{i}n12.176400000{i}.98765@molndal.se>" for i in range(7))),
    ("List-Id", "Offentliga måltider <maltider.forum.localhost>"),
    ("List-Unsubscribe", f"<https://forum.example.se/u/{'A' * 48}>, <mailto:maltider+leave@x.se>"),
    ("List-Archive", f"<https://forum.example.se/m/{'c0n0.' * 12}@molndal.se>"),
    ("X-Odd", "two  spaces and a =?utf-8?q?look-alike?="),
]


def test_header_fields_read_back_exactly_as_the_email_package_writes_them() -> None:
    from email.policy import SMTP

    from mailgate.outbound.compose import header_block

    ours = message_from_bytes(header_block(HEADER_FIELDS) + b"\r\n", policy=default)
    theirs = EmailMessage()
    for name, value in HEADER_FIELDS:
        theirs[name] = value
    theirs_parsed = message_from_bytes(theirs.as_bytes(policy=SMTP), policy=default)
    # (Python reads a space where the display name's encoded words meet, in both.)
    assert [(n, str(v).strip()) for n, v in ours.items()] == [
        (n, str(v).strip()) for n, v in theirs_parsed.items()
    ]
    assert str(ours["Subject"]) == HEADER_FIELDS[2][1]
    # ASCII fields fold where the email package folds them, within 78 characters a line.
    name, value = HEADER_FIELDS[5]
    block = header_block([(name, value)])
    assert block == SMTP.fold_binary(*SMTP.header_store_parse(name, value))
    assert max(len(line) for line in block.split(b"\r\n")) <= 78
    # A URL too long for a line stays as it is, where the email package encodes it.
    assert b"=?" not in header_block(HEADER_FIELDS[7:8])


def test_a_long_thread_index_stays_one_word_outlook_can_read() -> None:
    from mailgate.outbound.compose import header_block

    value = "Adwj" * 40  # a thread of about twenty replies
    block = header_block([("Thread-Index", value)])
    assert block == b"Thread-Index: " + value.encode() + b"\r\n"
    assert str(message_from_bytes(block + b"\r\n", policy=default)["Thread-Index"]) == value
