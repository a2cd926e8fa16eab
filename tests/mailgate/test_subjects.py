"""Subjects as members see them, and how replies find their thread."""

from __future__ import annotations

import base64
import uuid

import pytest

from mailgate.subjects import outlook_conversation_id, strip_prefixes, thread_key


@pytest.mark.parametrize(
    ("subject", "expected"),
    [
        ("SV: VB: [kost] Frånvaro i köket", "Frånvaro i köket"),
        ("Sv: sv: SV: Frånvaro i köket", "Frånvaro i köket"),
        ("Re: RE: Fwd: FW: Fw: Meny vecka 12", "Meny vecka 12"),
        ("AW: WG: Antw: VS: Ref: Allergikost", "Allergikost"),
        ("Re[2]: Re(3): Re^4: Allergikost", "Allergikost"),
        ("SV:VB:Allergikost", "Allergikost"),
        ("Re : Allergikost", "Allergikost"),
        ("[kost] SV: [kost] Re: Frånvaro i köket", "Frånvaro i köket"),
        ("  SV:   Frånvaro \t i\n köket  ", "Frånvaro i köket"),
        ("Vb: Sv: Sverige har nya kostråd", "Sverige har nya kostråd"),
        ("Svar på enkäten", "Svar på enkäten"),
        ("Reflektioner från mötet", "Reflektioner från mötet"),
        ("Frånvaro i köket: vad gör ni?", "Frånvaro i köket: vad gör ni?"),
        ("SV:", ""),
        ("", ""),
    ],
)
def test_strip_prefixes(subject: str, expected: str) -> None:
    assert strip_prefixes(subject) == expected


def test_without_a_slug_any_leading_tag_goes() -> None:
    assert strip_prefixes("SV: [EXTERN] [kost] Frånvaro i köket") == "Frånvaro i köket"


def test_with_a_slug_only_our_tag_and_gateway_stamps_go() -> None:
    assert strip_prefixes("SV: [EXTERN] [Kost] Frånvaro", topic_slug="kost") == "Frånvaro"
    assert strip_prefixes("[kost] [Ny rutin] Allergikost", topic_slug="kost") == (
        "[Ny rutin] Allergikost"
    )


def test_slug_with_regex_characters_is_taken_literally() -> None:
    assert strip_prefixes("Re: [a.b] X", topic_slug="a.b") == "X"
    assert strip_prefixes("Re: [axb] X", topic_slug="a.b") == "[axb] X"


def test_thread_key_matches_replies_to_the_original() -> None:
    original = thread_key("[kost] Frånvaro i köket", "kost")
    assert thread_key("SV: VB: [kost] FRÅNVARO  i köket", "kost") == original
    assert thread_key("Re: frånvaro i köket") == original
    assert thread_key("Frånvaro i skolan") != original


def test_thread_key_ignores_unicode_composition() -> None:
    decomposed = "Fra\u030anvaro i köket"  # "å" written as a + combining ring
    assert thread_key(decomposed) == thread_key("Fr\u00e5nvaro i köket")


def _thread_index(guid: uuid.UUID, replies: int = 0) -> str:
    # 1 reserved byte + 5 bytes of FILETIME, the GUID, then one 5-byte block per reply.
    raw = bytes.fromhex("01d9c9f30075") + guid.bytes + bytes.fromhex("0011223344") * replies
    return base64.b64encode(raw).decode()


def test_outlook_conversation_id_is_the_guid_of_the_first_message() -> None:
    guid = uuid.UUID("12345678-9abc-def0-1234-56789abcdef0")
    first = outlook_conversation_id(_thread_index(guid))
    assert first == "123456789abcdef0123456789abcdef0"
    assert outlook_conversation_id(_thread_index(guid, replies=3)) == first


def test_outlook_conversation_id_of_a_first_message_header() -> None:
    header = "AdQ4SxmvqHRsqhyYRmKc2XN8rbJzJA=="
    assert outlook_conversation_id(header) == "a8746caa1c9846629cd9737cadb27324"


def test_outlook_conversation_id_of_a_folded_header() -> None:
    header = _thread_index(uuid.uuid4(), replies=2)
    folded = f"{header[:20]}\r\n {header[20:]}"
    assert outlook_conversation_id(folded) == outlook_conversation_id(header)


@pytest.mark.parametrize(
    "value",
    [
        None,
        "",
        "   ",
        "not base64!!",
        "AQ==",
        "é" * 30,
        base64.b64encode(b"\x01" * 23).decode(),  # neither 22 bytes nor 22 + 5n
        base64.b64encode(b"\x01" + b"\x00" * 21).decode(),  # an all-zero GUID would merge threads
    ],
)
def test_outlook_conversation_id_rejects_missing_or_malformed(value: str | None) -> None:
    assert outlook_conversation_id(value) is None
