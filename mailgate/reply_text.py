"""Split an incoming email reply into its newly written text, quoted history and signature."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

__all__ = ["ReplyText", "split_reply"]


@dataclass(frozen=True)
class ReplyText:
    full: str
    new: str
    quoted: str
    signature: str


# --- quoted lines -----------------------------------------------------------------------------

# ">" quoting, plus the "Name>" / "C>" style some old clients use.
_QUOTED = re.compile(r"^[ \t]*(?:>|[A-Za-z]{1,12}>(?:[ \t]|$))")

_INVISIBLE_LINE = re.compile(r"[\s\u1427\u200b\u200c\u200d\u2060\ufeff]+")

# A line made only of rule characters, like Outlook's "________________________________".
_RULE = re.compile(r"^[ \t*]*(?:_{5,}|-{5,}|={5,}|\*{5,})[ \t*]*$")

# --- header blocks (Outlook, Gmail and Apple forwards) ----------------------------------------

_HEADER_LINE = re.compile(
    r"^[ \t]*\*{0,2}([^\W\d_][^:：*\n]{0,30}?)[ \t]*\*{0,2}[ \t]*[:：][ \t]*\*{0,2}(.*)$"
)

# Header names by what they mean; structure decides, the names only confirm it. Includes the
# quoted-printable spellings that show up when a client encodes twice.
_HEADER_NAMES: dict[str, tuple[str, ...]] = {
    "from": (
        "från",
        "fr=e5n",
        "fr=c3=a5n",
        "from",
        "von",
        "de",
        "van",
        "fra",
        "da",
        "od",
        "от",
        "від",
        "lähettäjä",
        "feladó",
        "发件人",
        "寄件者",
        "差出人",
        "kimden",
        "remetente",
    ),
    "date": (
        "skickat",
        "datum",
        "sent",
        "date",
        "gesendet",
        "envoyé",
        "enviado",
        "enviada",
        "inviato",
        "data",
        "verzonden",
        "sendt",
        "dato",
        "wysłano",
        "отправлено",
        "надіслано",
        "lähetetty",
        "päivämäärä",
        "fecha",
    ),
    "to": ("till", "to", "an", "à", "a", "para", "aan", "til", "do", "кому", "kenelle"),
    "cc": ("kopia", "cc", "kopie", "копия", "bcc", "hemlig kopia"),
    "subject": (
        "ämne",
        "=c4mne",
        "=c3=84mne",
        "subject",
        "betreff",
        "objet",
        "asunto",
        "oggetto",
        "onderwerp",
        "emne",
        "temat",
        "тема",
        "aihe",
        "assunto",
    ),
    "other": (
        "svara till",
        "reply-to",
        "antwort an",
        "risposta",
        "organization",
        "organisation",
        "prioritet",
        "importance",
        "priorité",
    ),
}
_HEADER_KINDS = {name: kind for kind, names in _HEADER_NAMES.items() for name in names}

# "-----Ursprungligt meddelande-----", "---------- Forwarded message ---------" and the like.
_SEPARATOR = re.compile(r"^[ \t*]*-{2,}[ \t]*([^-\s][^\n]{1,200}?)[ \t]*-{2,}[ \t*]*$")
_SEPARATOR_WORDS = re.compile(
    r"original|ursprungl|ursprüngl|forward|vidarebefordra|videresend|weitergeleitet|message|"
    r"meddelande|nachricht|mensaje|messaggio|bericht|wiadomo|сообщени|wrote|skrev|schrieb",
    re.IGNORECASE,
)
_FORWARD_INTRO = re.compile(
    r"^[ \t>*]*(?:begin forwarded message|forwarded message|vidarebefordrat (?:brev|meddelande)|"
    r"början (?:av|på) vidarebefordrat \w+|weitergeleitete nachricht)[ \t]*:?[ \t*]*$",
    re.IGNORECASE,
)

# --- attribution lines ("Den tis 3 mars 2026 kl 10:12 skrev Anna <anna@x.se>:") ---------------

_SAID = re.compile(
    r"(?<!\w)(?:skrev|skriver|wrote|writes|schrieb|a écrit|escribió|escreveu|ha scritto|"
    r"schreef|geschreven|napisał\(a\)|napisała|napisał|написал\(а\)|написала|написал|пише|"
    r"kirjoitti|írta|yazdı)(?!\w)|写道|寫道"
)
_SAID_AT_END = re.compile(_SAID.pattern + r"[ \t]*[:：]$")
_TIME = re.compile(r"(?<!\d)\d{1,2}[:.]\d{2}(?!\d)")
_YEAR = re.compile(r"(?<!\d)(?:19|20)\d{2}(?!\d)")
_ADDRESS = re.compile(r"@|&lt;|<mailto:")
# Old Gmail: "2016-10-24 15:36 GMT+02:00 Anna <anna@x.se>:", "2013/7/20 Anna <anna@x.se>".
_ISO_DATE_START = re.compile(r"^[ \t]*\d{4}[-/]\d{1,2}[-/]\d{1,2}\b")
_ATTRIBUTION_START = re.compile(r"^(?:on|den|am|le|el|il|op)\s", re.IGNORECASE)
_QUOTED_CLOSE = re.compile(r"^[ \t]*>[ \t]*(?:\w+[ \t]*)?[:：][ \t]*$")
_ATTRIBUTION_MAX = 320
_HEADER_BLOCK_MAX = 20

# --- signatures -------------------------------------------------------------------------------

_SIG_DASHES = re.compile(r"^(?:--|__)[ \t]*$")
_SIGN_OFF = re.compile(
    r"^(?:(?:med[ \t]+)?(?:vänlig|vänliga|bästa|varma|varm|många|hjärtliga|glada|trevliga|"
    r"sommar|vår|höst|vinter|jul)[ \t]*hälsning(?:ar)?|hälsning(?:ar)?|mvh|m\.v\.h\.?|vh|"
    r"vänligen(?=[ \t,]*$)|(?:with[ \t]+)?(?:kind|best|warm|warmest)[ \t]+regards|regards|"
    r"best[ \t]+wishes|cheers)(?![\w-])(.{0,50})$",
    re.IGNORECASE,
)
# "/Anna", "// Anna A", "—Ryan": a name signed with a slash or an em dash.
_SLASH_NAME = re.compile(r"^(?:/{1,2}|—)[ \t]?[A-ZÅÄÖ][\w.\-]*(?:[ \t]+[A-ZÅÄÖ][\w.\-]*){0,2}$")
_MOBILE = re.compile(
    r"^(?=.{1,120}$)[(<\s]*(?:"
    r"(?:sent|skickat|skickad|sendt|envoyé|enviado|inviato|verzonden|gesendet|wysłane)\b"
    r"[^,;!?\n]{0,60}\b(?:iphone|ipad|android|mobil\w*|phone|telefon|outlook|mail|samsung|"
    r"galaxy|blackberry|device|enhet|windows|ios|huawei|pixel|surfplatta|smartphone|handy|"
    r"airmail)\b"
    r"|(?:sent|skickat|sendt|envoyé|enviado|inviato|verzonden|gesendet) "
    r"(?:from|från|fra|depuis|desde|da|met|von) (?:my|min|mitt|mon|mi|meinem|mijn)\b[^,;!?]*$"
    r"|(?:get|hämta|hent) outlook\b|von meinem\b|från min (?:iphone|ipad|mobil))",
    re.IGNORECASE,
)
_DISCLAIMER = re.compile(
    r"personuppgift|dataskydd|gdpr|konfidentiell|sekretess|avsett endast|avsedd endast|"
    r"confidential|intended recipient|disclaimer|tänk på miljön",
    re.IGNORECASE,
)
_PHONE = re.compile(r"(?:\+|\b)\d[\d \-()]{6,}\d\b")
_EMAIL_OR_WEB = re.compile(r"\S+@\S+\.\w+|\bwww\.\S+|https?://\S+")
_NAME_LINE = re.compile(r"^[A-ZÅÄÖ][\w.\-]*(?:[ \t]+[A-ZÅÄÖ][\w.\-]*){0,3}[ \t]*$")
_SIG_MAX_LINES = 15
_SIG_MAX_WIDTH = 100
_SIG_TAIL_SCAN = 60  # content lines after a sign-off, disclaimers included


def split_reply(text: str) -> ReplyText:
    """Split a decoded plain-text reply; never raises, whatever the input."""
    if not isinstance(text, str):
        text = ""
    try:
        return _split(text)
    except Exception:  # trimming is best effort; a post must never be lost to a bug here
        return ReplyText(full=text, new=text.rstrip(), quoted="", signature="")


def _split(text: str) -> ReplyText:
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    # Lines of nothing but invisible marks (Gmail add-ons' "ᐧ" tracker) count as blank.
    lines = ["" if _INVISIBLE_LINE.fullmatch(line) else line for line in lines]
    n = len(lines)

    header = _find_header(lines, 0)
    if header is None:
        begin, end = 0, n
    elif _blank(lines[: header[0]]):
        # Nothing written above the first header: a forward, or a reply written below the quote.
        begin = header[1]
        while begin < n and (not lines[begin].strip() or _QUOTED.match(lines[begin])):
            begin += 1
        following = _find_header(lines, begin)
        end = n if following is None else following[0]
    else:
        begin, end = 0, header[0]

    # A quoted block that ends what was written is history, not an inline answer; a signature
    # can sit on either side of it.
    tail_quote = _trailing_quote_start(lines, begin, end)
    sig_at = _signature_start(lines[begin:tail_quote])
    sig_begin = tail_quote if sig_at is None else begin + sig_at
    cut = _trailing_quote_start(lines, begin, sig_begin)

    new_lines = lines[begin:cut]
    signature = lines[sig_begin:tail_quote]
    quoted = lines[:begin] + lines[cut:sig_begin] + lines[tail_quote:]
    return ReplyText(
        full=text,
        new=_tidy(new_lines),
        quoted=_tidy(quoted),
        signature=_tidy(signature),
    )


def _trailing_quote_start(lines: Sequence[str], begin: int, end: int) -> int:
    """Where the quoted block that ends lines[begin:end] starts; `end` when there is none."""
    cut = end
    while cut > begin and (not lines[cut - 1].strip() or _QUOTED.match(lines[cut - 1])):
        cut -= 1
    if any(_QUOTED.match(line) for line in lines[cut:end]):
        return cut
    return end


def _tidy(lines: Sequence[str]) -> str:
    start = 0
    while start < len(lines) and not lines[start].strip():
        start += 1
    return "\n".join(lines[start:]).rstrip()


def _blank(lines: Sequence[str]) -> bool:
    return not any(line.strip() and not _RULE.match(line) for line in lines)


# --- finding the first quote header -----------------------------------------------------------


def _find_header(lines: Sequence[str], start: int) -> tuple[int, int] | None:
    """(first line, line after) of the first quote header at or after `start`, rules included."""
    for i in range(start, len(lines)):
        line = lines[i]
        if not line.strip() or _QUOTED.match(line):
            continue
        length = (
            _separator_len(lines, i) or _header_block_len(lines, i) or _attribution_len(lines, i)
        )
        if length:
            # A separator or forward intro is usually followed by a header block.
            following = _next_content(lines, i + length)
            if following is not None and following - (i + length) <= 1:
                block = _header_block_len(lines, following, after_separator=True)
                if block:
                    length = following - i + block
            first = i
            # The "____" rule and blank lines just above belong to the header.
            while first > start and (not lines[first - 1].strip() or _RULE.match(lines[first - 1])):
                first -= 1
            return first, i + length
    return None


def _separator_len(lines: Sequence[str], i: int) -> int:
    line = lines[i]
    if _FORWARD_INTRO.match(line):
        return 1
    match = _SEPARATOR.match(line)
    if match is None:
        return 0
    if _SEPARATOR_WORDS.search(match.group(1)):
        return 1
    following = _next_content(lines, i + 1)
    return 1 if following is not None and _header_kind(lines[following]) else 0


def _header_kind(line: str) -> str | None:
    match = _HEADER_LINE.match(line)
    if match is None:
        return None
    return _HEADER_KINDS.get(" ".join(match.group(1).lower().split()))


def _header_block_len(lines: Sequence[str], i: int, after_separator: bool = False) -> int:
    """Length of a block of header lines ("Från: …", "Skickat: …", …) starting at line i."""
    kind = _header_kind(lines[i])
    # Mail clients put the sender first; only a forward separator may precede another order.
    if kind is None or (kind != "from" and not after_separator):
        return 0
    kinds = {kind}
    values = [lines[i]]
    end = i + 1
    j = i + 1
    loose = 0  # wrapped values and single blank lines between header lines
    while j < min(len(lines), i + _HEADER_BLOCK_MAX) and loose <= 2:
        kind = _header_kind(lines[j])
        if kind is not None:
            kinds.add(kind)
            values.append(lines[j])
            end = j + 1
            loose = 0
        elif not lines[j].strip() and loose:
            break
        else:
            loose += 1
        j += 1
    if "from" not in kinds:
        return 0
    has_address = any(_ADDRESS.search(value) for value in values)
    # "Från: måndag / Till: fredag" is a schedule, not a header: ask for more than two names.
    if len(kinds) >= 3 or (len(kinds) == 2 and (has_address or kinds & {"date", "subject"})):
        # A wrapped subject line right after the block belongs to it.
        if end < len(lines) and lines[end].strip() and not _header_kind(lines[end]):
            prev_kind = _header_kind(lines[end - 1])
            if prev_kind == "subject" and len(lines[end]) < 80:
                end += 1
        return end - i
    return 0


def _attribution_len(lines: Sequence[str], i: int, look_ahead: bool = True) -> int:
    """Number of lines (1–3) of an attribution line starting at line i, or 0."""
    first = lines[i].strip()
    if not first or len(first) > _ATTRIBUTION_MAX:
        return 0
    if (
        _ISO_DATE_START.match(first)
        and len(first) < 160
        and not first.endswith(".")
        and ("GMT" in first or _ADDRESS.search(first))
    ):
        return 1
    # The opening line of an attribution always carries a date, a time, an address or the verb.
    signals = (_TIME, _YEAR, _ADDRESS, _SAID)
    if not first.startswith("<") and not any(signal.search(first) for signal in signals):
        return 0
    # Some clients wrap "On <date> <name>" / "<mailto:…>" / "> wrote:" over blank lines.
    wrapped = _ATTRIBUTION_START.match(first) is not None and _TIME.search(first) is not None
    joined = ""
    k = i
    skipped = 0
    for count in range(1, 5 if wrapped else 4):
        while wrapped and count > 1 and k < len(lines) and not lines[k].strip() and skipped < 2:
            k += 1
            skipped += 1
        if k >= len(lines) or not lines[k].strip():
            return 0
        # A quoted line may only continue an attribution as its closing ">:" (Gmail wrapping).
        if count > 1 and _QUOTED.match(lines[k]) and not _QUOTED_CLOSE.match(lines[k]):
            return 0
        joined = f"{joined} {lines[k].strip()}".strip()
        if len(joined) > _ATTRIBUTION_MAX:
            return 0
        if (
            count == 2
            and look_ahead
            and not _SAID.search(first)
            and first.endswith((".", "!", "?", ";", ":"))
            and _attribution_len(lines, i + 1, look_ahead=False)
        ):
            # The attribution starts on the next line; this one ends the new text.
            return 0
        if _is_attribution(joined, lines, k + 1):
            return k - i + 1
        k += 1
    return 0


def _is_attribution(joined: str, lines: Sequence[str], after: int) -> bool:
    text = joined.rstrip(" *")
    if not (text.endswith(":") or text.endswith("：")):
        return False
    dated = bool(_TIME.search(text) or _ADDRESS.search(text))
    if _SAID.search(text) and (dated or (_YEAR.search(text) and _SAID_AT_END.search(text))):
        return True
    if dated or _YEAR.search(text):
        following = _next_content(lines, after)
        return following is not None and bool(_QUOTED.match(lines[following]))
    return False


def _next_content(lines: Sequence[str], start: int) -> int | None:
    for k in range(start, len(lines)):
        if lines[k].strip():
            return k
    return None


# --- signatures -------------------------------------------------------------------------------


def _signature_start(lines: Sequence[str]) -> int | None:
    """Index of the line where the sign-off block at the end of `lines` begins, if any."""
    content = [k for k, line in enumerate(lines) if line.strip()]
    if not content:
        return None
    first_content = content[0]
    for index, k in enumerate(content):
        # Whatever follows a signature is short; this also keeps long inputs linear.
        if len(content) - index > _SIG_TAIL_SCAN:
            continue
        stripped = lines[k].strip()
        if _SIG_DASHES.match(stripped) or _MOBILE.match(stripped):
            # "-- " and "Skickat från min iPhone" end the text whatever the block after them.
            if _signature_tail(lines, k + 1, max_width=120, max_lines=30):
                return k
        elif (
            k > first_content
            and (_SIGN_OFF.match(stripped) or _SLASH_NAME.match(stripped))
            and _signature_tail(lines, k + 1, max_width=_SIG_MAX_WIDTH, max_lines=_SIG_MAX_LINES)
        ):
            return k
    return _contact_block_start(lines, first_content)


def _paragraphs(lines: Sequence[str], start: int) -> Iterator[list[str]]:
    current: list[str] = []
    for k in range(start, len(lines)):
        line = lines[k].strip()
        if line:
            current.append(line)
        elif current:
            yield current
            current = []
    if current:
        yield current


def _signature_tail(lines: Sequence[str], start: int, max_width: int, max_lines: int) -> bool:
    """True when what follows a sign-off is a short name/title/phone block (and disclaimers)."""
    count = 0
    for paragraph in _paragraphs(lines, start):
        if _DISCLAIMER.search(" ".join(paragraph)):
            continue
        count += len(paragraph)
        if count > max_lines or any(len(line) > max_width for line in paragraph):
            return False
    return True


def _contact_block_start(lines: Sequence[str], first_content: int) -> int | None:
    """A trailing "Name / title / organisation / phone" block or disclaimer with no sign-off."""
    # Walk paragraphs from the end; remember where each starts.
    starts: list[int] = []
    k = len(lines)
    while k > first_content:
        end = k
        while end > first_content and not lines[end - 1].strip():
            end -= 1
        begin = end
        while begin > first_content and lines[begin - 1].strip():
            begin -= 1
        if begin == end:
            break
        starts.append(begin)
        k = begin
    found: int | None = None
    for begin in starts[:-1]:  # the first paragraph is always the message
        paragraph = next(_paragraphs(lines, begin))
        text = " ".join(paragraph)
        if _DISCLAIMER.search(text):
            found = begin
            continue
        if (
            2 <= len(paragraph) <= 8
            and all(len(line) <= 60 and not line.endswith(("?", "!")) for line in paragraph)
            and _NAME_LINE.match(paragraph[0])
            and (_PHONE.search(text) or _EMAIL_OR_WEB.search(text))
        ):
            found = begin
        break
    return found
