"""Keep addresses and phone numbers out of what the archive shows (GDPR data minimisation)."""

from __future__ import annotations

import re
from datetime import date

# Generous on purpose: anything that looks like an address is hidden, including
# Swedish letters in the local part and IDN domains written in Unicode.
# Starting only where a run of such characters starts, and possessive, so that a long run
# without an @ costs linear time.
_LOCAL = r"[\w.!#$%&'*+/=?^`{|}~-]"
_ADDRESS = re.compile(
    rf"(?<!{_LOCAL})(?P<local>{_LOCAL}++)@(?P<domain>[\w-]+(?:\.[\w-]+)+)",
    re.UNICODE,
)

# Swedish phone numbers as people write them in signatures: 031-123 45 67, 070-123 45 67,
# 08-123 456 78, 0470-12 34 56, 0701234567, +46 70 123 45 67, +46 (0)31-123 45 67,
# 0046 8 123 456 78. A candidate is a run of digit groups that starts like a phone number and
# is not glued to other words or numbers; `_phone_length` then keeps the longest start of the
# run with a phone number's count of digits. 2026-11-23, KS 2024/123, 10:12 and 431 80 Mölndal
# never start like one; 05-11-2026 is recognised as a date.
_SEPARATOR = r"(?:[ \t\xa0]?-[ \t\xa0]?|[ \t\xa0]|/[ \t\xa0]?|[ \t\xa0]?\(0\)[ \t\xa0]?)"
_PHONE = re.compile(
    rf"""
    (?<![\w+/-])(?<!\d[.,:])
    (?:(?:\+|00)[ \t\xa0]?46|\(?0[1-9]\d{{0,2}}\)?)
    (?:{_SEPARATOR}?\d{{1,12}}+)(?:{_SEPARATOR}\d{{1,12}}+){{0,6}}+
    (?![\w]|[-:.,/]\d)
    """,  # bounded and possessive, so long runs of numbers cost linear time
    re.VERBOSE,
)
_LAST_GROUP = re.compile(rf"{_SEPARATOR}\d+$")

# Personnummer and samordningsnummer, 19800101-1234 or 800101-1234; organisationsnummer
# like 212000-1355 (a kommun's) have a "month" of 20 or more and are left alone.
_PERSONAL_NUMBER = re.compile(
    r"(?<![\w+/.:-])(?P<century>19|20)?(?P<yy>\d{2})(?P<mm>\d{2})(?P<dd>\d{2})[-+]\d{4}(?![\w/-])"
)

PHONE_MASK = "[telefonnummer dolt]"
PERSONAL_NUMBER_MASK = "[personnummer dolt]"


def mask_emails(text: str) -> str:
    """`anna@molndal.se` becomes `anna@…`: readers see who was meant, nobody can harvest it."""
    return _ADDRESS.sub(lambda m: f"{m.group('local')}@…", text)


def _is_phone_number(text: str) -> bool:
    digits = re.sub(r"\D", "", text)
    if text.startswith(("+", "00")):
        rest = digits.removeprefix("00").removeprefix("46").removeprefix("0")
        return 7 <= len(rest) <= 9
    return 8 <= len(digits) <= 10 and not _looks_like_date(text)


def _looks_like_date(text: str) -> bool:
    # 05-11-2026 or 05/11/26: day and month first, as some people write dates.
    return re.fullmatch(r"\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4}", text) is not None


def _phone_length(candidate: str) -> int:
    """How much of a run of digit groups is one phone number; 0 if none is."""
    while candidate:
        if _is_phone_number(candidate):
            return len(candidate)
        last = _LAST_GROUP.search(candidate)
        if last is None:
            return 0
        candidate = candidate[: last.start()]
    return 0


def mask_phones(text: str) -> str:
    """`070-123 45 67` becomes `[telefonnummer dolt]`; dates and case numbers stay."""
    shown: list[str] = []
    position = 0
    while (match := _PHONE.search(text, position)) is not None:
        length = _phone_length(match.group())
        if length:
            shown += [text[position : match.start()], PHONE_MASK]
            position = match.start() + length
        else:
            shown.append(text[position : match.end()])
            position = match.end()
    shown.append(text[position:])
    return "".join(shown)


def _personal_number(match: re.Match[str]) -> str:
    month, day = int(match.group("mm")), int(match.group("dd"))
    if day > 60:  # a samordningsnummer adds 60 to the day
        day -= 60
    try:
        date(2000, month, day)  # a leap year, so 29 February passes
    except ValueError:
        return match.group()
    return PERSONAL_NUMBER_MASK


def mask_personal_numbers(text: str) -> str:
    return _PERSONAL_NUMBER.sub(_personal_number, text)


def mask_private(text: str) -> str:
    """Everything the archive shows from a post goes through here: addresses, phones, ids."""
    return mask_phones(mask_personal_numbers(mask_emails(text)))
