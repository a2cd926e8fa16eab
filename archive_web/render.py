"""The Jinja environment and the filters pages use: Swedish dates, file sizes, hidden addresses."""

from __future__ import annotations

from datetime import datetime, tzinfo
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from babel.dates import format_datetime
from babel.numbers import format_decimal
from jinja2 import Environment, PackageLoader, StrictUndefined
from starlette.responses import HTMLResponse

from archive_web.privacy import mask_emails

LOCALE = "sv_SE"
DATE_FORMAT = "d MMMM y 'kl.' HH:mm"


def swedish_datetime(value: datetime, zone: tzinfo) -> str:
    """`3 mars 2026 kl. 10:12`, in the forum's time zone."""
    return str(format_datetime(value, DATE_FORMAT, tzinfo=zone, locale=LOCALE))


def iso_datetime(value: datetime, zone: tzinfo) -> str:
    """The machine-readable form for `<time datetime=…>`."""
    return value.astimezone(zone).isoformat(timespec="minutes")


def human_size(size: int) -> str:
    """`512 byte`, `12,3 kB`, `4,5 MB` with Swedish decimal commas."""
    if size < 1024:
        return f"{size} byte"
    value = float(size)
    for unit in ("kB", "MB", "GB"):
        value /= 1024
        if value < 1024 or unit == "GB":
            break
    return f"{format_decimal(value, format='#,##0.#', locale=LOCALE)} {unit}"


class Renderer:
    """Renders the archive's templates with autoescaping and no silent blanks."""

    def __init__(self, *, timezone: str, prefix: str, robots_index: bool, list_domain: str) -> None:
        zone = ZoneInfo(timezone)
        self.env = Environment(
            loader=PackageLoader("archive_web", "templates"),
            autoescape=True,
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.env.filters["mask_emails"] = mask_emails
        self.env.filters["sv_datetime"] = lambda value: swedish_datetime(value, zone)
        self.env.filters["iso_datetime"] = lambda value: iso_datetime(value, zone)
        self.env.filters["human_size"] = human_size
        self.env.filters["path_segment"] = lambda value: quote(str(value), safe="")
        self.env.globals.update(
            prefix=prefix,
            robots_index=robots_index,
            list_domain=list_domain,
        )

    def render(self, template: str, **context: Any) -> str:
        return self.env.get_template(template).render(**context)

    def page(self, template: str, *, status_code: int = 200, **context: Any) -> HTMLResponse:
        return HTMLResponse(self.render(template, **context), status_code=status_code)
