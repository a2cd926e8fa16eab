"""Across topics: threads by tag, and what colleagues at one organisation have written."""

from __future__ import annotations

import re

import httpx
from sqlalchemy.orm import Session, sessionmaker

from models.db import unit_of_work
from tests.archive_web import content
from tests.archive_web.conftest import Sample, browse, utc
from tests.archive_web.page_check import check_structure
from tests.conftest import Clock


def test_a_tag_page_lists_its_threads(archive: httpx.Client, sample: Sample) -> None:
    response = archive.get("/tags/skolmat")
    assert response.status_code == 200
    page = response.text
    check_structure(page)
    assert "<h1>Trådar taggade #skolmat</h1>" in page
    assert re.findall(r'<h3><a href="([^"]*)">', page) == [f"/kost/t/{sample.porridge}"]
    assert 'i <a href="/kost/">Kost och måltider</a>' in page
    assert 'href="/search?tag=skolmat"' in page
    for missing in ("/tags/finns-inte", "/tags/skolmat?page=2", "/tags/skolmat?page=0"):
        assert archive.get(missing).status_code == 404, missing


def test_an_organisation_page_shows_who_wrote_what(
    factory: sessionmaker[Session], clock: Clock, sample: Sample
) -> None:
    with unit_of_work(factory) as session:
        # A colleague who only reads: never listed, the archive shows no subscriber lists.
        content.member(session, "tyst.lasare@molndal.se", "Tyst Läsare", utc(1, 8))
    with browse(factory, clock) as archive:
        response = archive.get("/orgs/molndals-stad")
        empty = archive.get("/orgs/ale-kommun")
        unknown = archive.get("/orgs/finns-inte")
    assert response.status_code == 200
    page = response.text
    check_structure(page)
    assert "<h1>Mölndals stad</h1>" in page
    people = re.findall(r"<li>([^<]+) <span class=\"meta\">\((\d+) inlägg", page)
    assert people == [("Anna Lindqvist", "1"), ("kerstin.ek", "1")]
    assert "Tyst Läsare" not in page
    # Newest first, each leading to the post itself.
    posts = re.findall(r'<h3><a href="([^"#]*)#p(\d+)">([^<]*)</a></h3>', page)
    assert [(href, subject) for href, _, subject in posts] == [
        (f"/kost/t/{sample.porridge}", "Ekologisk gröt i förskolan"),
        (f"/kost/t/{sample.allergies}", "Allergier på äldreboenden"),
    ]
    assert posts[0][1] == str(sample.porridge_posts[1])
    assert "eller mejla anna@…." in page and "@molndal.se" not in page

    assert empty.status_code == 200
    assert "Ingen från Ale kommun har skrivit i forumet ännu." in empty.text
    assert unknown.status_code == 404 and "Sidan finns inte" in unknown.text
