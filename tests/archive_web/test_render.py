"""The small pure helpers behind the pages: masking, Swedish dates and file sizes."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from archive_web.privacy import mask_emails
from archive_web.render import human_size, iso_datetime, swedish_datetime

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
