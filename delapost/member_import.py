"""`delapost member import`: move an existing mailing list's members over from a CSV file."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from delapost.admin import AdminError, add_member, find_topic
from models import Member, Mode, Subscription


@dataclass(frozen=True)
class Row:
    line: int
    email: str
    name: str
    mode: Mode | None
    problem: str = ""  # why the row cannot be imported as written


@dataclass
class Summary:
    added: int = 0
    changed: int = 0
    unchanged: int = 0
    refused: list[tuple[int, str, str]] = field(default_factory=list)  # line, email, reason


def read_rows(path: Path) -> list[Row]:
    """The CSV's rows: columns email, name and optionally mode; `,` or `;`, with or without BOM."""
    try:
        content = path.read_text("utf-8-sig")
    except FileNotFoundError:
        raise AdminError(f"{path}: no such file") from None
    except UnicodeDecodeError:
        raise AdminError(f"{path}: not UTF-8; save it as CSV UTF-8") from None
    first_line = content.split("\n", 1)[0]
    # Swedish spreadsheet programs save CSV with semicolons.
    delimiter = ";" if first_line.count(";") > first_line.count(",") else ","
    reader = csv.DictReader(io.StringIO(content), delimiter=delimiter)
    columns = {c.strip().lower() for c in reader.fieldnames or []}
    if not {"email", "name"} <= columns:
        raise AdminError(f"{path}: needs the columns email and name (and optionally mode)")
    modes = {m.value: m for m in Mode}
    rows = []
    for number, raw in enumerate(reader, start=2):
        values = {(k or "").strip().lower(): (v or "").strip() for k, v in raw.items()}
        mode_text = values.get("mode", "").lower()
        problem = "" if not mode_text or mode_text in modes else f"unknown mode {mode_text!r}"
        rows.append(
            Row(
                number,
                values.get("email", ""),
                values.get("name", ""),
                modes.get(mode_text),
                problem,
            )
        )
    return rows


def _state(session: Session, email: str, topic_id: int) -> tuple[str | None, Mode | None]:
    member = session.scalar(select(Member).where(Member.email == email.strip().lower()))
    if member is None:
        return None, None
    mode = session.scalar(
        select(Subscription.mode).where(
            Subscription.member_id == member.id,
            Subscription.topic_id == topic_id,
            Subscription.ended_at.is_(None),
        )
    )
    return member.name, mode


def import_members(
    session: Session,
    rows: Iterable[Row],
    topic_slug: str,
    now: datetime,
    *,
    non_staff_prefixes: tuple[str, ...] = (),
    on_row: Callable[[], object] = lambda: None,
) -> Summary:
    """Add each row as a confirmed member of the topic; `on_row` is called after each row.

    No confirmation mail goes out: the administrator vouches for the list. A row that is
    already there as it stands changes nothing, so running the import twice is harmless.
    """
    topic = find_topic(session, topic_slug)
    summary = Summary()
    seen: set[str] = set()
    for row in rows:
        email = row.email.strip().lower()
        if row.problem:
            summary.refused.append((row.line, row.email, row.problem))
        elif email in seen:
            summary.refused.append((row.line, row.email, "appears twice in the file"))
        else:
            seen.add(email)
            before = _state(session, email, topic.id)
            wanted_mode = row.mode or before[1] or topic.default_mode
            try:
                with session.begin_nested():
                    add_member(
                        session,
                        email,
                        row.name,
                        now,
                        topic_slug=topic_slug,
                        mode=wanted_mode,
                        non_staff_prefixes=non_staff_prefixes,
                    )
            except AdminError as exc:
                summary.refused.append((row.line, row.email, str(exc)))
            else:
                if before[0] is None and before[1] is None:
                    summary.added += 1
                elif before == (row.name.strip() or before[0], wanted_mode):
                    summary.unchanged += 1
                else:
                    summary.changed += 1
        on_row()
    return summary
