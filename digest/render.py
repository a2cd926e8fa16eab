"""Render a digest's subject, text and HTML from Jinja2 templates, once for every member.

HTML is autoescaped and text is not; an undefined name is an error, never a blank. The
per-member unsubscribe link is left as UNSUBSCRIBE_URL, for build.py to fill in.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from digest import links
from digest.period import Period, swedish_day, swedish_time, title
from digest.select import DigestContent, Entry
from mailgate.outbound import ListContext

# Stands for the member's own unsubscribe URL; nothing autoescaping touches.
UNSUBSCRIBE_URL = "@@DELAPOST-UNSUBSCRIBE-URL@@"
TEXT_WIDTH = 76
# Outlook's plain view joins "extra" line breaks unless a line starts with two spaces or
# more; every line that must stay a line of its own in the text part starts with INDENT.
INDENT = "   "


@dataclass(frozen=True)
class Item:
    """An entry with its links, as the templates show it."""

    entry: Entry
    url: str
    reply_href: str
    follow_href: str
    date: str


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str


def plural(count: int, one: str, many: str) -> str:
    return f"{count} {one if count == 1 else many}"


def join_sv(parts: Sequence[object]) -> str:
    """`A`, `A och B`, `A, B och C`."""
    words = [str(part) for part in parts]
    if len(words) < 2:
        return "".join(words)
    return ", ".join(words[:-1]) + " och " + words[-1]


def summary(content: DigestContent) -> list[str]:
    parts = []
    if content.new_thread_count:
        parts.append(plural(content.new_thread_count, "ny tråd", "nya trådar"))
    if content.reply_count:
        parts.append(plural(content.reply_count, "nytt svar", "nya svar"))
    return parts


def answered_by(entry: Entry) -> str:
    """`3 nya svar från Erik Nilsson (Göteborgs stad) och Åsa Öberg (Växjö kommun)`."""
    names: list[object] = list(entry.repliers)
    if entry.more_repliers:
        names.append(plural(entry.more_repliers, "person till", "personer till"))
    return f"{plural(entry.replies, 'nytt svar', 'nya svar')} från {join_sv(names)}"


def paragraph(text: str, width: int = TEXT_WIDTH) -> str:
    """Wrapped and indented, so that Outlook keeps the lines as they are."""
    return textwrap.fill(
        text,
        width=width,
        initial_indent=INDENT,
        subsequent_indent=INDENT,
        break_long_words=False,
        break_on_hyphens=False,
    )


def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("digest", "templates"),
        autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["paragraph"] = paragraph
    env.filters["wrap"] = lambda text: textwrap.fill(
        text, width=TEXT_WIDTH, break_long_words=False, break_on_hyphens=False
    )
    env.globals.update(plural=plural, join_sv=join_sv, answered_by=answered_by)
    return env


_ENV = _environment()


def render(
    content: DigestContent,
    *,
    period: Period,
    topic_slug: str,
    topic_name: str,
    lc: ListContext,
    zone: ZoneInfo,
) -> Rendered:
    """The subject and both bodies of one digest."""

    def items(entries: tuple[Entry, ...]) -> list[Item]:
        return [
            Item(
                entry=entry,
                url=links.thread_url(lc, topic_slug, entry.thread_id),
                reply_href=links.reply_link(lc, topic_slug, entry.latest_post_id, entry.subject),
                follow_href=links.follow_link(lc, topic_slug, entry.thread_id),
                date=swedish_day(entry.started_at, zone),
            )
            for entry in entries
        ]

    name = title(period, content.span, zone)
    counts = summary(content)
    subject = f"[{topic_slug}] Sammanfattning {name}: {', '.join(counts)}"
    context = {
        "subject": subject,
        "topic_name": topic_name,
        "title": name,
        "period": period.value,
        "start": swedish_time(content.span.start, zone),
        "end": swedish_time(content.span.end, zone),
        "summary": join_sv(counts),
        "questions": items(content.questions),
        "new_threads": items(content.new_threads),
        "active_threads": items(content.active_threads),
        "more_new_threads": content.more_new_threads,
        "more_active_threads": content.more_active_threads,
        "tags": [(tag, count, links.tag_url(lc, tag)) for tag, count in content.tags],
        "archive_url": links.topic_url(lc, topic_slug),
        "request_address": links.request_address(lc, topic_slug),
        "each_href": links.mode_link(lc, topic_slug, "each"),
        "other_period": "weekly" if period is Period.DAILY else "daily",
        "other_href": links.mode_link(
            lc, topic_slug, "weekly" if period is Period.DAILY else "daily"
        ),
        "unsubscribe_url": UNSUBSCRIBE_URL,
    }
    return Rendered(
        subject=subject,
        text=_ENV.get_template("digest.txt").render(context),
        html=_ENV.get_template("digest.html").render(context),
    )
