"""The first lines of what someone newly wrote: never quoted text, never a whole post."""

from __future__ import annotations

import re

MAX_LINES = 3
MAX_CHARS = 240

# A greeting alone on the first line says nothing in a digest: "Hej alla,", "Hej Anna!".
_GREETING = re.compile(
    r"^(hej|hejsan|hallå|god ?morgon|goddag|tjena|hi|hello|dear)(\s+[\w-]+){0,3}\s*[,!.:]?$",
    re.IGNORECASE,
)
# Outlook's header block above a quote, when a reply was not trimmed.
_QUOTE_HEADER = re.compile(r"^(från|from|skickat|sent|till|to|ämne|subject):\s", re.IGNORECASE)


def first_lines(text: str, *, max_lines: int = MAX_LINES, max_chars: int = MAX_CHARS) -> str:
    """Up to `max_lines` lines of `text` as one paragraph, cut at a word within `max_chars`.

    A greeting alone on the first line is left out, and so is everything from the first
    quoted line on. " …" ends the paragraph when the post goes on.
    """
    kept: list[str] = []
    more = False
    for raw in text.splitlines():
        line = " ".join(raw.split())
        if line.startswith(">") or _QUOTE_HEADER.match(line):
            break  # quoted history starts here; nothing after it is new
        if not line or (not kept and _GREETING.match(line)):
            continue
        if len(kept) == max_lines:
            more = True
            break
        kept.append(line)
    paragraph = " ".join(kept)
    if len(paragraph) > max_chars:
        cut = paragraph.rfind(" ", 0, max_chars)
        paragraph = paragraph[: cut if cut > max_chars // 2 else max_chars].rstrip(" ,;:–-")
        more = True
    return paragraph + " …" if more else paragraph
