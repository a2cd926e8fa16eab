"""axe-core against every kind of archive page in a real Chromium (WCAG 2.1 A and AA).

Optional: runs only where Debian's chromium and axe-playwright-python are installed, so that
the suite never depends on a browser. DOS-lagen asks for WCAG 2.1 AA (EN 301 549).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from models import Member, Mode, Subscription, Topic
from models.db import unit_of_work
from models.tokens import sign_value
from tests.archive_web.conftest import MEMBER_EMAILS, Sample, browse, utc
from tests.conftest import Clock

CHROMIUM = Path("/usr/bin/chromium")
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
SECRET = b"a" * 32

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="needs /usr/bin/chromium")


def _violations(page: Any, axe: Any) -> list[str]:
    results = axe.run(page, options={"runOnly": {"type": "tag", "values": WCAG_TAGS}})
    return [
        f"{v['id']}: {v['help']} ({len(v['nodes'])} element(s))"
        for v in results.response["violations"]
    ]


def test_every_kind_of_page_passes_axe(
    factory: sessionmaker[Session], clock: Clock, sample: Sample
) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    axe_module = pytest.importorskip("axe_playwright_python.sync_playwright")
    if factory.kw["bind"].dialect.name != "sqlite":
        pytest.skip("the pages are the same on every database; once is enough")
    with unit_of_work(factory) as session:
        member = session.scalars(select(Member).where(Member.email == MEMBER_EMAILS[1])).one()
        topic = session.scalars(select(Topic).where(Topic.slug == "kost")).one()
        session.add(
            Subscription(
                member_id=member.id, topic_id=topic.id, mode=Mode.EACH, created_at=utc(1, 9)
            )
        )
        token = sign_value(SECRET, "unsubscribe", f"{member.id}:{topic.id}")
    paths = [
        "/",
        "/kost/",
        f"/kost/t/{sample.porridge}",
        "/tags/skolmat",
        "/orgs/molndals-stad",
        "/search",
        "/search?q=ekologisk+gr%C3%B6t",
        "/tillganglighet",
        "/finns-inte/",
        f"/u/{token}",
        "/confirm/ingen-sadan",
    ]
    failures: dict[str, list[str]] = {}
    with browse(factory, clock, secret=SECRET) as archive, sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        try:
            page = browser.new_page()
            axe = axe_module.Axe()
            for path in paths:
                page.goto(f"{archive.base_url}{path}")
                failures[path] = _violations(page, axe)
            # The page after pressing "Lämna", reached by keyboard alone.
            page.goto(f"{archive.base_url}/u/{token}")
            page.keyboard.press("Tab")  # the skip link comes first
            page.focus("main button")
            page.keyboard.press("Enter")
            page.wait_for_selector("text=Du har lämnat")
            failures["/u/… (after the button)"] = _violations(page, axe)
        finally:
            browser.close()
    assert {path: found for path, found in failures.items() if found} == {}
