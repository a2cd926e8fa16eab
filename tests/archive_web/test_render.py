"""The small pure helpers behind the pages: masking, Swedish dates and file sizes."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from archive_web.downloads import content_disposition, safe_content_type
from archive_web.highlight import highlight, snippet
from archive_web.mbox import mboxrd_quote
from archive_web.privacy import PHONE_MASK, mask_emails, mask_private
from archive_web.render import human_size, iso_datetime, swedish_datetime
from models.search import query_stems

STOCKHOLM = ZoneInfo("Europe/Stockholm")


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("Mejla anna@molndal.se.", "Mejla anna@…."),
        ("Från: Åsa <åsa.öberg@växjö.se>", "Från: Åsa <åsa.öberg@…>"),
        ("mailto:kost+svar@kommun.example.se?subject=x", "mailto:kost+svar@…?subject=x"),
        ("a@b.se, c@d.se", "a@…, c@…"),
        ("Twitter: @skolmat och kl. 10@lunch", "Twitter: @skolmat och kl. 10@lunch"),
        ("Ingen adress här.", "Ingen adress här."),
    ],
)
def test_addresses_in_text_are_masked(text: str, shown: str) -> None:
    assert mask_emails(text) == shown


def test_dates_are_swedish_and_in_the_forums_time_zone() -> None:
    winter = datetime(2026, 3, 3, 9, 12, tzinfo=UTC)
    summer = datetime(2026, 7, 1, 22, 30, tzinfo=UTC)
    assert swedish_datetime(winter, STOCKHOLM) == "3 mars 2026 kl. 10:12"
    assert swedish_datetime(summer, STOCKHOLM) == "2 juli 2026 kl. 00:30"
    assert iso_datetime(summer, STOCKHOLM) == "2026-07-02T00:30+02:00"


@pytest.mark.parametrize(
    ("size", "shown"),
    [
        (0, "0 byte"),
        (1023, "1023 byte"),
        (1536, "1,5 kB"),
        (3 * 1024 * 1024, "3 MB"),
        (int(4.25 * 1024**3), "4,2 GB"),
        (2 * 1024**4, "2\xa0048 GB"),
    ],
)
def test_sizes_are_human_and_swedish(size: int, shown: str) -> None:
    assert human_size(size) == shown


@pytest.mark.parametrize(
    "phone",
    [
        "031-123 45 67",
        "070-123 45 67",
        "+46 70 123 45 67",
        "08-123 456 78",
        "0701234567",
        "070-1234567",
        "+46 (0)31-123 45 67",
        "0046 8 123 456 78",
        "031 - 123 45 67",
        "0470-12 34 56",
        "(08) 123 456 78",
        "+46701234567",
    ],
)
def test_phone_numbers_are_masked(phone: str) -> None:
    assert mask_private(f"Ring mig på {phone}, tack.") == f"Ring mig på {PHONE_MASK}, tack."
    assert (
        mask_private(f"Tel: {phone}\nMobil: {phone}") == f"Tel: {PHONE_MASK}\nMobil: {PHONE_MASK}"
    )


@pytest.mark.parametrize(
    "kept",
    [
        "Mötet är 2026-11-23 kl. 10:12.",
        "Se ärende KS 2024/123 och Dnr 0123/24.",
        "Postadress 431 80 Mölndal.",
        "Datum 05-11-2026, vecka 47 2026.",
        "Organisationsnummer 212000-1355.",
        "Beställning 12345678, 1 234 567 kr, 09.00-10.30, 0,5 kg.",
    ],
)
def test_dates_and_case_numbers_are_kept(kept: str) -> None:
    assert mask_private(kept) == kept


def test_one_number_masked_beside_a_date_and_personal_numbers() -> None:
    assert mask_private("Ring 031-123 45 67 2026-11-23") == f"Ring {PHONE_MASK} 2026-11-23"
    assert mask_private("Pnr 19800101-1234") == "Pnr [personnummer dolt]"


def test_hits_are_marked_after_everything_is_escaped() -> None:
    terms = query_stems("måltid")
    assert str(highlight("<b>Måltiderna</b> & måltid", terms)) == (
        "&lt;b&gt;<mark>Måltiderna</mark>&lt;/b&gt; &amp; <mark>måltid</mark>"
    )
    long = " ".join(f"ord{n}" for n in range(60)) + " en måltid " + "slut " * 40
    shown = str(snippet(long, terms))
    assert shown.startswith("… ") and shown.endswith(" …") and "en <mark>måltid</mark>" in shown
    assert len(shown.split()) < 40


def test_mboxrd_quotes_every_from_line_once_more() -> None:
    message = b"Subject: x\n\nFrom here\n>From there\n>>From far\nNot From\n"
    assert mboxrd_quote(message) == (
        b"Subject: x\n\n>From here\n>>From there\n>>>From far\nNot From\n"
    )


def test_downloads_name_themselves_and_never_run() -> None:
    assert content_disposition("Måltidsplan 2027.pdf") == (
        'attachment; filename="Maltidsplan 2027.pdf"; '
        "filename*=UTF-8''M%C3%A5ltidsplan%202027.pdf"
    )
    assert content_disposition('a"b\\c\r\n.txt') == (
        "attachment; filename=\"a_b_c.txt\"; filename*=UTF-8''a%22b%5Cc.txt"
    )
    assert safe_content_type("application/PDF; name=x.pdf") == "application/pdf"
    for risky in ("text/html", "image/svg+xml", "application/xhtml+xml", "text/xml", "x"):
        assert safe_content_type(risky) == "application/octet-stream"
