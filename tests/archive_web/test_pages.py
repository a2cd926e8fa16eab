"""What a reader sees on the topic list, a topic and a thread, fetched over real HTTP."""

from __future__ import annotations

import re

import httpx

from tests.archive_web.conftest import SIGNATURE, Sample
from tests.archive_web.page_check import check_structure


def _titles(page: str) -> list[str]:
    return re.findall(r'<h3><a href="[^"]*/t/\d+">([^<]*)</a></h3>', page)


def test_the_start_page_and_the_accessibility_statement(archive: httpx.Client) -> None:
    response = archive.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    page = response.text
    check_structure(page)
    assert "Kost och måltider" in page
    assert "För kostchefer i kommuner och regioner: måltider, upphandling och näringslära." in page
    assert "<code>kost@forum.localhost</code>" in page
    assert "3 trådar" in page and "1 tråd<" in page
    # Four posts in kost since 16 November 09:30 UTC; the cleaning thread is from October.
    assert "4 inlägg de senaste 7 dagarna" in page
    assert "0 inlägg de senaste 7 dagarna" in page
    assert _titles(page) == [
        "Upphandling av livsmedel 2027",
        "Ekologisk gröt i förskolan",
        "Allergier på äldreboenden",
        "Städning av tillagningskök",
    ]

    # The footer of every page (check_structure asserts the link) leads to the statement.
    statement = archive.get("/tillganglighet")
    assert statement.status_code == 200
    page = statement.text
    check_structure(page)
    assert "<h1>Tillgänglighetsredogörelse</h1>" in page
    assert "lagen (2018:1937) om tillgänglighet till digital offentlig service" in page
    assert "WCAG 2.1 på nivå AA" in page
    assert 'href="https://www.digg.se/tdosanmalan"' in page
    assert "ämnesnamn-owner@forum.localhost" in page


def test_a_topic_lists_threads_by_newest_activity(archive: httpx.Client) -> None:
    response = archive.get("/kost/")
    assert response.status_code == 200
    page = response.text
    outline = check_structure(page)
    assert "<h1>Kost och måltider</h1>" in page
    assert _titles(page) == [
        "Upphandling av livsmedel 2027",
        "Ekologisk gröt i förskolan",
        "Allergier på äldreboenden",
    ]
    items = page.split('<li class="thread">')[1:]
    assert "Obesvarad" in items[0] and "svar<" not in items[0]
    assert "2 svar" in items[1] and "Obesvarad" not in items[1]
    # The organisation leads to what its colleagues wrote; tags lead across topics.
    assert 'Startad av Åsa Öberg, <a href="/orgs/vaxjo-kommun">Växjö kommun</a>' in items[1]
    assert '<a href="/tags/skolmat">#skolmat</a>' in items[1]
    assert '<a href="/tags/ekologiskt">#ekologiskt</a>' in items[1]
    # The date of the newest post, in Swedish and in Stockholm time (CET in November).
    assert "22 november 2026 kl. 08:45" in items[1]
    assert "2026-11-22T08:45+01:00" in outline.times
    # A member without a name is shown by the part before the @ only.
    assert 'Startad av kerstin.ek, <a href="/orgs/molndals-stad">Mölndals stad</a>' in items[2]
    assert "Lokalförsörjning" not in "".join(items)
    assert "Sida 1 av" not in page


def test_a_thread_shows_its_posts_in_order_with_quotes_folded(
    archive: httpx.Client, sample: Sample
) -> None:
    response = archive.get(f"/kost/t/{sample.porridge}")
    assert response.status_code == 200
    page = response.text
    outline = check_structure(page)
    assert "<h1>Ekologisk gröt i förskolan</h1>" in page
    first, second, third = sample.porridge_posts
    assert [f"p{n}" for n in sample.porridge_posts] == [i for i in outline.ids if i[1:].isdigit()]
    authors = re.findall(
        r'<h2 id="p\d+-av">([^<]*)<span class="org">, <a href="/orgs/[a-z-]+">([^<]*)</a></span>',
        page,
    )
    assert authors == [
        ("Åsa Öberg", "Växjö kommun"),
        ("Anna Lindqvist", "Mölndals stad"),
        ("Göran Ström", "Göteborgs Stad"),
    ]
    assert "20 november 2026 kl. 10:12" in page
    assert outline.times == [
        "2026-11-20T10:12+01:00",
        "2026-11-21T14:05+01:00",
        "2026-11-22T08:45+01:00",
    ]
    # Line breaks are kept in the text itself; the stylesheet wraps it without losing them.
    assert (
        '<div class="text">Hej alla!\nVi funderar på att byta till ekologiska havregryn '
        "i förskolan.\nHur har det gått för er?</div>"
    ) in page
    assert "white-space: pre-wrap" in archive.get("/static/style.css").text

    assert "&lt;script&gt;alert(1)&lt;/script&gt; fungerar inte här." in page
    assert "<script>" not in page

    folded = re.findall(
        r"<details class=\"(\w+)\">\s*<summary>([^<]*)</summary>\s*<div class=\"text\">(.*?)</div>",
        page,
        re.DOTALL,
    )
    assert [(kind, summary) for kind, summary, _ in folded] == [
        ("quoted", "Visa citerad text"),
        ("signature", "Visa signatur"),
    ]
    assert "Har någon bytt till ekologiska havregryn?" in folded[0][2]
    assert page.count("Har någon bytt till ekologiska havregryn?") == 1
    assert folded[1][2].startswith("Med vänlig hälsning\nAnna Lindqvist")
    assert "Från: Åsa Öberg &lt;asa.oberg@…&gt;" in folded[0][2]
    assert SIGNATURE.splitlines()[2] in folded[1][2]
    assert page.count("<details") == 2  # the posts without quotes fold nothing

    attachment = re.search(
        r'<li><a href="(/attachments/\d+/Meny%20vecka%2047\.pdf)" download>Meny vecka 47\.pdf</a> '
        r'<span class="meta">\(PDF, 1,5 kB, hämtad 0 gånger\)</span></li>',
        page,
    )
    assert attachment is not None
    assert archive.get(attachment.group(1)).content == b"%PDF" * 384
    assert f'<h3 id="p{second}-bilagor">Bilagor</h3>' in page
    assert first < second < third
