"""Turn the raw bytes of one message into a ParsedMessage value, never raising on any input."""

from __future__ import annotations

import email.policy
import html
import mimetypes
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.header import decode_header
from email.message import Message
from email.parser import BytesParser
from email.utils import collapse_rfc2231_value, getaddresses, parsedate_to_datetime
from html.parser import HTMLParser

import nh3

# compat32, measured on 1,000 Outlook-style 18 KB messages: 1.0 s to parse and decode, against
# 4.6-6.0 s for the policy.default family. Headers are decoded here from raw_items(), so the
# slower header registry would buy nothing. flanker (1.7-2.1 s) is not needed at all.
POLICY = email.policy.compat32.clone(raise_on_defect=False)
_PARSER = BytesParser(policy=POLICY)
MAX_DEPTH = 30

_EXE = ".exe .bat .cmd .com .scr .js .vbs .msi .ps1 .jar .dll .lnk .pif .hta .cpl .wsf .vbe .jse"
EXECUTABLE_EXTENSIONS = frozenset(_EXE.split())
_EXE_TYPES = (
    "application/x-msdownload application/x-msdos-program application/x-dosexec "
    "application/x-executable application/vnd.microsoft.portable-executable application/x-msi "
    "application/x-ms-installer application/x-ms-shortcut application/x-bat application/bat "
    "application/x-javascript application/javascript text/javascript application/java-archive "
    "application/x-java-archive text/vbscript application/x-vbscript application/hta"
)
EXECUTABLE_TYPES = frozenset(_EXE_TYPES.split())
_TAGS = (
    "a abbr b blockquote br caption code col colgroup dd del div dl dt em h1 h2 h3 h4 h5 h6 hr i "
    "ins kbd li ol p pre q s small span strong sub sup table tbody td tfoot th thead tr u ul"
)
_HTML_TAGS = frozenset(_TAGS.split())
_HTML_ATTRIBUTES = {
    "a": {"href", "title"},
    "td": {"colspan", "rowspan"},
    "th": {"colspan", "rowspan"},
    "ol": {"start"},
    "abbr": {"title"},
}
_EXTENSIONS = {
    "application/pdf": ".pdf",
    "image/jpeg": ".jpg",
    "image/png": ".png",
    "image/gif": ".gif",
    "message/rfc822": ".eml",
    "text/plain": ".txt",
    "text/html": ".html",
    "text/calendar": ".ics",
}
_LATIN1_LABELS = frozenset({"iso-8859-1", "iso8859-1", "iso_8859-1", "latin1", "latin-1", "l1"})
_WEAK_LABELS = frozenset({"", "us-ascii", "ascii", "unknown-8bit", "x-unknown", "default"})
_SURROGATE = re.compile("[\udc80-\udcff]")
_UTF8_PAIR = re.compile(rb"[\xc2-\xf4][\x80-\xbf]")
_FOLD = re.compile(r"\r?\n(?=[ \t])|\r(?=[ \t])")
_ANGLE_ID = re.compile(r"<([^<>]*)>")
_ADDR = re.compile(r"[^\s<>\"'(),;:\[\]]+@[^\s<>\"'(),;:\[\]]+")
_UNSAFE_NAME = re.compile(r'[\x00-\x1f\x7f<>:"|?*]+')
_RESERVED = re.compile(r"^(con|prn|aux|nul|com\d|lpt\d)(\..*)?$", re.IGNORECASE)


@dataclass(frozen=True)
class AttachmentPart:
    filename: str
    content_type: str
    data: bytes


@dataclass(frozen=True)
class ParsedMessage:
    message_id: str | None
    subject: str
    from_address: str | None
    from_name: str
    date: datetime | None
    in_reply_to: tuple[str, ...]
    references: tuple[str, ...]
    text: str
    html: str | None
    attachments: tuple[AttachmentPart, ...]
    refused_attachments: tuple[str, ...]
    defects: tuple[str, ...]
    raw_headers: tuple[tuple[str, str], ...] = field(default=(), repr=False)
    # Why each of `refused_attachments` was refused: "executable" or "too large".
    refusal_reasons: tuple[str, ...] = ()

    def header(self, name: str) -> str | None:
        """The first value of header `name` (any case), decoded; None when absent."""
        wanted = name.lower()
        for key, value in self.raw_headers:
            if key.lower() == wanted:
                return decode_words(value).strip()
        return None

    def headers_all(self, name: str) -> tuple[str, ...]:
        """Every value of header `name`, decoded, in message order."""
        wanted = name.lower()
        return tuple(decode_words(v).strip() for k, v in self.raw_headers if k.lower() == wanted)

    def header_names(self) -> tuple[str, ...]:
        """The names of all headers, as written, in message order."""
        return tuple(k for k, _ in self.raw_headers)


def decode_bytes(data: bytes, charset: str | None) -> str:
    """Bytes to text by the declared charset, with the fallbacks real mail needs."""
    label = (charset or "").strip().strip("\"'").lower()
    if label in _WEAK_LABELS or label in _LATIN1_LABELS or label.startswith("windows-125"):
        if label in _WEAK_LABELS:
            try:
                return data.decode("utf-8")
            except UnicodeDecodeError:
                pass
        label = label if label.startswith("windows-125") else "cp1252"
    if label in ("utf-8", "utf8") and _UTF8_PAIR.search(data) is None:
        label = "cp1252"  # 8-bit text labelled UTF-8 without a single UTF-8 sequence
    for candidate in (label, label.removesuffix("-i"), "utf-8"):
        try:
            return data.decode(candidate)
        except (LookupError, UnicodeDecodeError):
            continue
        except Exception:  # codecs such as utf-7 or idna can fail in their own ways
            continue
    try:
        return data.decode(label if label in ("utf-8", "utf8") else "cp1252", errors="replace")
    except LookupError:  # pragma: no cover - cp1252 always exists
        return data.decode("latin-1")


def _unraw(value: str) -> str:
    """Undo the parser's surrogate escapes: raw 8-bit header bytes become UTF-8 or cp1252 text."""
    if value.isascii() or _SURROGATE.search(value) is None:
        return value
    return decode_bytes(value.encode("utf-8", "surrogateescape"), None)


def _safe(text: str) -> str:
    """Text any database accepts: no NUL, no lone surrogates."""
    text = text.replace("\x00", "")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = text.encode("utf-8", "replace").decode("utf-8")
    return text


def decode_words(value: str) -> str:
    """Decode RFC 2047 encoded words in an unfolded header value."""
    if "=?" not in value:
        return _safe(value)
    try:
        pieces = decode_header(value)
    except Exception:
        return _safe(value)
    out: list[str] = []
    for data, charset in pieces:
        out.append(data if isinstance(data, str) else decode_bytes(data, charset))
    return _safe("".join(out))


def _collapse(text: str) -> str:
    return " ".join(text.split())


def _message_ids(value: str | None) -> tuple[str, ...]:
    if not value:
        return ()
    found = [re.sub(r"\s+", "", m) for m in _ANGLE_ID.findall(value)]
    if not found:
        found = [t.strip("<>") for t in value.split() if "@" in t]
    return tuple(dict.fromkeys(m for m in found if m))


def _from(value: str | None) -> tuple[str | None, str]:
    if not value:
        return None, ""
    try:
        pairs = getaddresses([value])
    except Exception:
        pairs = []
    for name, addr in pairs:
        if "@" in addr and " " not in addr.strip():
            return addr.strip().lower(), _collapse(decode_words(name).strip("\"' "))
    match = _ADDR.search(value)
    if match is None:
        return None, _collapse(decode_words(value).strip("\"'<> "))
    name = (value[: match.start()] + value[match.end() :]).strip("\"'<>() \t")
    return match.group(0).strip(".").lower(), _collapse(decode_words(name))


def _date(value: str | None, defects: list[str]) -> datetime | None:
    if not value:
        return None
    try:
        parsed = parsedate_to_datetime(value)
    except Exception:
        defects.append(f"unreadable Date: {value[:60]!r}")
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _param(part: Message, name: str) -> str:
    try:
        value = part.get_param(name)
    except Exception:
        return ""
    if value is None:
        return ""
    return _unraw(str(collapse_rfc2231_value(value)))


def unflow(text: str, *, delsp: bool) -> str:
    """Undo RFC 3676 format=flowed: join soft-broken lines, keep quote depth and signatures."""
    out: list[str] = []
    pending: str | None = None
    pending_depth = 0
    for line in text.split("\n"):
        depth = len(line) - len(line.lstrip(">"))
        body = line[depth:]
        if body.startswith(" "):
            body = body[1:]  # space-stuffing
        flowed = body.endswith(" ") and body != "-- "
        if flowed and delsp:
            body = body[:-1]
        if pending is not None and depth == pending_depth:
            pending += body
        else:
            if pending is not None:
                out.append((">" * pending_depth + " " if pending_depth else "") + pending)
            pending, pending_depth = body, depth
        if not flowed:
            out.append((">" * depth + " " if depth else "") + pending)
            pending = None
    if pending is not None:
        out.append((">" * pending_depth + " " if pending_depth else "") + pending)
    return "\n".join(out)


class _HtmlText(HTMLParser):
    """A small HTML-to-text converter: paragraphs, line breaks, list items, quotes and link URLs."""

    _SKIP = frozenset({"script", "style", "title", "template", "noscript", "svg", "object"})
    _BLOCK = frozenset(
        {"div", "table", "tr", "section", "article", "header", "footer", "address", "center"}
        | {"dl", "dt", "dd", "tbody", "thead"}
    )
    _PARA = frozenset({"p", "h1", "h2", "h3", "h4", "h5", "h6", "pre", "blockquote", "ul", "ol"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lines: list[str] = []
        self.line: list[str] = []
        self.skip = 0
        self.in_head = False
        self.pre = 0
        self.quote = 0
        self.last_quote = 0
        self.blank = False
        self.lists: list[int] = []
        self.links: list[tuple[str, int]] = []

    def _flush(self) -> None:
        text = "".join(self.line).rstrip()
        text = text if self.pre else text.lstrip()
        self.line = []
        if not text:
            return
        if self.blank and self.lines:
            self.lines.append(">" * min(self.quote, self.last_quote))
        self.blank = False
        self.last_quote = self.quote
        self.lines.append("> " * self.quote + text)

    def _break(self, blank: bool) -> None:
        self._flush()
        self.blank = self.blank or blank

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._SKIP:
            self.skip += 1
        elif tag == "head":
            self.in_head = True
        elif tag == "body":
            self.in_head = False
        elif tag == "br":
            if "".join(self.line).strip():
                self._flush()
            else:
                self.blank = True
        elif tag == "hr":
            self._break(False)
            self.line.append("_" * 32)
            self._flush()
        elif tag == "li":
            self._break(False)
            if self.lists and self.lists[-1] > 0:
                self.line.append(f"{self.lists[-1]}. ")
                self.lists[-1] += 1
            else:
                self.line.append("- ")
        elif tag in ("td", "th"):
            self.line.append(" ")
        elif tag == "a":
            href = dict(attrs).get("href") or ""
            self.links.append((href.strip(), len("".join(self.line))))
        if tag in self._PARA or tag in self._BLOCK:
            self._break(tag in self._PARA)
        if tag in ("ul", "ol"):
            self.lists.append(1 if tag == "ol" else 0)
        elif tag == "blockquote":
            self.quote += 1
        elif tag == "pre":
            self.pre += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in self._SKIP:
            self.skip = max(0, self.skip - 1)
        elif tag == "head":
            self.in_head = False
        elif tag == "a" and self.links:
            href, start = self.links.pop()
            label = "".join(self.line)[start:].strip()
            target = href.removeprefix("mailto:")
            if href.lower().startswith(("http:", "https:", "mailto:")) and target != label:
                self.line.append(f" <{target}>")
        if tag in self._PARA or tag in self._BLOCK or tag == "li":
            self._break(tag in self._PARA)
        if tag in ("ul", "ol") and self.lists:
            self.lists.pop()
        elif tag == "blockquote":
            self.quote = max(0, self.quote - 1)
        elif tag == "pre":
            self.pre = max(0, self.pre - 1)

    def handle_data(self, data: str) -> None:
        if self.skip or self.in_head:
            return
        if self.pre:
            first, *rest = data.split("\n")
            self.line.append(first)
            for piece in rest:
                self._flush()
                self.line.append(piece)
            return
        text = re.sub(r"\s+", " ", data)
        if not self.line or "".join(self.line).endswith((" ", "\n")):
            text = text.lstrip()
        self.line.append(text)


def html_to_text(markup: str) -> str:
    """Readable plain text from an HTML body; script and style are dropped."""
    parser = _HtmlText()
    try:
        parser.feed(markup)
        parser.close()
        parser._flush()
        return "\n".join(parser.lines)
    except Exception:
        stripped = re.sub(r"(?is)<(script|style)\b.*?</\1\s*>|<[^>]*>", " ", markup)
        return _collapse(html.unescape(stripped))


def sanitize_html(markup: str) -> str:
    """The HTML body with everything but a strict allow-list removed."""
    try:
        return nh3.clean(
            markup,
            tags=set(_HTML_TAGS),
            clean_content_tags={"script", "style", "title", "head"},
            attributes={k: set(v) for k, v in _HTML_ATTRIBUTES.items()},
            url_schemes={"http", "https", "mailto"},
            link_rel="noopener noreferrer nofollow",
            strip_comments=True,
        )
    except Exception:
        return html.escape(html_to_text(markup))


def _safe_filename(raw: str | None, content_type: str) -> str:
    name = decode_words(_unraw(raw or ""))
    name = re.split(r"[/\\]", name)[-1]
    name = _collapse(_UNSAFE_NAME.sub("_", name)).strip(". ")
    if _RESERVED.match(name):
        name = "_" + name
    if len(name) > 200:
        stem, dot, ext = name.rpartition(".")
        name = stem[:190] + dot + ext[:9] if dot and len(ext) < 10 else name[:200]
    if name:
        return name
    guess: str | None = _EXTENSIONS.get(content_type)
    guess = guess or mimetypes.guess_extension(content_type, strict=False)
    return "bilaga" + (guess or "")


def _is_pe(data: bytes) -> bool:
    if data[:2] != b"MZ" or len(data) < 64:
        return False
    offset = int.from_bytes(data[60:64], "little")
    return data[offset : offset + 4] == b"PE\x00\x00"


@dataclass
class _Walk:
    max_bytes: int
    attachments: list[AttachmentPart] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)
    defects: list[str] = field(default_factory=list)

    def attach(self, filename: str, content_type: str, data: bytes) -> None:
        ext = "." + filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
        if ext in EXECUTABLE_EXTENSIONS or content_type in EXECUTABLE_TYPES or _is_pe(data):
            self.refused.append(filename)
            self.reasons.append("executable")
            self.defects.append(f"refused executable attachment {filename!r}")
        elif len(data) > self.max_bytes:
            self.refused.append(filename)
            self.reasons.append("too large")
            self.defects.append(f"refused attachment {filename!r}: {len(data)} bytes")
        else:
            self.attachments.append(AttachmentPart(filename, content_type, data))

    def text_of(self, part: Message) -> str:
        try:
            payload = part.get_payload(decode=True)
        except Exception as exc:
            self.defects.append(f"undecodable body: {type(exc).__name__}")
            payload = None
        if not isinstance(payload, bytes):
            payload = _raw_payload(part)
        text = decode_bytes(payload, _param(part, "charset"))
        text = _safe(text.replace("\r\n", "\n").replace("\r", "\n"))
        if part.get_content_type() == "text/plain" and _param(part, "format").lower() == "flowed":
            text = unflow(text, delsp=_param(part, "delsp").lower() == "yes")
        return text

    def segments(self, part: Message, depth: int = 0) -> list[tuple[str | None, str | None]]:
        """(plain, html) pieces of the readable body, in order; attachments are collected."""
        for defect in getattr(part, "defects", []):
            self.defects.append(type(defect).__name__)
        if depth > MAX_DEPTH:
            self.defects.append("MIME nesting too deep")
            return []
        ctype = part.get_content_type()
        payload = part.get_payload() if part.is_multipart() else None
        if isinstance(payload, list):
            if ctype == "message/rfc822" or ctype == "message/global":
                return self.message(part, [p for p in payload if isinstance(p, Message)])
            if not ctype.startswith("multipart/"):
                data = b"".join(_as_bytes(p) for p in payload if isinstance(p, Message))
                self.attach(_safe_filename(part.get_filename(), "text/plain"), ctype, data)
                return []
            children = [self.child(p, depth + 1) for p in payload if isinstance(p, Message)]
            if ctype != "multipart/alternative":
                return [s for child in children for s in child]
            plain = next((c for c in children if any(p for p, _ in c)), None)
            rich = next((c for c in reversed(children) if any(h for _, h in c)), None)
            return [(_render(plain) if plain else None, _join_html(rich) if rich else None)]
        try:
            filename = part.get_filename()
            disposition = part.get_content_disposition()
        except Exception:
            filename, disposition = None, "attachment"
        if ctype.startswith("multipart/"):
            self.defects.append(f"{ctype} without parts")
            ctype = "text/plain"
        if ctype in ("text/plain", "text/html") and not filename and disposition != "attachment":
            text = self.text_of(part)
            return [(text, None)] if ctype == "text/plain" else [(None, text)]
        try:
            decoded: object = part.get_payload(decode=True)
        except Exception:
            decoded = None
        data = decoded if isinstance(decoded, bytes) else _raw_payload(part)
        name = _safe_filename(filename, ctype)
        if ctype == "message/rfc822" and not name.lower().endswith(".eml"):
            name += ".eml"
        self.attach(name, ctype, data)
        return []

    def child(self, part: Message, depth: int) -> list[tuple[str | None, str | None]]:
        """One part's segments; a part that cannot be read is a defect, not the end of the rest."""
        try:
            return self.segments(part, depth)
        except Exception as exc:
            self.defects.append(f"unreadable part: {exc!r}"[:200])
            return []

    def message(self, part: Message, payload: list[Message]) -> list[tuple[str | None, str | None]]:
        inner = payload[0] if payload else Message()
        name = part.get_filename()
        if not name:
            subject = decode_words(_unraw(_FOLD.sub("", str(inner.get("Subject", "")))))
            name = (_collapse(subject)[:80] or "bilaga") + ".eml"
        filename = _safe_filename(name, "message/rfc822")
        if not filename.lower().endswith(".eml"):
            filename += ".eml"
        self.attach(filename, "message/rfc822", _as_bytes(inner))
        return []


def _raw_payload(part: Message) -> bytes:
    """The undecoded body; the stdlib's own getter can fail on 8-bit text with a bogus charset."""
    try:
        raw = part.get_payload()
    except Exception:
        raw = getattr(part, "_payload", "")  # the one private read: what the parser stored
    return raw.encode("utf-8", "surrogateescape") if isinstance(raw, str) else b""


def _as_bytes(message: Message) -> bytes:
    try:
        return message.as_bytes()
    except Exception:
        return _raw_payload(message)


def _render(segments: list[tuple[str | None, str | None]]) -> str:
    pieces = [p if p is not None else html_to_text(h or "") for p, h in segments]
    return "\n\n".join(p.strip("\n") for p in pieces if p and p.strip())


def _join_html(segments: list[tuple[str | None, str | None]]) -> str:
    return "\n".join(h for _, h in segments if h)


def parse(raw: bytes, *, max_attachment_bytes: int = 25 * 1024 * 1024) -> ParsedMessage:
    """Parse one message; malformed input becomes `defects`, never an exception."""
    try:
        return _parse(bytes(raw), max_attachment_bytes)
    except Exception as exc:
        text = _safe(decode_bytes(bytes(raw), None))
        return ParsedMessage(
            None, "", None, "", None, (), (), text, None, (), (), (f"unparseable: {exc!r}"[:200],)
        )


def _parse(raw: bytes, max_attachment_bytes: int) -> ParsedMessage:
    msg = _PARSER.parsebytes(raw)
    headers = tuple(
        (_unraw(str(k)).strip(), _unraw(_FOLD.sub("", str(v))).strip()) for k, v in msg.raw_items()
    )
    first: dict[str, str] = {}
    for key, value in headers:
        first.setdefault(key.lower(), value)
    walk = _Walk(max_attachment_bytes)
    segments = walk.segments(msg)
    text = _render(segments)
    html_body = _join_html(segments)
    from_address, from_name = _from(first.get("from"))
    if from_address is None:
        walk.defects.append("no From address")
    message_ids = _message_ids(first.get("message-id"))
    message_id = message_ids[0] if message_ids else (first.get("message-id") or "").strip("<> ")
    return ParsedMessage(
        message_id=message_id or None,
        subject=_collapse(decode_words(first.get("subject", ""))),
        from_address=from_address,
        from_name=from_name,
        date=_date(first.get("date"), walk.defects),
        in_reply_to=_message_ids(first.get("in-reply-to")),
        references=_message_ids(first.get("references")),
        text=text,
        html=sanitize_html(html_body) if html_body else None,
        attachments=tuple(walk.attachments),
        refused_attachments=tuple(walk.refused),
        defects=tuple(dict.fromkeys(walk.defects)),
        raw_headers=headers,
        refusal_reasons=tuple(walk.reasons),
    )
