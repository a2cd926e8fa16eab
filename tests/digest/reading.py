"""How mail programs read a digest: parts, links, headings, and Outlook's plain view."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default
from html.parser import HTMLParser

_SENTENCE_END = re.compile(r"[.?!:]$")


def parse(data: bytes) -> EmailMessage:
    message = message_from_bytes(data, policy=default)
    assert isinstance(message, EmailMessage)
    return message


def parts(message: EmailMessage) -> tuple[str, str]:
    """(text, html) of a multipart/alternative digest."""
    text = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert text is not None and html is not None
    return str(text.get_content()), str(html.get_content())  # type: ignore[attr-defined]


@dataclass
class Page(HTMLParser):
    """The outline of an HTML part: tags used, headings, links with their text, lang."""

    tags: set[str] = field(default_factory=set)
    headings: list[tuple[str, str]] = field(default_factory=list)
    links: list[tuple[str, str]] = field(default_factory=list)  # (text, href)
    lang: str | None = None
    _open: list[tuple[str, str, list[str]]] = field(default_factory=list)

    def __post_init__(self) -> None:
        super().__init__()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        values = dict(attrs)
        if tag == "html":
            self.lang = values.get("lang")
        if tag in {"h1", "h2", "h3", "a"}:
            self._open.append((tag, values.get("href") or "", []))

    def handle_data(self, data: str) -> None:
        for _, _, texts in self._open:
            texts.append(data)

    def handle_endtag(self, tag: str) -> None:
        if self._open and self._open[-1][0] == tag:
            name, href, texts = self._open.pop()
            words = " ".join("".join(texts).split())
            if name == "a":
                self.links.append((words, href))
            else:
                self.headings.append((name, words))


def outline(html: str) -> Page:
    page = Page()
    page.feed(html)
    return page


def outlook_joins(text: str) -> list[str]:
    """Lines Outlook's "remove extra line breaks" would run into the line before them.

    The rule as observed: a line of 40 characters or more turns joining on, unless it ends
    a sentence (. ? ! :); a line starting with two spaces or a tab, or ending with one, is
    never joined and turns joining off; a blank line ends the paragraph.
    """
    joined = []
    joining = False
    for line in text.splitlines():
        if not line.strip():
            joining = False
            continue
        kept = line.startswith(("  ", "\t")) or line.endswith(("\t", "   "))
        if joining and not kept:
            joined.append(line)
        if kept or _SENTENCE_END.search(line.rstrip()):
            joining = False
        elif len(line) >= 40:
            joining = True
    return joined
