"""The digest as a member reads it: text and HTML, Svara and Följ links, list headers."""

from __future__ import annotations

from datetime import UTC
from urllib.parse import parse_qs, unquote, urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from digest import links
from digest.build import Letter, build_letter
from digest.period import Period
from mailgate import addresses
from mailgate.addresses import Kind
from mailgate.outbound.compose import unsubscribe_token
from models import Member
from models.db import unit_of_work
from models.tokens import make_reply_key, read_reply_key
from tests.digest.content import DOMAIN, LC, MONDAY, STOCKHOLM, topic_of
from tests.digest.reading import outline, outlook_joins, parse, parts
from tests.digest.test_select import QUOTE, WEEK, a_busy_week


def letter_and_reader(factory: sessionmaker[Session]) -> tuple[Letter, Member, dict[str, int]]:
    with unit_of_work(factory) as session:
        ids = a_busy_week(session)
        letter = build_letter(
            session,
            topic_of(session),
            Period.WEEKLY,
            WEEK,
            lc=LC,
            zone=STOCKHOLM,
            message_id="<digest.1.weekly.kost@forum.example.se>",
            now=MONDAY.astimezone(UTC),
        )
        karin = session.scalars(select(Member).where(Member.name == "Karin Lind")).one()
    assert letter is not None
    return letter, karin, ids


def test_the_digest_is_multipart_with_list_headers_and_the_members_own_unsubscribe_link(
    factory: sessionmaker[Session],
) -> None:
    letter, karin, _ = letter_and_reader(factory)

    message = parse(letter.message_for(karin))

    assert message.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in message.iter_parts()] == ["text/plain", "text/html"]
    assert message["To"] == "karin.lind@skr.se"
    assert message["Subject"] == "[kost] Sammanfattning vecka 47: 3 nya trådar, 3 nya svar"
    assert message["From"] == "Kost och måltider <kost-request@forum.example.se>"
    assert message["Reply-To"] == "kost-request@forum.example.se"
    assert message["List-Id"] == "Kost och måltider <kost.forum.example.se>"
    own_link = f"https://forum.example.se/u/{unsubscribe_token(LC.secret, karin.id, 1)}"
    assert message["List-Unsubscribe"].startswith(f"<{own_link}>")
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    text, html = parts(message)
    assert own_link in text and f'href="{own_link}"' in html


def test_the_text_part_reads_well_even_in_outlooks_plain_view(
    factory: sessionmaker[Session],
) -> None:
    letter, karin, ids = letter_and_reader(factory)

    text, _ = parts(parse(letter.message_for(karin)))

    lines = text.splitlines()
    assert lines[0] == "Kost och måltider: sammanfattning vecka 47"
    for heading in ("Kan du svara?", "Nya trådar", "Nya svar", "Taggar"):
        assert lines[lines.index(heading) + 1] == "-" * len(heading)
    assert "* Laktosfri mjölk i förskolan" in lines
    assert "   Karin Lind, 18 november" in lines
    assert "   1 nytt svar från Anna Andersson (Mölndals stad)." in lines
    assert "   Senaste svaret, från Åsa Öberg (Växjö kommun):" in lines
    assert f"   Läs tråden: https://forum.example.se/kost/t/{ids['milk']}" in lines
    # Outlook may run lines of prose together, never an entry's lines or a link.
    for joined in outlook_joins(text):
        assert "://" not in joined and "mailto:" not in joined and not joined.startswith("*")


def test_the_html_part_has_headings_lists_and_real_link_text_and_no_layout_tables(
    factory: sessionmaker[Session],
) -> None:
    letter, karin, ids = letter_and_reader(factory)

    _, html = parts(parse(letter.message_for(karin)))
    page = outline(html)

    assert page.lang == "sv"
    assert page.headings[:2] == [
        ("h1", "Kost och måltider: sammanfattning vecka 47"),
        ("h2", "Kan du svara?"),
    ]
    assert [text for level, text in page.headings if level == "h2"] == [
        "Kan du svara?",
        "Nya trådar",
        "Nya svar",
        "Taggar",
    ]
    assert ("h3", "Laktosfri mjölk i förskolan") in page.headings
    assert {"ul", "li"} <= page.tags
    assert not page.tags & {"table", "img", "script", "style"}
    thread_link = ("Laktosfri mjölk i förskolan", f"https://forum.example.se/kost/t/{ids['milk']}")
    assert thread_link in page.links
    texts = {text for text, _ in page.links}
    assert {"Svara i tråden", "Följ tråden", "Lämna Kost och måltider"} <= texts
    assert not texts & {"", "här", "klicka här", "länk"}


def test_svara_answers_the_threads_latest_post_with_an_encoded_sv_subject(
    factory: sessionmaker[Session],
) -> None:
    letter, karin, ids = letter_and_reader(factory)

    _, html = parts(parse(letter.message_for(karin)))
    replies = [href for text, href in outline(html).links if text == "Svara i tråden"]

    # Questions, then new threads, then older threads with answers, as the letter reads.
    tender = replies[-1]
    url = urlsplit(tender)
    assert url.scheme == "mailto"
    local, _, domain = url.path.partition("@")
    slug, _, key = local.partition("+")
    assert (slug, domain) == ("kost", DOMAIN)
    assert read_reply_key(LC.secret, key) == ids["tender_latest"]
    assert url.query == "subject=SV%3A%20Upphandling%20av%20livsmedel%202027"
    milk = replies[3]
    assert urlsplit(milk).query == ("subject=SV%3A%20Laktosfri%20mj%C3%B6lk%20i%20f%C3%B6rskolan")
    assert unquote(urlsplit(milk).query) == "subject=SV: Laktosfri mjölk i förskolan"
    assert (
        read_reply_key(LC.secret, urlsplit(milk).path.split("+")[1].split("@")[0])
        == (ids["milk_answer"])
    )


def test_folj_asks_the_request_address_to_follow_that_thread(
    factory: sessionmaker[Session],
) -> None:
    letter, karin, ids = letter_and_reader(factory)

    text, html = parts(parse(letter.message_for(karin)))
    follow = [href for label, href in outline(html).links if label == "Följ tråden"][3]

    url = urlsplit(follow)
    assert url.path == "kost-request@forum.example.se"
    subject = parse_qs(url.query)["subject"][0]
    assert subject == f"följ {ids['milk']}"
    assert f"   Följ: {follow}" in text.splitlines()


def test_a_plain_reply_to_the_digest_goes_to_the_request_address_never_to_the_topic(
    factory: sessionmaker[Session],
) -> None:
    letter, karin, _ = letter_and_reader(factory)
    message = parse(letter.message_for(karin))

    for header in ("From", "Reply-To"):
        address = addresses.parse(message[header].addresses[0].addr_spec, DOMAIN)
        assert address is not None and (address.kind, address.topic) == (Kind.REQUEST, "kost")
    assert message["Message-ID"] == "<digest.1.weekly.kost@forum.example.se>"


def test_quoted_text_and_whole_posts_never_reach_the_digest(
    factory: sessionmaker[Session],
) -> None:
    letter, karin, _ = letter_and_reader(factory)

    text, html = parts(parse(letter.message_for(karin)))

    for body in (text, html):
        assert "egen upphandling i Mölndal" not in body
        assert "Hej alla" not in body and "Hej Anna!" not in body
        assert QUOTE.removeprefix("> ") not in body


def test_the_digest_links_follow_the_gateways_addresses() -> None:
    key = make_reply_key(LC.secret, 42)
    assert links.reply_address(LC, "kost", 42) == addresses.make(Kind.REPLY, "kost", DOMAIN, key)
    assert links.request_address(LC, "kost") == addresses.make(Kind.REQUEST, "kost", DOMAIN)
    assert urlsplit(links.follow_link(LC, "kost", 12)).query == "subject=f%C3%B6lj%2012"
    assert [
        parse_qs(urlsplit(links.mode_link(LC, "kost", mode)).query)["subject"][0]
        for mode in ("each", "daily", "weekly", "none")
    ] == [
        "sammanfattning varje",
        "sammanfattning dag",
        "sammanfattning vecka",
        "sammanfattning ingen",
    ]
