"""Turn the #hashtags a member writes in a subject or in the new text of a post into tags."""

from __future__ import annotations

import re

__all__ = ["extract_tags"]

# A hashtag starts after the start of the text, whitespace or opening punctuation, never after a
# word character, "&" (HTML entities like "&#229;"), "/" or another "#".
_HASHTAG = re.compile(r"(?<![\w&#/])#([\w-]+)")
_TAG = re.compile(r"[a-z0-9åäö_-]+")
_LETTER = re.compile(r"[a-zåäö]")
_URL = re.compile(r"\b(?:https?://|ftp://|www\.)\S+|\S+@\S+", re.IGNORECASE)
_SPACE_BEFORE_PUNCTUATION = re.compile(r"\s+([,.;:!?)])")
_EDGE_SEPARATORS = " \t:;,|-–—"


def extract_tags(subject: str, body: str) -> tuple[str, tuple[str, ...]]:
    """(subject without its hashtags, tags of subject then body in order of first appearance)."""
    tags: list[str] = []
    clean_subject = _remove_tags(subject, tags)
    for line in body.splitlines():
        if not line.lstrip().startswith(">"):
            _remove_tags(line, tags)
    return clean_subject, tuple(tags)


def _remove_tags(text: str, found: list[str]) -> str:
    """Collect the valid hashtags of `text` into `found`; return `text` without them, tidied."""
    removed = False
    pieces: list[str] = []
    position = 0
    for url in [*_URL.finditer(text), None]:
        stop = len(text) if url is None else url.start()
        segment = text[position:stop]
        kept: list[str] = []
        last = 0
        for match in _HASHTAG.finditer(segment):
            tag = _normalise(match.group(1))
            if tag is None:
                continue
            if tag not in found:
                found.append(tag)
            kept.append(segment[last : match.start()])
            last = match.end()
            removed = True
        kept.append(segment[last:])
        pieces.append("".join(kept))
        if url is not None:
            pieces.append(url.group())
            position = url.end()
    if not removed:
        return " ".join(text.split())
    tidy = _SPACE_BEFORE_PUNCTUATION.sub(r"\1", " ".join("".join(pieces).split()))
    return tidy.strip(_EDGE_SEPARATORS)


def _normalise(raw: str) -> str | None:
    tag = raw.lower().strip("-_")
    if len(tag) < 2 or not _TAG.fullmatch(tag) or not _LETTER.search(tag):
        return None
    return tag
