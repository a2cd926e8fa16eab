"""Build a digest letter once for a topic and span, then each member's copy from it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from digest import links
from digest.mime import Alternative, header_block
from digest.period import Period, Span
from digest.render import UNSUBSCRIBE_URL, render
from digest.select import DigestContent, select_content
from mailgate.outbound import ListContext
from mailgate.outbound.compose import list_headers, unsubscribe_token
from models import Member, Topic

# Headers are folded and encoded once per digest, for this stand-in; each member's copy then
# swaps in their address and unsubscribe token (email's header machinery costs milliseconds).
_STAND_IN_ID = 0  # no member has it: ids start at 1
_STAND_IN_ADDRESS = "digest-recipient@delapost.invalid"


@dataclass(frozen=True)
class Letter:
    """One digest of one topic, rendered once; `message_for` makes a member's copy of it."""

    topic: Topic
    period: Period
    content: DigestContent
    subject: str
    text: str  # the text part, with UNSUBSCRIBE_URL where the member's own link goes
    head: bytes  # the header fields, for the stand-in member
    body: Alternative
    lc: ListContext

    def _token(self, member: Member | None) -> str:
        member_id = member.id if member is not None else _STAND_IN_ID
        return unsubscribe_token(self.lc.secret, member_id, self.topic.id)

    def text_for(self, member: Member | None = None) -> str:
        """The text part as `member` reads it; without a member, with a stand-in link."""
        url = self.lc.url("/u/" + (self._token(member) if member else "…"))
        return self.text.replace(UNSUBSCRIBE_URL, url)

    def message_for(self, member: Member | None, *, to: str | None = None) -> bytes:
        """The bytes `member` gets (at `to`, or their own address): ready to sign and send.

        Without a member (a preview to someone else) the unsubscribe link is a stand-in's,
        which unsubscribes nobody.
        """
        recipient = to or (member.email if member is not None else None)
        assert recipient is not None
        token = self._token(member)
        head = self.head.replace(_STAND_IN_ADDRESS.encode(), recipient.encode()).replace(
            self._token(None).encode(), token.encode()
        )
        return head + self.body.headers + b"\r\n" + self.body.body(self.lc.url("/u/" + token))


def _head(topic: Topic, subject: str, message_id: str, now: datetime, lc: ListContext) -> bytes:
    """The header fields of every copy, for the stand-in member.

    From and Reply-To are the request address: a plain reply to a digest is never posted;
    the gateway answers it (see the Message-ID) and never posts it.
    """
    request = links.request_address(lc, topic.slug)
    headers = EmailMessage()
    headers["From"] = Address(display_name=topic.name, addr_spec=request)
    headers["To"] = _STAND_IN_ADDRESS
    headers["Subject"] = subject
    headers["Date"] = format_datetime(now)
    headers["Message-ID"] = message_id
    headers["Reply-To"] = request
    headers["List-Archive"] = f"<{links.topic_url(lc, topic.slug)}>"
    list_headers(headers, lc, topic, Member(id=_STAND_IN_ID, email=_STAND_IN_ADDRESS))
    return header_block(headers)


def run_message_id(run_id: int, period: Period, slug: str, lc: ListContext) -> str:
    """The Message-ID every copy of a run shares; the gateway knows a reply to a digest by it."""
    return f"<digest.{run_id}.{period.value}.{slug}@{lc.list_domain}>"


def build_letter(
    session: Session,
    topic: Topic,
    period: Period,
    span: Span,
    *,
    lc: ListContext,
    zone: ZoneInfo,
    message_id: str,
    now: datetime,
) -> Letter | None:
    """The digest of `topic` for `span`, or None when nothing arrived in it."""
    content = select_content(session, topic.id, span)
    if content.is_empty:
        return None
    rendered = render(
        content, period=period, topic_slug=topic.slug, topic_name=topic.name, lc=lc, zone=zone
    )
    return Letter(
        topic=topic,
        period=period,
        content=content,
        subject=rendered.subject,
        text=rendered.text,
        head=_head(topic, rendered.subject, message_id, now, lc),
        body=Alternative.of(rendered.text, rendered.html, UNSUBSCRIBE_URL),
        lc=lc,
    )
