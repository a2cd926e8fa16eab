"""Subject normalisation for threading and display, and Outlook's Thread-Index conversation id."""

from __future__ import annotations

import base64
import binascii
import re
import unicodedata

__all__ = ["outlook_conversation_id", "strip_prefixes", "thread_key"]

# Reply/forward markers of Swedish, English, German, Dutch and Nordic clients, with the
# optional counters some clients add ("Re[2]:", "Re(2):", "Re^2:").
_PREFIX = re.compile(
    r"^(?:sv|vb|re|aw|wg|fwd|fw|antw|vs|ref)[ \t]*"
    r"(?:\[\d{1,4}\]|\(\d{1,4}\)|\^\d{1,4})?[ \t]*[:：][ \t]*",
    re.IGNORECASE,
)
_ANY_TAG = re.compile(r"^\[[^\[\]\n]{1,60}\][ \t]*")
# Tags that mail gateways of Swedish organisations stamp on mail from outside.
_GATEWAY_TAG = re.compile(
    r"^\[(?:extern|externt|external|ext|extern avsändare|external sender|extern e-post)\][ \t]*",
    re.IGNORECASE,
)
_ROUNDS = 50  # far more than any real subject; bounds the work on hostile input


def strip_prefixes(subject: str, topic_slug: str | None = None) -> str:
    """The subject without reply/forward prefixes and our "[topic]" tag, whitespace collapsed.

    Without `topic_slug` any leading "[…]" tag goes; with it only "[slug]" and the "[EXTERN]"
    stamps of mail gateways go, so a tag the author wrote ("[Ny rutin] Allergikost") stays.
    """
    text = " ".join(subject.split())
    own_tag = (
        re.compile(rf"^\[{re.escape(topic_slug)}\][ \t]*", re.IGNORECASE) if topic_slug else None
    )
    for _ in range(_ROUNDS):
        before = text
        text = _PREFIX.sub("", text, count=1)
        if own_tag is None:
            text = _ANY_TAG.sub("", text, count=1)
        else:
            text = own_tag.sub("", text, count=1)
            text = _GATEWAY_TAG.sub("", text, count=1)
        if text == before:
            break
    return text.strip()


def thread_key(subject: str, topic_slug: str | None = None) -> str:
    """A case-folded key under which replies and their original subject compare equal."""
    stripped = strip_prefixes(unicodedata.normalize("NFC", subject), topic_slug)
    return " ".join(stripped.casefold().split())


def outlook_conversation_id(thread_index: str | None) -> str | None:
    """The conversation GUID (32 hex digits) of an Outlook Thread-Index header, or None."""
    if not thread_index or not isinstance(thread_index, str):
        return None
    compact = "".join(thread_index.split())
    try:
        raw = base64.b64decode(compact + "=" * (-len(compact) % 4), validate=True)
    except (binascii.Error, ValueError):
        return None
    # 22-byte header (1 reserved byte, 5 bytes of time, 16 bytes of GUID) + 5 bytes per reply.
    if len(raw) < 22 or (len(raw) - 22) % 5:
        return None
    guid = raw[6:22]
    if not any(guid):
        return None
    return guid.hex()
