"""Structural checks a screen-reader user relies on, read from a page's HTML."""

from __future__ import annotations

import re
from html.parser import HTMLParser


class Outline(HTMLParser):
    """The parts of a page that matter for navigation: landmarks, headings, links, ids."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.lang: str | None = None
        self.headings: list[int] = []
        self.ids: list[str] = []
        self.links: list[tuple[str, str]] = []
        self.times: list[str] = []
        self.inline_styles = 0
        self._link_text: list[str] | None = None
        self._href = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        self.tags.append(tag)
        if tag == "html":
            self.lang = attributes.get("lang")
        if attributes.get("id"):
            self.ids.append(attributes["id"] or "")
        if "style" in attributes:
            self.inline_styles += 1
        if re.fullmatch(r"h[1-6]", tag):
            self.headings.append(int(tag[1]))
        if tag == "a":
            self._link_text, self._href = [], attributes.get("href") or ""
        if tag == "time":
            self.times.append(attributes.get("datetime") or "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self._link_text is not None:
            self.links.append((self._href, " ".join("".join(self._link_text).split())))
            self._link_text = None

    def handle_data(self, data: str) -> None:
        if self._link_text is not None:
            self._link_text.append(data)


def check_structure(page: str) -> Outline:
    """Assert the WCAG basics every archive page promises; return the outline for more checks."""
    outline = Outline()
    outline.feed(page)
    assert outline.lang == "sv"
    for landmark in ("header", "nav", "main", "footer"):
        assert landmark in outline.tags, landmark
    assert outline.headings[:1] == [1] and outline.headings.count(1) == 1, outline.headings
    for before, after in zip(outline.headings, outline.headings[1:], strict=False):
        assert after <= before + 1, f"heading level jumps from {before} to {after}"
    assert outline.links[0] == ("#innehall", "Hoppa till innehållet")
    assert all(text for _, text in outline.links), outline.links
    for href, _ in outline.links:
        if href.startswith("#"):
            assert href[1:] in outline.ids, href
    assert len(outline.ids) == len(set(outline.ids)), "duplicate ids"
    assert ("/tillganglighet", "Tillgänglighetsredogörelse") in outline.links
    assert "script" not in outline.tags and "style" not in outline.tags
    assert outline.inline_styles == 0
    return outline
