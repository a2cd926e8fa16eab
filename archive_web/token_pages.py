"""The two pages a mailed link opens: leave a topic (/u/…) and confirm (/confirm/…).

A GET only shows a page with a button: link scanners such as Microsoft Safe Links open every
link in a mail, and must not unsubscribe or confirm anybody. The POST does it, at once and
without logging in: the token is the authority, and doing it twice changes nothing more (so
no CSRF token is needed). RFC 8058 one-click unsubscribe is the same POST, sent by the mail
program with the body `List-Unsubscribe=One-Click`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from starlette.requests import Request
from starlette.responses import Response

from archive_web.queries import MAX_ID
from archive_web.render import Renderer
from models import Confirmation, ConfirmationKind, Member, Subscription, Topic
from models.db import unit_of_work
from models.tokens import read_signed_value, token_hash

# The purpose mailgate.outbound.compose signs unsubscribe links with.
UNSUBSCRIBE_PURPOSE = "unsubscribe"
MAX_TOKEN_CHARS = 200


def read_unsubscribe_token(secret: bytes, token: str) -> tuple[int, int] | None:
    """(member id, topic id) from a genuine unsubscribe token; None for anything else."""
    if not secret or len(token) > MAX_TOKEN_CHARS:
        return None
    value = read_signed_value(secret, UNSUBSCRIBE_PURPOSE, token)
    member_id, _, topic_id = (value or "").partition(":")
    if not (member_id.isdecimal() and topic_id.isdecimal()):
        return None
    ids = int(member_id), int(topic_id)
    return ids if all(0 < n <= MAX_ID for n in ids) else None


@dataclass(frozen=True)
class Leaving:
    topic_name: str
    topic_slug: str
    already_left: bool


@dataclass(frozen=True)
class Confirming:
    kind: ConfirmationKind
    topic_name: str
    state: str  # "ask", "done", "used" or "expired"


class TokenPages:
    def __init__(
        self,
        factory: sessionmaker[Session],
        renderer: Renderer,
        *,
        secret: bytes,
        prefix: str,
        clock: Callable[[], datetime],
    ) -> None:
        self.factory = factory
        self.renderer = renderer
        self.secret = secret
        self.prefix = prefix
        self.clock = clock

    def _bad_link(self) -> Response:
        return self.renderer.page("bad_link.html", status_code=404, noindex=True)

    # -- /u/<token> ----------------------------------------------------------------------

    def unsubscribe(self, request: Request) -> Response:
        token = request.path_params["token"]
        ids = read_unsubscribe_token(self.secret, token)
        if ids is None:
            return self._bad_link()
        posted = request.method == "POST"
        with unit_of_work(self.factory) as session:
            leaving = self._leave(session, *ids, now=self.clock() if posted else None)
        if leaving is None:
            return self._bad_link()
        return self.renderer.page(
            "unsubscribe.html",
            leaving=leaving,
            done=posted,
            action=f"{self.prefix}/u/{token}",
            noindex=True,
        )

    def _leave(
        self, session: Session, member_id: int, topic_id: int, *, now: datetime | None
    ) -> Leaving | None:
        """What leaving means here; with `now`, the subscription ends (if it had not)."""
        topic = session.get(Topic, topic_id)
        member = session.get(Member, member_id)
        if topic is None or member is None:
            return None
        subscription = session.scalar(
            select(Subscription).where(
                Subscription.member_id == member_id, Subscription.topic_id == topic_id
            )
        )
        already_left = subscription is None or subscription.ended_at is not None
        if now is not None and subscription is not None and subscription.ended_at is None:
            subscription.ended_at = now
        return Leaving(topic_name=topic.name, topic_slug=topic.slug, already_left=already_left)

    # -- /confirm/<token> ----------------------------------------------------------------

    def confirm(self, request: Request) -> Response:
        token = request.path_params["token"]
        if len(token) > MAX_TOKEN_CHARS:
            return self._bad_link()
        posted = request.method == "POST"
        with unit_of_work(self.factory) as session:
            confirming = self._confirm(session, token, posted=posted)
        if confirming is None:
            return self._bad_link()
        status = 410 if confirming.state == "expired" else 200
        return self.renderer.page(
            "confirm.html",
            status_code=status,
            confirming=confirming,
            action=f"{self.prefix}/confirm/{token}",
            noindex=True,
        )

    def _confirm(self, session: Session, token: str, *, posted: bool) -> Confirming | None:
        confirmation = session.scalar(
            select(Confirmation).where(Confirmation.token_hash == token_hash(token))
        )
        if confirmation is None:
            return None
        topic = session.get(Topic, confirmation.topic_id) if confirmation.topic_id else None
        now = self.clock()
        if confirmation.applied_at is not None:
            state = "used"
        elif confirmation.confirmed_at is not None:
            state = "done"  # confirmed already; the gateway will act on it
        elif confirmation.expires_at < now:
            state = "expired"
        elif posted:
            confirmation.confirmed_at = now
            state = "done"
        else:
            state = "ask"
        return Confirming(
            kind=confirmation.kind, topic_name=topic.name if topic else "", state=state
        )
