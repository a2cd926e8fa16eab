"""Attachments handed out as downloads: counted, never sniffed, never shown inline."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from urllib.parse import quote

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from archive_web.privacy import mask_private
from archive_web.queries import MAX_ID
from models import Attachment, Blob

# Types a browser will not run as a page or script even if it did open them; anything else
# (text/html, image/svg+xml, application/xhtml+xml, text/xml, scripts) is sent as bytes.
SAFE_TYPES = frozenset(
    {
        "application/pdf",
        "application/zip",
        "application/msword",
        "application/rtf",
        "application/vnd.ms-excel",
        "application/vnd.ms-powerpoint",
        "application/vnd.oasis.opendocument.presentation",
        "application/vnd.oasis.opendocument.spreadsheet",
        "application/vnd.oasis.opendocument.text",
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "audio/mpeg",
        "image/gif",
        "image/jpeg",
        "image/png",
        "image/webp",
        "text/calendar",
        "text/csv",
        "text/plain",
        "video/mp4",
    }
)
FALLBACK_TYPE = "application/octet-stream"
_ASCII_FALLBACK = re.compile(r"[^A-Za-z0-9 ._()+-]")


@dataclass(frozen=True)
class Download:
    filename: str
    content_type: str
    data: bytes


def safe_content_type(stored: str) -> str:
    """The stored type when it is one we trust, without parameters; else plain bytes."""
    media_type = stored.split(";", 1)[0].strip().lower()
    if media_type not in SAFE_TYPES:
        return FALLBACK_TYPE
    return f"{media_type}; charset=utf-8" if media_type.startswith("text/") else media_type


def content_disposition(filename: str) -> str:
    """RFC 6266: an ASCII `filename` for old clients and `filename*` with the real name.

    `Måltidsplan 2027.pdf` → `attachment; filename="Maltidsplan 2027.pdf";
    filename*=UTF-8''M%C3%A5ltidsplan%202027.pdf`.
    """
    name = "".join(ch for ch in filename if unicodedata.category(ch)[0] != "C") or "bilaga"
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    ascii_name = _ASCII_FALLBACK.sub("_", ascii_name).strip() or "bilaga"
    encoded = quote(name, safe="")
    if ascii_name == name:
        return f'attachment; filename="{ascii_name}"'
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{encoded}"


def public_name(filename: str) -> str:
    """The name the archive shows and links by: an address or phone number in it is masked."""
    return mask_private(filename)


def fetch(session: Session, attachment_id: int, filename: str, *, count: bool) -> Download | None:
    """The attachment with this id and (public) name; counts one download when `count`.

    The count goes up in the database itself (`download_count + 1`), so concurrent
    downloads are never lost; the caller commits.
    """
    if not 0 < attachment_id <= MAX_ID:
        return None
    row = session.execute(
        select(Attachment.filename, Attachment.content_type, Blob.data)
        .join(Blob, Blob.sha256 == Attachment.blob_sha256)
        .where(Attachment.id == attachment_id)
    ).first()
    if row is None or public_name(row.filename) != filename:
        return None
    if count:
        session.execute(
            update(Attachment)
            .where(Attachment.id == attachment_id)
            .values(download_count=Attachment.download_count + 1)
        )
    return Download(
        filename=public_name(row.filename), content_type=row.content_type, data=row.data
    )
