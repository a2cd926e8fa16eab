"""Compose the copy of a post that members receive: threaded, DMARC-safe, with list headers.

A post is composed once into a `CopyTemplate`; each member's copy differs from it only in
the member's own unsubscribe token, which `for_member` fills in. The email package's header
folding costs milliseconds a copy, and a post may go to 17,000 members.
"""

from __future__ import annotations

import binascii
import functools
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from email import message_from_bytes
from email.header import Header
from email.headerregistry import Address
from email.message import EmailMessage, MIMEPart
from email.policy import SMTP, default
from email.utils import format_datetime
from urllib.parse import quote

from mailgate import addresses
from mailgate.addresses import Kind
from mailgate.outbound.outlook import conversation_guid, thread_index
from models import Member, Post, Topic
from models.tokens import make_reply_key, sign_value

UNSUBSCRIBE_PURPOSE = "unsubscribe"
DEFAULT_ATTACHMENT_LINK_BYTES = 5 * 1024 * 1024
REFERENCES_KEPT = 10  # the first post and the nearest ancestors (RFC 5322 §3.6.4 allows trimming)
_STAND_IN_ID = 0  # no member has it: ids start at 1
_HOLE = "\x00unsubscribe-url\x00"  # where a member's own unsubscribe URL goes in the text
_SHORT = 78  # RFC 5322's recommended line length
# Line breaks, tabs, encoded-word look-alikes and runs of spaces go to the email package.
_UNSTRUCTURED = frozenset({"Subject", "Thread-Topic"})
_CRLF = "\r\n"
_NEEDS_CARE = re.compile(r"[\r\n\t]|=\?|  |^ | $")


@dataclass(frozen=True)
class ListContext:
    """The forum-wide facts every copy needs."""

    list_domain: str
    base_url: str
    secret: bytes
    # Attachments go along with the copy while together they stay within this many bytes;
    # the rest are linked to the archive.
    attachment_link_bytes: int = DEFAULT_ATTACHMENT_LINK_BYTES

    def url(self, path: str) -> str:
        return self.base_url.rstrip("/") + path


@dataclass(frozen=True)
class AttachmentFile:
    """An attachment of a post; `data` is None for one that goes as a link to the archive."""

    id: int
    filename: str
    content_type: str
    size: int
    data: bytes | None = None


def unsubscribe_token(secret: bytes, member_id: int, topic_id: int) -> str:
    return sign_value(secret, UNSUBSCRIBE_PURPOSE, f"{member_id}:{topic_id}")


Fields = list[tuple[str, str]]


def list_fields(lc: ListContext, topic: Topic, member_id: int) -> Fields:
    """RFC 2369/2919/8058 headers; the unsubscribe URL is this member's own."""
    d = lc.list_domain
    help_subject = quote("hjälp")
    token = unsubscribe_token(lc.secret, member_id, topic.id)
    leave = addresses.make(Kind.LEAVE, topic.slug, d)
    request = addresses.make(Kind.REQUEST, topic.slug, d)
    return [
        ("List-Id", f"{topic.name} <{topic.slug}.{d}>"),
        ("List-Post", f"<mailto:{addresses.make(Kind.POST, topic.slug, d)}>"),
        ("List-Help", f"<mailto:{request}?subject={help_subject}>"),
        ("List-Subscribe", f"<mailto:{addresses.make(Kind.JOIN, topic.slug, d)}>"),
        ("List-Owner", f"<mailto:{addresses.make(Kind.OWNER, topic.slug, d)}>"),
        ("List-Unsubscribe", f"<{lc.url('/u/' + token)}>, <mailto:{leave}>"),
        ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"),
        ("Precedence", "list"),
        ("X-Auto-Response-Suppress", "OOF, AutoReply"),
        ("X-Delapost-Loop", d),
    ]


def list_headers(message: EmailMessage, lc: ListContext, topic: Topic, member: Member) -> None:
    """Add `list_fields` to `message`."""
    for name, value in list_fields(lc, topic, member.id):
        message[name] = value


@dataclass(frozen=True)
class CopyTemplate:
    """A post composed once; `for_member` makes one member's copy of it as SMTP-ready bytes."""

    lc: ListContext
    topic_id: int
    head: bytes  # header fields up to the text's encoded lines, with the stand-in's token
    text: tuple[bytes | str, ...]  # quoted-printable chunks, and raw lines holding the hole
    tail: bytes  # the attachments and the closing boundary, or nothing
    stand_in: str  # the token in `head` that each member's own replaces

    @classmethod
    def of(
        cls,
        post: Post,
        topic: Topic,
        lc: ListContext,
        attachments: Sequence[AttachmentFile] = (),
    ) -> CopyTemplate:
        author_address = post.member.email if post.member is not None else None
        links = [a for a in attachments if a.data is None]
        text = _text(post, topic, lc, links, author_address)
        head = header_block(_headers(post, topic, _STAND_IN_ID, lc, author_address))
        inline = [a for a in attachments if a.data is not None]
        text_part = b'Content-Type: text/plain; charset="utf-8"\r\n'
        text_part += b"Content-Transfer-Encoding: quoted-printable\r\n\r\n"
        stand_in_token = unsubscribe_token(lc.secret, _STAND_IN_ID, topic.id)
        if not inline:
            head += b"MIME-Version: 1.0\r\n" + text_part
            return cls(lc, topic.id, head, encode_with_hole(text, _HOLE), b"", stand_in_token)
        parts = [_attachment_part(a) for a in inline]
        boundary = b"==" + hashlib.sha256(b"".join(parts)).hexdigest()[:24].encode() + b"=="
        head += (
            b'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="%s"\r\n\r\n'
            b"--%s\r\n" % (boundary, boundary)
        ) + text_part
        tail = b"".join(b"\r\n--" + boundary + b"\r\n" + part for part in parts)
        tail += b"\r\n--%s--\r\n" % boundary
        return cls(lc, topic.id, head, encode_with_hole(text, _HOLE), tail, stand_in_token)

    def for_member(self, member_id: int) -> bytes:
        token = unsubscribe_token(self.lc.secret, member_id, self.topic_id)
        url = self.lc.url("/u/" + token)
        text = b"".join(c if isinstance(c, bytes) else qp(c.replace(_HOLE, url)) for c in self.text)
        return self.head.replace(self.stand_in.encode(), token.encode()) + text + self.tail


def compose_copy(
    post: Post,
    topic: Topic,
    member: Member,
    lc: ListContext,
    *,
    attachments: Sequence[AttachmentFile] = (),
) -> EmailMessage:
    """One member's copy of a post, parsed: for reading what a member gets."""
    data = CopyTemplate.of(post, topic, lc, attachments).for_member(member.id)
    message = message_from_bytes(data, policy=default)
    assert isinstance(message, EmailMessage)
    return message


def author_display(post: Post, topic: Topic) -> str:
    """`Anna Andersson (Mölndals stad) via Offentliga måltider`: who wrote, never their address."""
    org = post.organization.name if post.organization else None
    author = post.author_name
    return f"{author} ({org}) via {topic.name}" if org else f"{author} via {topic.name}"


def _headers(
    post: Post, topic: Topic, member_id: int, lc: ListContext, author_address: str | None
) -> Fields:
    d = lc.list_domain
    thread = post.thread
    ancestors = _ancestors(post)
    topic_address = addresses.make(Kind.POST, topic.slug, d)
    tagged = _mask(f"[{topic.slug}] {thread.subject}", author_address)
    author = Address(
        display_name=_mask(author_display(post, topic), author_address), addr_spec=topic_address
    )
    reply_to = addresses.make(Kind.REPLY, topic.slug, d, make_reply_key(lc.secret, post.id))
    fields = [
        ("From", str(author)),
        ("To", topic_address),
        ("Reply-To", reply_to),
        # "SV:" before the tag, as Outlook expects a reply prefix to open the subject.
        ("Subject", f"SV: {tagged}" if ancestors else tagged),
        ("Date", format_datetime(post.created_at)),
        ("Message-ID", f"<{post.message_id}>"),
    ]
    if ancestors:
        kept = ancestors[:1] + ancestors[1:][-(REFERENCES_KEPT - 1) :]
        fields.append(("In-Reply-To", f"<{ancestors[-1].message_id}>"))
        fields.append(("References", " ".join(f"<{p.message_id}>" for p in kept)))
    guid = conversation_guid(thread.conversation_id, d, thread.id)
    replies = [p.created_at for p in ancestors[1:]] + ([post.created_at] if ancestors else [])
    first = ancestors[0].created_at if ancestors else post.created_at
    fields.append(("Thread-Topic", tagged))
    fields.append(("Thread-Index", thread_index(guid, first, replies)))
    fields.append(("List-Archive", f"<{lc.url('/m/' + quote(post.message_id, safe='@'))}>"))
    return fields + list_fields(lc, topic, member_id)


def _ancestors(post: Post) -> list[Post]:
    """The posts this one answers, from the thread's first down to its parent.

    A post threaded without a parent (by subject or Outlook's conversation) answers the
    thread's first post.
    """
    posts = {p.id: p for p in post.thread.posts}
    first = min(posts.values(), key=lambda p: (p.created_at, p.id), default=None)
    chain: list[Post] = []
    parent_id = post.parent_id
    while parent_id is not None and parent_id in posts and len(chain) < len(posts):
        parent = posts[parent_id]
        if parent.id == post.id or parent in chain:
            break  # a cycle in stored data; never loop
        chain.append(parent)
        parent_id = parent.parent_id
    chain.reverse()
    if first is not None and first.id != post.id and (not chain or chain[0].id != first.id):
        chain.insert(0, first)
    return chain


def _text(
    post: Post,
    topic: Topic,
    lc: ListContext,
    links: Sequence[AttachmentFile],
    author_address: str | None,
) -> str:
    """The post's text, links to attachments left in the archive, and the short footer."""
    request = addresses.make(Kind.REQUEST, topic.slug, lc.list_domain)
    body = post.full_text.replace("\r\n", "\n").replace("\x00", "")
    lines = [_mask(body, author_address).rstrip(), ""]
    if links:
        lines.append("Bilagor i arkivet (för stora för att skickas med):")
        lines.extend(
            f"- {a.filename} ({_size(a.size)}): "
            f"{lc.url(f'/attachments/{a.id}/{quote(a.filename)}')}"
            for a in links
        )
        lines.append("")
    lines += [
        "-- ",
        f"{topic.name}: {lc.url(f'/{topic.slug}/t/{post.thread_id}')}",
        "Svara på brevet för att svara i tråden.",
        f'Hellre en sammanfattning per vecka? Skriv "digest weekly" till {request}',
        '(eller "digest daily" för en per dag).',
        f"Lämna {topic.name} med ett klick:",
        _HOLE,
    ]
    return "\n".join(lines) + "\n"


def _mask(text: str, address: str | None) -> str:
    """The author's own address as `anna.andersson@…`, as the web archive shows addresses."""
    if not address or "@" not in address:
        return text
    found = re.compile(re.escape(address), re.IGNORECASE)
    return found.sub(lambda m: m.group(0).rpartition("@")[0] + "@…", text)


def _size(size: int) -> str:
    if size >= 1024 * 1024:
        return f"{size / (1024 * 1024):.1f} MB".replace(".", ",")
    return f"{max(1, round(size / 1024))} kB"


def qp(text: str) -> bytes:
    """Quoted-printable (RFC 2045) of UTF-8 text, with CRLF line ends."""
    return binascii.b2a_qp(text.encode("utf-8"), istext=True).replace(b"\n", b"\r\n")


def encode_with_hole(text: str, hole: str) -> tuple[bytes | str, ...]:
    """`text` quoted-printable once, but for the lines holding `hole`: those stay raw, to be
    filled in and encoded for each member (QP encodes line by line, so this is exact)."""
    chunks: list[bytes | str] = []
    static: list[str] = []
    for line in text.splitlines(keepends=True):
        if hole in line:
            if static:
                chunks.append(qp("".join(static)))
                static = []
            chunks.append(line)
        else:
            static.append(line)
    if static:
        chunks.append(qp("".join(static)))
    return tuple(chunks)


def header_block(fields: Fields) -> bytes:
    """The header fields folded and encoded for SMTP.

    The email package takes up to a millisecond to fold one field, and a copy has twenty.
    ASCII values are folded here at their spaces; a word too long for a line is kept whole
    (where the email package would turn a long Thread-Index into encoded words), and the
    first word stays on the field's first line. Free text
    gets the older, faster encoder of encoded words. Display names, whose encoded words the
    older encoder splits where a reader would see a space, go to the email package, once
    for each value.
    """
    block = []
    for name, value in fields:
        if _NEEDS_CARE.search(value):
            block.append(_fold_by_email_package(name, value))
        elif value.isascii():
            block.append(_fold_ascii(name, value))
        elif name in _UNSTRUCTURED:
            encoded = Header(value, "utf-8", maxlinelen=_SHORT, header_name=name)
            block.append(f"{name}: {encoded.encode(linesep=_CRLF)}\r\n".encode("ascii"))
        else:
            block.append(_fold_by_email_package(name, value))
    return b"".join(block)


def _fold_ascii(name: str, value: str) -> bytes:
    first, *words = value.split(" ")
    lines = [f"{name}: {first}"]  # whatever its length: a reader may keep a leading space
    for word in words:
        if len(lines[-1]) + 1 + len(word) <= _SHORT:
            lines[-1] += " " + word
        else:
            lines.append(" " + word)
    return "\r\n".join(lines).encode("ascii") + b"\r\n"


@functools.lru_cache(maxsize=4096)
def _fold_by_email_package(name: str, value: str) -> bytes:
    return SMTP.fold_binary(*SMTP.header_store_parse(name, value))


def _attachment_part(attachment: AttachmentFile) -> bytes:
    assert attachment.data is not None
    maintype, _, subtype = attachment.content_type.partition("/")
    part = MIMEPart()
    part.set_content(
        attachment.data,
        maintype=maintype or "application",
        subtype=subtype or "octet-stream",
        disposition="attachment",
        filename=attachment.filename,
    )
    # The line break before the next boundary belongs to the boundary (RFC 2046 §5.1.1).
    return part.as_bytes(policy=SMTP).removesuffix(b"\r\n")
