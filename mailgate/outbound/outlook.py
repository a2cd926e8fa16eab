"""Outlook's Thread-Index on our copies, so that Outlook files a thread as one conversation."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence
from datetime import UTC, datetime

# FILETIME counts 100-nanosecond steps since 1601-01-01 (MS-DTYP 2.3.3).
_EPOCH = datetime(1601, 1, 1, tzinfo=UTC)
_SHORT_DELTA = 1 << 49  # below this a child block keeps delta >> 18, else delta >> 23


def conversation_guid(conversation_id: str | None, list_domain: str, thread_id: int) -> bytes:
    """The thread's 16-byte GUID: Outlook's own when the thread began in Outlook, else derived."""
    if conversation_id:
        try:
            guid = bytes.fromhex(conversation_id)
        except ValueError:
            guid = b""
        if len(guid) == 16:
            return guid
    return hashlib.sha256(f"delapost thread {thread_id}@{list_domain}".encode()).digest()[:16]


def thread_index(guid: bytes, started: datetime, replies: Sequence[datetime] = ()) -> str:
    """The Thread-Index of a post: the thread's header block, then one block per reply level.

    MS-OXOMSG 2.2.1.3: a 22-byte header (0x01, five bytes of the start time, the GUID), then
    for each reply down to this post five bytes of time since the start. `replies` are the
    times of the replies on the way from the thread's first post to this one, this one last.
    """
    if len(guid) != 16:
        raise ValueError("a conversation GUID has 16 bytes")
    start = _filetime(started) & ~0xFFFF  # the header keeps only the top six of eight bytes
    index = bytearray(start.to_bytes(8, "big")[:6])
    index[0] = 0x01
    index += guid
    for when in replies:
        delta = max(0, _filetime(when) - start)
        if delta < _SHORT_DELTA:
            block = (delta >> 18) & 0x7FFFFFFF
        else:
            block = 0x80000000 | ((delta >> 23) & 0x7FFFFFFF)
        index += block.to_bytes(4, "big") + b"\x00"  # random and sequence nibbles: none
    return base64.b64encode(bytes(index)).decode("ascii")


def _filetime(when: datetime) -> int:
    delta = when.astimezone(UTC) - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 10_000_000 + delta.microseconds * 10
