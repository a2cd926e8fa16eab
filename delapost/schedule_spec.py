"""Parse the digest times in settings: `mon 07:00` for weekly, `07:00` for daily."""

from __future__ import annotations

import re

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_TIME = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")


def parse_daily(value: str) -> tuple[int, int]:
    match = _TIME.match(value.strip())
    if not match:
        raise ValueError(f"expected HH:MM, got {value!r}")
    return int(match[1]), int(match[2])


def parse_weekly(value: str) -> tuple[str, int, int]:
    parts = value.strip().lower().split()
    if len(parts) != 2 or parts[0][:3] not in DAYS:
        raise ValueError(f"expected a weekday and HH:MM like 'mon 07:00', got {value!r}")
    hour, minute = parse_daily(parts[1])
    return parts[0][:3], hour, minute
