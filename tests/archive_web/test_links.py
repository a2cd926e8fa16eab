"""Links into the archive: Message-ID redirects, pages of threads, and what is not there."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import quote

import httpx
from sqlalchemy.orm import Session, sessionmaker

from models.db import unit_of_work
from tests.archive_web import content
from tests.archive_web.conftest import Sample, browse, utc
from tests.conftest import Clock


def _redirect_target(archive: httpx.Client, path: str) -> str:
    response = archive.get(path)
    assert response.status_code == 302, path
    return response.headers["location"]


def test_a_message_id_leads_to_its_post(archive: httpx.Client, sample: Sample) -> None:
    first, _, third = sample.porridge_posts
    expected = f"/kost/t/{sample.porridge}#p{first}"
    message_id = "asa/1+grot@vaxjo.se"
    # As the gateway writes it in List-Archive, and as people paste it by hand.
    assert _redirect_target(archive, "/m/" + quote(message_id, safe="@")) == expected
    assert _redirect_target(archive, "/m/" + quote(message_id, safe="")) == expected
    assert _redirect_target(archive, "/m/asa/1+grot@vaxjo.se") == expected
    assert _redirect_target(archive, "/m/" + quote(f"<{message_id}>", safe="@")) == expected
    # A literal "%" in a Message-ID survives: the path is decoded exactly once.
    weird = f"/kost/t/{sample.porridge}#p{third}"
    assert _redirect_target(archive, "/m/" + quote("weird%41id@goteborg.se", safe="@")) == weird
    assert archive.get("/m/weirdAid@goteborg.se").status_code == 404

    landing = archive.get(expected)
    assert landing.status_code == 200
    assert f'<article class="post" id="p{first}"' in landing.text


NOT_THERE = (
    "/finns-inte/",
    "/kost/t/999999",
    "/kost/t/99999999999999999999",
    "/kost/t/grot",
    "/kost/?page=9",
    "/kost/?page=0",
    "/kost/?page=tv%C3%A5",
    "/m/ingen-sadan@vaxjo.se",
    "/m/",
    "/kost/inget/har",
    "/finns-inte",
)


def test_what_is_not_there_gets_the_friendly_page(archive: httpx.Client, sample: Sample) -> None:
    # A thread is found only under its own topic.
    assert archive.get(f"/lokaler/t/{sample.cleaning}").status_code == 200
    elsewhere = (f"/kost/t/{sample.cleaning}", f"/lokaler/t/{sample.porridge}")
    for path in (*NOT_THERE, *elsewhere):
        response = archive.get(path, follow_redirects=True)
        assert response.status_code == 404, path
        assert "Sidan finns inte" in response.text and "Page not found" in response.text
        assert '<html lang="sv">' in response.text


def test_long_topics_come_in_pages_of_fifty(factory: sessionmaker[Session], clock: Clock) -> None:
    with unit_of_work(factory) as session:
        topic = content.topic(session, "skolmat", "Skolmåltider")
        author = content.member(session, "elin@vaxjo.se", "Elin Åkesson", utc(1, 8))
        for n in range(1, 54):
            at = utc(1, 8) + timedelta(minutes=n)
            content.post(
                session, content.thread(session, topic, f"Fråga nummer {n}", at), author, at, "?"
            )
    with browse(factory, clock) as archive:
        first = archive.get("/skolmat/").text
        second = archive.get("/skolmat/?page=2").text
        assert archive.get("/skolmat/?page=3").status_code == 404

    assert first.count('<li class="thread">') == 50
    assert "Fråga nummer 53<" in first and "Fråga nummer 4<" in first
    assert "Fråga nummer 3<" not in first
    assert 'rel="next" href="/skolmat/?page=2">Äldre trådar</a>' in first
    assert 'rel="prev"' not in first
    assert "Sida 1 av 2" in first

    assert second.count('<li class="thread">') == 3
    assert second.index("Fråga nummer 3<") < second.index("Fråga nummer 1<")
    assert 'rel="prev" href="/skolmat/?page=1">Nyare trådar</a>' in second
    assert 'rel="next"' not in second
