"""Search hits marked in text: everything escaped first, then each hit wrapped in <mark>."""

from __future__ import annotations

import re
from collections.abc import Collection

from markupsafe import Markup, escape

from models.search import STOP_WORDS, stem, words

SNIPPET_WORDS = 32
WORDS_BEFORE_HIT = 10
_SPACE = re.compile(r"\s+")


def _is_hit(word: str, terms: Collection[str]) -> bool:
    folded = word.casefold()
    return folded not in STOP_WORDS and stem(folded) in terms


def highlight(text: str, terms: Collection[str]) -> Markup:
    """All of `text`, escaped, with the words whose stems were searched for marked."""
    parts: list[str] = []
    position = 0
    for match in words(text):
        if _is_hit(match.group(), terms):
            parts += [escape(text[position : match.start()]), _mark(match.group())]
            position = match.end()
    parts.append(escape(text[position:]))
    return Markup("".join(parts))


def snippet(text: str, terms: Collection[str], size: int = SNIPPET_WORDS) -> Markup:
    """About `size` words of `text` on one line around its first hit, marked and escaped."""
    flat = _SPACE.sub(" ", text).strip()
    found = list(words(flat))
    if not found:
        return Markup("")
    first_hit = next((n for n, m in enumerate(found) if _is_hit(m.group(), terms)), 0)
    start = max(0, min(first_hit - WORDS_BEFORE_HIT, len(found) - size))
    end = min(len(found), start + size)
    begin_at = found[start].start() if start > 0 else 0
    end_at = found[end - 1].end() if end < len(found) else len(flat)
    shown = highlight(flat[begin_at:end_at], terms)
    before = "… " if begin_at > 0 else ""
    after = " …" if end_at < len(flat) else ""
    return Markup(before) + shown + Markup(after)


def _mark(word: str) -> Markup:
    return Markup("<mark>{}</mark>").format(word)
