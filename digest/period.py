"""The two kinds of digest, the span of time each covers, and how they are named in Swedish."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from models import Mode

MONTHS = (
    "januari",
    "februari",
    "mars",
    "april",
    "maj",
    "juni",
    "juli",
    "augusti",
    "september",
    "oktober",
    "november",
    "december",
)


class Period(enum.StrEnum):
    DAILY = "daily"
    WEEKLY = "weekly"

    @property
    def mode(self) -> Mode:
        """The subscription mode whose members get this digest."""
        return Mode.DAILY if self is Period.DAILY else Mode.WEEKLY

    @property
    def days(self) -> int:
        return 1 if self is Period.DAILY else 7

    def earliest_start(self, end: datetime, zone: ZoneInfo) -> datetime:
        """A digest never reaches further back than one day or week of wall-clock time."""
        local = end.astimezone(zone)
        # Arithmetic on a zoneinfo datetime keeps the wall-clock time: 07:00 a day before is
        # 07:00, 23 or 25 hours earlier across a daylight-saving change.
        return (local - timedelta(days=self.days)).astimezone(UTC)


@dataclass(frozen=True)
class Span:
    """[start, end): what arrived from start up to, not including, end."""

    start: datetime
    end: datetime

    def shifted(self, delta: timedelta) -> Span:
        return Span(self.start + delta, self.end + delta)


def swedish_date(moment: datetime, zone: ZoneInfo) -> str:
    """`23 november 2026` in the forum's time zone."""
    local = moment.astimezone(zone)
    return f"{local.day} {MONTHS[local.month - 1]} {local.year}"


def swedish_day(moment: datetime, zone: ZoneInfo) -> str:
    """`23 november` in the forum's time zone."""
    local = moment.astimezone(zone)
    return f"{local.day} {MONTHS[local.month - 1]}"


def swedish_time(moment: datetime, zone: ZoneInfo) -> str:
    """`23 november kl. 07:00` in the forum's time zone."""
    local = moment.astimezone(zone)
    return f"{local.day} {MONTHS[local.month - 1]} kl. {local:%H:%M}"


def title(period: Period, span: Span, zone: ZoneInfo) -> str:
    """`vecka 47` for a weekly digest (the week most of it covers), `24 november` for a daily."""
    if period is Period.WEEKLY:
        middle = (span.start + (span.end - span.start) / 2).astimezone(zone)
        return f"vecka {middle.isocalendar().week}"
    return swedish_day(span.end, zone)
