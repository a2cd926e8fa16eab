"""The Jinja environment and the filters pages use: Swedish dates, file sizes, hidden addresses."""

from __future__ import annotations

from datetime import datetime, tzinfo
from functools import lru_cache
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from babel.dates import format_datetime
from babel.numbers import format_decimal
from jinja2 import Environment, PackageLoader, StrictUndefined
from starlette.responses import HTMLResponse

from archive_web.privacy import mask_private

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


FILE_KINDS = {
    "application/pdf": "PDF",
    "application/msword": "Word-dokument",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "Word-dokument",
    "application/vnd.ms-excel": "Excel-kalkylblad",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "Excel-kalkylblad",
    "application/vnd.ms-powerpoint": "PowerPoint-presentation",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation": (
        "PowerPoint-presentation"
    ),
    "application/vnd.oasis.opendocument.text": "OpenDocument-text",
    "application/vnd.oasis.opendocument.spreadsheet": "OpenDocument-kalkylblad",
    "application/zip": "ZIP-arkiv",
    "image/jpeg": "JPEG-bild",
    "image/png": "PNG-bild",
    "image/gif": "GIF-bild",
    "text/plain": "textfil",
    "text/csv": "CSV-fil",
    "text/calendar": "kalenderfil",
}


def kind_of_file(content_type: str) -> str:
    """`application/pdf` → `PDF`: what a reader calls the file; the type itself otherwise."""
    media_type = content_type.split(";", 1)[0].strip().lower()
    return FILE_KINDS.get(media_type, media_type or "okänd filtyp")


def downloads(count: int) -> str:
    return f"hämtad {count} {'gång' if count == 1 else 'gånger'}"


@lru_cache(maxsize=4096)
def path_segment(value: object) -> str:
    """One URL path segment: `Meny vecka 47.pdf` → `Meny%20vecka%2047.pdf`."""
    return quote(str(value), safe="")


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
            # Templates ship with the code: no stat() of every template on every render.
            auto_reload=False,
        )
        self.env.filters["mask"] = mask_private
        self.env.filters["kind_of_file"] = kind_of_file
        self.env.filters["downloads"] = downloads
        self.env.filters["sv_datetime"] = lambda value: swedish_datetime(value, zone)
        self.env.filters["iso_datetime"] = lambda value: iso_datetime(value, zone)
        self.env.filters["human_size"] = human_size
        self.env.filters["path_segment"] = path_segment
        self.env.globals.update(
            prefix=prefix,
            robots_index=robots_index,
            list_domain=list_domain,
        )

    def render(self, template: str, **context: Any) -> str:
        return self.env.get_template(template).render(**context)

    def page(self, template: str, *, status_code: int = 200, **context: Any) -> HTMLResponse:
        return HTMLResponse(self.render(template, **context), status_code=status_code)
