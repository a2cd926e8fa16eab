"""Privacy, security headers, robots and failures: what the archive must never show or allow."""

from __future__ import annotations

from pathlib import Path

import httpx
from sqlalchemy.orm import Session, sessionmaker

from models import Post
from models.db import make_engine, make_sessionmaker, unit_of_work
from tests.archive_web.conftest import MEMBER_EMAILS, Sample, browse
from tests.archive_web.page_check import check_structure
from tests.conftest import Clock


def _pages(sample: Sample) -> list[str]:
    return [
        "/",
        "/kost/",
        "/lokaler/",
        f"/kost/t/{sample.porridge}",
        f"/kost/t/{sample.procurement}",
        f"/kost/t/{sample.allergies}",
        f"/lokaler/t/{sample.cleaning}",
        "/tillganglighet",
        "/finns-inte/",
        "/search?q=gr%C3%B6t+kvarn+ring",
        "/search?q=hej&topic=kost",
        "/tags/skolmat",
        "/orgs/molndals-stad",
        "/orgs/vaxjo-kommun",
        "/orgs/goteborgs-stad",
        "/u/inte-en-token",
        "/confirm/inte-en-token",
    ]


def _files(sample: Sample) -> list[str]:
    return ["/kost/atom.xml", "/lokaler/atom.xml", f"/kost/t/{sample.porridge}.mbox"]


def test_no_member_address_appears_on_any_page(archive: httpx.Client, sample: Sample) -> None:
    for path in _pages(sample):
        page = archive.get(path).text
        check_structure(page)
        for address in MEMBER_EMAILS:
            assert address not in page, (path, address)
        for domain in ("@vaxjo.se", "@molndal.se", "@goteborg.se"):
            assert domain not in page, (path, domain)
    thread = archive.get(f"/kost/t/{sample.porridge}").text
    assert "eller mejla anna@…." in thread  # in the text, the signature and the quote
    assert thread.count("anna@…") == 2
    assert "&lt;asa.oberg@…&gt;" in thread
    # The signature's phone number too; the dates around it stay.
    assert "031-123 45 67" not in thread and "[telefonnummer dolt]" in thread
    assert "den 20 november 2026 10:12" in thread


def test_html_from_mail_is_never_shown(
    factory: sessionmaker[Session], clock: Clock, sample: Sample
) -> None:
    with unit_of_work(factory) as session:
        post = session.get(Post, sample.porridge_posts[0])
        assert post is not None
        post.html = '<p onclick="steal()">Hej <img src="https://tracker.example/x.gif"></p>'
    with browse(factory, clock) as archive:
        page = archive.get(f"/kost/t/{sample.porridge}").text
    assert "Hej alla!" in page  # the text part is what is shown
    assert "onclick" not in page and "tracker.example" not in page


def test_every_response_carries_the_security_headers(archive: httpx.Client, sample: Sample) -> None:
    paths = [
        *_pages(sample),
        *_files(sample),
        "/static/style.css",
        "/robots.txt",
        "/m/asa%2F1%2Bgrot@vaxjo.se",
    ]
    for path in paths:
        response = archive.get(path)
        policy = response.headers["content-security-policy"]
        for directive in (
            "default-src 'self'",
            "script-src 'none'",
            "object-src 'none'",
            "base-uri 'none'",
            "frame-ancestors 'none'",
        ):
            assert directive in policy, (path, directive)
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["referrer-policy"] == "same-origin"


def test_robots_stay_out_unless_indexing_is_chosen(
    archive: httpx.Client, factory: sessionmaker[Session], clock: Clock
) -> None:
    robots = archive.get("/robots.txt")
    assert robots.headers["content-type"].startswith("text/plain")
    assert robots.text == "User-agent: *\nDisallow: /\n"
    assert '<meta name="robots" content="noindex">' in archive.get("/").text

    with browse(factory, clock, robots_index=True) as indexed:
        assert indexed.get("/robots.txt").text == (
            "User-agent: *\nDisallow: /search\nDisallow: /u/\nDisallow: /confirm/\n"
            "Disallow: /healthz\nDisallow: /metrics\n"
        )
        assert 'name="robots"' not in indexed.get("/").text
        assert 'name="robots"' not in indexed.get("/kost/").text
        assert "x-robots-tag" not in indexed.get("/kost/atom.xml").headers
        # Search results are never for search engines.
        assert '<meta name="robots" content="noindex">' in indexed.get("/search?q=gröt").text


def test_a_base_url_with_a_path_and_another_time_zone(
    factory: sessionmaker[Session], clock: Clock, sample: Sample
) -> None:
    config = {"base_url": "https://example.se/forum/", "timezone": "UTC"}
    with browse(factory, clock, **config) as archive:
        topic = archive.get("/kost/").text
        redirect = archive.get("/m/asa%2F1%2Bgrot@vaxjo.se")
    assert f'href="/forum/kost/t/{sample.porridge}"' in topic
    assert 'href="/forum/static/style.css"' in topic
    assert "22 november 2026 kl. 07:45" in topic
    assert redirect.headers["location"] == (
        f"/forum/kost/t/{sample.porridge}#p{sample.porridge_posts[0]}"
    )


def test_a_failure_shows_a_plain_page_and_no_internals(tmp_path: Path, clock: Clock) -> None:
    # A database that was never migrated: every query fails.
    engine = make_engine(f"sqlite:///{tmp_path / 'empty.db'}")
    try:
        with browse(make_sessionmaker(engine), clock) as archive:
            response = archive.get("/")
    finally:
        engine.dispose()
    assert response.status_code == 500
    assert "Något gick fel" in response.text and "Something went wrong" in response.text
    for leak in ("Traceback", "OperationalError", "no such table", "sqlalchemy", "File "):
        assert leak not in response.text
    assert "script-src 'none'" in response.headers["content-security-policy"]
    assert response.headers["x-content-type-options"] == "nosniff"
