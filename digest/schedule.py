"""When digests go out: APScheduler 3 cron jobs in the forum's time zone."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from zoneinfo import ZoneInfo

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger

log = logging.getLogger("delapost.digest")

SendDigests = Callable[[str], Awaitable[None]]

# A run missed while the forum was down is still sent on start-up, once, within this time.
MISFIRE_GRACE_SECONDS = 7 * 24 * 3600


def make_scheduler(
    *,
    timezone: str,
    weekly: tuple[str, int, int],
    daily: tuple[int, int],
    send: SendDigests,
) -> AsyncIOScheduler:
    """A scheduler (not started) with the weekly and the daily digest job."""
    zone = ZoneInfo(timezone)
    scheduler = AsyncIOScheduler(timezone=zone)
    day, hour, minute = weekly
    common = {"coalesce": True, "max_instances": 1, "misfire_grace_time": MISFIRE_GRACE_SECONDS}
    scheduler.add_job(
        send,
        CronTrigger(day_of_week=day, hour=hour, minute=minute, timezone=zone),
        args=["weekly"],
        id="digest-weekly",
        name="weekly digest",
        **common,
    )
    hour, minute = daily
    scheduler.add_job(
        send,
        CronTrigger(hour=hour, minute=minute, timezone=zone),
        args=["daily"],
        id="digest-daily",
        name="daily digest",
        **common,
    )
    return scheduler
