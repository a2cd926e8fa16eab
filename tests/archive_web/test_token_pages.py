"""The pages mailed links open: a GET never acts (link scanners open everything), a POST does."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from mailgate.outbound.compose import unsubscribe_token
from models import Confirmation, ConfirmationKind, Member, Mode, Subscription, Topic
from models.db import unit_of_work
from models.tokens import new_token, sign_value, token_hash
from tests.archive_web.conftest import MEMBER_EMAILS, Sample, browse, utc
from tests.archive_web.page_check import check_structure
from tests.conftest import Clock

SECRET = b"s" * 32


def _subscribe(factory: sessionmaker[Session], email: str) -> tuple[int, int, int]:
    """(subscription, member, topic) ids for `email` in kost."""
    with unit_of_work(factory) as session:
        member = session.scalars(select(Member).where(Member.email == email)).one()
        topic = session.scalars(select(Topic).where(Topic.slug == "kost")).one()
        subscription = Subscription(
            member_id=member.id, topic_id=topic.id, mode=Mode.EACH, created_at=utc(1, 9)
        )
        session.add(subscription)
        session.flush()
        return subscription.id, member.id, topic.id


def _ended(factory: sessionmaker[Session], subscription_id: int) -> object:
    with factory() as session:
        subscription = session.get(Subscription, subscription_id)
        assert subscription is not None
        return subscription.ended_at


def _form_action(page: str) -> str:
    found = re.search(r'<form method="post" action="([^"]+)">', page)
    assert found is not None, page
    return found.group(1)


def test_unsubscribing_takes_a_post_and_no_login(
    factory: sessionmaker[Session], clock: Clock, sample: Sample
) -> None:
    subscription, member, topic = _subscribe(factory, MEMBER_EMAILS[1])
    # Made exactly as the outgoing mail makes it.
    token = unsubscribe_token(SECRET, member, topic)
    with browse(factory, clock, secret=SECRET) as archive:
        shown = archive.get(f"/u/{token}")
        assert shown.status_code == 200
        check_structure(shown.text)
        assert "<h1>Lämna Kost och måltider?</h1>" in shown.text
        assert _form_action(shown.text) == f"/u/{token}"
        assert '<button type="submit">Lämna Kost och måltider</button>' in shown.text
        assert _ended(factory, subscription) is None  # looking is not leaving

        # RFC 8058: what Gmail or Outlook posts when the reader presses "Unsubscribe".
        left = archive.post(f"/u/{token}", data={"List-Unsubscribe": "One-Click"})
        assert left.status_code == 200
        check_structure(left.text)
        assert "<h1>Du har lämnat Kost och måltider</h1>" in left.text
        assert "<code>kost-join@forum.localhost</code>" in left.text
        assert _ended(factory, subscription) == clock()

        clock.advance(hours=1)
        again = archive.post(f"/u/{token}")  # the button on the page; twice changes nothing
        assert again.status_code == 200
        assert _ended(factory, subscription) == clock() - timedelta(hours=1)
        assert "Du är inte längre med" in archive.get(f"/u/{token}").text


BAD_TOKENS = (
    "inte-en-token",
    sign_value(b"fel" * 11, "unsubscribe", "1:1"),  # another forum's secret
    sign_value(SECRET, "reply", "1:1"),  # another purpose
    sign_value(SECRET, "unsubscribe", "999:1"),  # no such member
    sign_value(SECRET, "unsubscribe", "1"),
    "a" * 500,
)


def test_a_bad_unsubscribe_link_gets_a_friendly_page(
    factory: sessionmaker[Session], clock: Clock, sample: Sample
) -> None:
    with browse(factory, clock, secret=SECRET) as archive:
        for token in BAD_TOKENS:
            for response in (archive.get(f"/u/{token}"), archive.post(f"/u/{token}")):
                assert response.status_code == 404, token
                assert "Länken fungerar inte" in response.text
                check_structure(response.text)


def test_without_a_secret_no_unsubscribe_link_works(
    factory: sessionmaker[Session], clock: Clock, sample: Sample
) -> None:
    _, member, topic = _subscribe(factory, MEMBER_EMAILS[1])
    with browse(factory, clock) as archive:
        assert archive.get(f"/u/{unsubscribe_token(b'', member, topic)}").status_code == 404


def _confirmation(
    factory: sessionmaker[Session], kind: ConfirmationKind, clock: Clock, **fields: object
) -> tuple[str, int]:
    token = new_token()
    with unit_of_work(factory) as session:
        topic = session.scalars(select(Topic).where(Topic.slug == "kost")).one()
        row = Confirmation(
            token_hash=token_hash(token),
            kind=kind,
            email="ny.kollega@molndal.se",
            name="Ny Kollega",
            topic_id=topic.id,
            created_at=clock(),
            expires_at=clock() + timedelta(days=7),
            **fields,
        )
        session.add(row)
        session.flush()
        return token, row.id


def _confirmed_at(factory: sessionmaker[Session], row_id: int) -> object:
    with factory() as session:
        row = session.get(Confirmation, row_id)
        assert row is not None
        return row.confirmed_at


def test_confirming_takes_a_post(
    factory: sessionmaker[Session], clock: Clock, sample: Sample
) -> None:
    token, row = _confirmation(factory, ConfirmationKind.POST, clock)
    with browse(factory, clock) as archive:
        shown = archive.get(f"/confirm/{token}")
        assert shown.status_code == 200
        check_structure(shown.text)
        assert "<h1>Bekräfta ditt inlägg</h1>" in shown.text
        assert '<button type="submit">Publicera mitt inlägg</button>' in shown.text
        assert _form_action(shown.text) == f"/confirm/{token}"
        assert "ny.kollega" not in shown.text
        assert _confirmed_at(factory, row) is None  # Safe Links opened it: nothing happened

        clock.advance(minutes=5)
        done = archive.post(f"/confirm/{token}")
        assert done.status_code == 200
        check_structure(done.text)
        assert "<h1>Tack, det är bekräftat</h1>" in done.text
        assert "publiceras i Kost och måltider inom några minuter" in done.text
        assert _confirmed_at(factory, row) == clock()

        clock.advance(minutes=5)
        archive.post(f"/confirm/{token}")
        assert _confirmed_at(factory, row) == clock() - timedelta(minutes=5)
        # Upper case, as some mail programs print links, is the same token.
        assert archive.get(f"/confirm/{token.upper()}").status_code == 200


def test_used_expired_and_unknown_confirmations(
    factory: sessionmaker[Session], clock: Clock, sample: Sample
) -> None:
    joined, _ = _confirmation(
        factory, ConfirmationKind.JOIN, clock, confirmed_at=clock(), applied_at=clock()
    )
    old, old_row = _confirmation(factory, ConfirmationKind.JOIN, clock)
    with browse(factory, clock) as archive:
        used = archive.post(f"/confirm/{joined}")
        assert used.status_code == 200 and "redan klart" in used.text

        clock.advance(days=8)
        for expired in (archive.get(f"/confirm/{old}"), archive.post(f"/confirm/{old}")):
            assert expired.status_code == 410
            assert "<h1>Länken har gått ut</h1>" in expired.text
        assert _confirmed_at(factory, old_row) is None

        for response in (archive.get("/confirm/nej"), archive.post(f"/confirm/{new_token()}")):
            assert response.status_code == 404
            assert "Länken fungerar inte" in response.text
