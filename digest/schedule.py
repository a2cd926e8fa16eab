"""When digests go out: APScheduler 3 cron jobs in the forum's time zone, plus a catch-up job.

The jobs live in memory; what persists is our own record of every run (DigestRun). A job
that fires, the catch-up at start-up and the catch-up every CATCH_UP_EVERY all do the same
thing: for each topic, if its last digest ended before the latest scheduled time, send one
digest up to that time (and finish any run a crash left half done). So a run missed during
downtime is sent once on start-up, never skipped and never repeated. We chose this over
APScheduler's SQLAlchemyJobStore: that store pickles jobs that must stay importable by
reference, is not safe to share between processes, and would still not tell us what each
digest covered; the DigestRun rows already do.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast
from zoneinfo import ZoneInfo

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger

from digest.period import Period

log = logging.getLogger("delapost.digest")

SendDigests = Callable[[str], Awaitable[None]]

# A cron run missed while the loop was busy still runs once, within this time; longer
# downtime is the catch-up job's to handle, from the DigestRun records.
MISFIRE_GRACE_SECONDS = 3600
CATCH_UP_EVERY = timedelta(minutes=15)
_ONE_MICROSECOND = timedelta(microseconds=1)


@dataclass(frozen=True)
class DigestSchedule:
    """The weekly and daily send times as cron triggers in one time zone."""

    zone: ZoneInfo
    weekly: Any  # CronTrigger; APScheduler 3 ships no type hints
    daily: Any

    @classmethod
    def of(
        cls, timezone: str, weekly: tuple[str, int, int], daily: tuple[int, int]
    ) -> DigestSchedule:
        zone = ZoneInfo(timezone)
        day, hour, minute = weekly
        return cls(
            zone,
            CronTrigger(day_of_week=day, hour=hour, minute=minute, timezone=zone),
            CronTrigger(hour=daily[0], minute=daily[1], timezone=zone),
        )

    def trigger(self, period: Period) -> Any:
        return self.weekly if period is Period.WEEKLY else self.daily

    def next_fire(self, period: Period, after: datetime) -> datetime:
        """The first scheduled time strictly after `after`."""
        trigger = self.trigger(period)
        start = after + _ONE_MICROSECOND
        return cast(datetime, trigger.get_next_fire_time(after, start))

    def latest_fire(self, period: Period, now: datetime) -> datetime:
        """The last scheduled time at or before `now`."""
        trigger = self.trigger(period)
        # Two periods back is always far enough, even across a daylight-saving change.
        moment = now - timedelta(days=2 * period.days + 1)
        latest = cast(datetime, trigger.get_next_fire_time(None, moment))
        while True:
            following = self.next_fire(period, latest)
            if following > now:
                return latest
            latest = following


def make_scheduler(
    schedule: DigestSchedule,
    send: SendDigests,
    *,
    catch_up_every: timedelta = CATCH_UP_EVERY,
) -> AsyncIOScheduler:
    """A scheduler (not started) with the weekly and daily jobs and the catch-up job.

    The catch-up job runs as soon as the scheduler starts and then every `catch_up_every`.
    """
    scheduler = AsyncIOScheduler(timezone=schedule.zone)
    common: dict[str, Any] = {
        "coalesce": True,
        "max_instances": 1,
        "misfire_grace_time": MISFIRE_GRACE_SECONDS,
    }
    for period in Period:
        scheduler.add_job(
            send,
            schedule.trigger(period),
            args=[period.value],
            id=f"digest-{period.value}",
            name=f"{period.value} digest",
            **common,
        )

    async def catch_up() -> None:
        for period in Period:
            await send(period.value)

    scheduler.add_job(
        catch_up,
        "interval",
        seconds=catch_up_every.total_seconds(),
        next_run_time=datetime.now(schedule.zone),
        id="digest-catch-up",
        name="digest catch-up",
        **common,
    )
    return scheduler
