"""Search: Swedish word forms found, hits marked, filters obeyed, the index kept current."""

from __future__ import annotations

import re
from dataclasses import dataclass
from email.message import EmailMessage

import httpx
import pytest
from sqlalchemy import delete, select, text
from sqlalchemy.orm import Session, sessionmaker

from mailgate.config import GatewayConfig
from mailgate.inbound import Inbound
from mailgate.pipeline import Pipeline
from models import Post, Topic
from models.db import unit_of_work
from models.search import reindex, search
from tests.archive_web import content
from tests.archive_web.conftest import LIST_DOMAIN, Sample, browse, utc
from tests.archive_web.page_check import check_structure
from tests.conftest import Clock


@dataclass(frozen=True)
class Meals:
    school: int  # in kost, tagged skolmat
    canteen: int  # in lokaler
    school_posts: tuple[int, int]


@pytest.fixture
def meals(factory: sessionmaker[Session], sample: Sample) -> Meals:
    with unit_of_work(factory) as session:
        kost = session.scalars(select(Topic).where(Topic.slug == "kost")).one()
        lokaler = session.scalars(select(Topic).where(Topic.slug == "lokaler")).one()
        elin = content.member(session, "elin.akesson@vaxjo.se", "Elin Åkesson", utc(1, 8))
        pia = content.member(session, "pia@molndal.se", "Pia Holm", utc(1, 8))
        school = content.thread(session, kost, "Lunch i skolan", utc(18, 8), ("skolmat",))
        first = content.post(
            session,
            school,
            elin,
            utc(18, 8),
            "Hos oss serveras måltiderna klockan elva, och <b>alla</b> äter tillsammans.\n"
            "Ring mig på 070-123 45 67 om du vill veta mer.",
        )
        second = content.post(
            session, school, pia, utc(18, 9), "Vi har också måltider i två sittningar."
        )
        canteen = content.thread(session, lokaler, "Ny matsal", utc(19, 8))
        content.post(session, canteen, pia, utc(19, 8), "En god måltid behöver en lugn matsal.")
        return Meals(school=school.id, canteen=canteen.id, school_posts=(first.id, second.id))


def _result_threads(page: str) -> list[str]:
    return re.findall(r'<h3><a href="/([^"/]+/t/\d+)#p\d+">', page)


def test_a_word_finds_its_other_forms_and_they_are_marked(
    archive: httpx.Client, meals: Meals
) -> None:
    response = archive.get("/search", params={"q": "Måltid"})
    assert response.status_code == 200
    page = response.text
    check_structure(page)
    # One result per thread, the best post's text as the snippet.
    assert sorted(_result_threads(page)) == sorted(
        [f"kost/t/{meals.school}", f"lokaler/t/{meals.canteen}"]
    )
    assert "2 trådar hittades" in page
    assert "Vi har också <mark>måltider</mark> i två sittningar." in page
    assert "En god <mark>måltid</mark> behöver" in page
    assert page.count("<mark>") == 2

    served = archive.get("/search", params={"q": "servera"}).text
    assert "Hos oss <mark>serveras</mark> måltiderna klockan elva" in served
    # Escaped first, then marked: the mail's markup is text; the phone number is hidden.
    assert "&lt;b&gt;alla&lt;/b&gt;" in served and "<b>" not in served
    assert "070-123" not in served and "[telefonnummer dolt]" in served
    # The form remembers the question and is labelled.
    assert '<label for="q">Sökord</label>' in page
    assert 'value="Måltid"' in page
    assert '<meta name="robots" content="noindex">' in page


def test_the_filters_narrow_by_topic_and_by_tag(archive: httpx.Client, meals: Meals) -> None:
    by_topic = archive.get("/search", params={"q": "måltider", "topic": "lokaler"}).text
    assert _result_threads(by_topic) == [f"lokaler/t/{meals.canteen}"]
    assert '<option value="lokaler" selected>' in by_topic

    by_tag = archive.get("/search", params={"q": "måltider", "tag": "skolmat"}).text
    assert _result_threads(by_tag) == [f"kost/t/{meals.school}"]

    nothing = archive.get("/search", params={"q": "måltid", "topic": "kost", "tag": "ekologiskt"})
    assert "Inga träffar" in nothing.text and _result_threads(nothing.text) == []


def test_odd_questions_get_plain_answers(archive: httpx.Client, meals: Meals) -> None:
    empty = archive.get("/search")
    assert empty.status_code == 200 and "Inga träffar" not in empty.text
    check_structure(empty.text)

    small = archive.get("/search", params={"q": "och att"}).text
    assert "bara vanliga småord" in small

    hostile = archive.get("/search", params={"q": '<script>"måltid" OR NEAR(x) *'}).text
    assert "<script>" not in hostile and "&lt;script&gt;" in hostile
    assert len(_result_threads(hostile)) == 0  # every word must be there: script, near, x

    assert archive.get("/search", params={"q": "måltid", "page": "9"}).status_code == 404
    assert archive.get("/search", params={"q": "måltid", "page": "x"}).status_code == 404


def test_search_ranks_and_pages_through_threads(
    factory: sessionmaker[Session], meals: Meals
) -> None:
    with factory() as session:
        everything = search(session, "måltid")
        assert everything.total == 2
        assert {hit.thread_id for hit in everything.hits} == {meals.school, meals.canteen}
        assert all(hit.rank > 0 for hit in everything.hits)
        ranks = [hit.rank for hit in everything.hits]
        assert ranks == sorted(ranks, reverse=True)
        first, second = (search(session, "måltid", limit=1, offset=n) for n in (0, 1))
        assert [h.thread_id for h in (*first.hits, *second.hits)] == [
            h.thread_id for h in everything.hits
        ]
        assert second.total == 2
        # Both posts of the school thread match; the thread is one result.
        school = search(session, "måltid", tag="skolmat")
        assert len(school.hits) == 1 and school.hits[0].post_id in meals.school_posts
        assert search(session, "måltid", topic="finns-inte").hits == ()
        assert search(session, "").total == 0


def test_a_post_delivered_by_the_gateway_is_found_at_once(
    factory: sessionmaker[Session], clock: Clock, sample: Sample
) -> None:
    gateway = Pipeline(
        factory,
        GatewayConfig(
            list_domain=LIST_DOMAIN,
            base_url="http://127.0.0.1:8080",
            secret=b"x" * 32,
            sender_auth="none",
        ),
    )
    message = EmailMessage()
    message["From"] = "Göran Ström <goran.strom@goteborg.se>"
    message["To"] = f"kost@{LIST_DOMAIN}"
    message["Subject"] = "Vegetariska veckor"
    message["Message-ID"] = "<vego-1@goteborg.se>"
    message["Date"] = "Mon, 23 Nov 2026 09:00:00 +0100"
    message.set_content("Vi provar vegetariska veckorna i grundskolorna under våren.")
    verdict = gateway.deliver_now(
        Inbound(
            mail_from="goran.strom@goteborg.se",
            rcpt_tos=(f"kost@{LIST_DOMAIN}",),
            data=message.as_bytes(),
            peer="127.0.0.1",
            received_at=clock(),
        )
    )
    assert type(verdict).__name__ == "Accept", verdict

    with browse(factory, clock) as archive:
        page = archive.get("/search", params={"q": "vegetarisk vecka"}).text
    assert "<mark>Vegetariska</mark> <mark>veckor</mark></a></h3>" in page
    assert "Vi provar <mark>vegetariska</mark> <mark>veckorna</mark> i grundskolorna" in page


def test_the_index_forgets_deleted_posts_and_can_be_rebuilt(
    factory: sessionmaker[Session], meals: Meals
) -> None:
    with unit_of_work(factory) as session:
        session.execute(delete(Post).where(Post.thread_id == meals.canteen))
    with factory() as session:
        assert [h.thread_id for h in search(session, "måltid").hits] == [meals.school]
        if session.get_bind().dialect.name == "sqlite":
            # Nothing of the deleted post stays behind in the index (GDPR Art. 17).
            rows = session.execute(text("SELECT count(*) FROM post_search")).scalar()
            assert rows == len(session.scalars(select(Post.id)).all())
            session.execute(text("DELETE FROM post_search"))
            assert search(session, "måltid").total == 0
        count = reindex(session)
        session.commit()
        assert count == len(session.scalars(select(Post.id)).all())
        assert [h.thread_id for h in search(session, "måltid").hits] == [meals.school]
