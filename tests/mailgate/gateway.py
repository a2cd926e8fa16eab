"""A forum's pipeline for tests: a topic with members, mail handed in directly or over SMTP."""

from __future__ import annotations

import asyncio
import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email import message_from_bytes
from email.message import Message

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from delapost import admin
from mailgate import server
from mailgate.addresses import Kind, make
from mailgate.config import GatewayConfig
from mailgate.inbound import Inbound
from mailgate.pipeline import Pipeline
from mailgate.replies import Reply
from mailgate.smtp_handler import Gateway, Handler, Limits
from mailgate.verdict import Verdict
from models import MailEvent, Mode, Outbox, OutboxKind, Topic, TopicOwner
from models.db import unit_of_work
from tests.conftest import Clock

DOMAIN = "forum.localhost"
SECRET = b"s" * 32
MEMBERS = (
    ("anna.andersson@molndal.se", "Anna Andersson", Mode.EACH),
    ("erik.nilsson@goteborg.se", "Erik Nilsson", Mode.EACH),
    ("karin.lund@vaxjo.se", "Karin Lund", Mode.WEEKLY),
    ("maria.lindqvist@umea.se", "Maria Lindqvist", Mode.WEEKLY),
)
OWNER = "agare@molndal.se"


def make_config(clock: Clock, **overrides: object) -> GatewayConfig:
    values: dict[str, object] = {
        "list_domain": DOMAIN,
        "base_url": "https://forum.example.se",
        "secret": SECRET,
        "sender_auth": "none",
        "clock": clock,
    }
    values.update(overrides)
    return GatewayConfig(**values)  # type: ignore[arg-type]


def set_up_forum(factory: sessionmaker[Session], clock: Clock) -> None:
    """The topic maltider with four members (two get every post) and one owner."""
    with unit_of_work(factory) as session:
        topic = admin.add_topic(session, "maltider", "Offentliga måltider", "", clock())
        session.add(TopicOwner(topic_id=topic.id, email=OWNER))
        admin.add_topic(session, "upphandling", "Upphandling", "", clock())
        for address, name, mode in MEMBERS:
            admin.add_member(session, address, name, clock(), topic_slug="maltider", mode=mode)


@dataclass
class Gate:
    """The pipeline of a forum set up by `set_up_forum`, and what a test looks at afterwards."""

    pipeline: Pipeline
    factory: sessionmaker[Session]
    clock: Clock

    def deliver(
        self, data: bytes, *, to: str = f"maltider@{DOMAIN}", mail_from: str | None = None
    ) -> Verdict:
        """Hand one mail to the pipeline as the SMTP session would, after RCPT said yes."""
        for address in to.split(","):
            assert self.pipeline.check_recipient_now(address) is None, address
        sender = mail_from if mail_from is not None else _from_of(data)
        inbound = Inbound(sender, tuple(to.split(",")), data, "192.0.2.1", self.clock())
        return self.pipeline.deliver_now(inbound)

    def rcpt(self, address: str) -> Reply | None:
        return self.pipeline.check_recipient_now(address)

    def count(self, model: type[object]) -> int:
        with self.factory() as session:
            return session.scalar(select(func.count()).select_from(model)) or 0

    def trail(self, message_id: str) -> list[tuple[str, str, str]]:
        with self.factory() as session:
            rows = session.execute(
                select(MailEvent.step, MailEvent.verdict, MailEvent.detail)
                .where(MailEvent.message_id == message_id)
                .order_by(MailEvent.id)
            )
            return [(row.step, row.verdict, row.detail) for row in rows]

    def notices(self, to: str | None = None) -> list[Message]:
        """Notices queued (confirmations, answers), oldest first, as messages."""
        with self.factory() as session:
            query = select(Outbox).where(Outbox.kind == OutboxKind.NOTICE).order_by(Outbox.id)
            if to is not None:
                query = query.where(Outbox.recipient == to)
            return [message_from_bytes(row.message or b"") for row in session.scalars(query)]

    def address(self, kind: Kind, extension: str = "", topic: str = "maltider") -> str:
        return make(kind, topic, DOMAIN, extension)

    def topic_id(self, slug: str = "maltider") -> int:
        with self.factory() as session:
            found = session.scalar(select(Topic.id).where(Topic.slug == slug))
            assert found is not None
            return found


def _from_of(data: bytes) -> str:
    message = message_from_bytes(data)
    value = str(message.get("From", ""))
    return value[value.find("<") + 1 : value.find(">")] if "<" in value else value


@contextmanager
def smtp_gateway(
    pipeline: Gateway,
    *,
    limits: Limits | None = None,
    max_message_bytes: int = 1_000_000,
    max_connections_per_client: int = 20,
) -> Iterator[tuple[str, int]]:
    """The real SMTP gateway before `pipeline` on a free loopback port, on a loop in a thread."""
    loop = asyncio.new_event_loop()
    started: list[server.Listener] = []
    thread = threading.Thread(target=loop.run_forever, name="test-gateway", daemon=True)
    thread.start()

    async def start() -> server.Listener:
        return await server.start(
            Handler(pipeline, limits=limits),
            "127.0.0.1",
            0,
            hostname=DOMAIN,
            max_message_bytes=max_message_bytes,
            max_connections_per_client=max_connections_per_client,
        )

    started.append(asyncio.run_coroutine_threadsafe(start(), loop).result(10))
    try:
        host, port = started[0].sockets[0].getsockname()[:2]
        yield host, port
    finally:

        async def stop() -> None:
            await started[0].close()
            await asyncio.sleep(0.05)  # let closed connections finish

        asyncio.run_coroutine_threadsafe(stop(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()
        gc.collect()  # anything the gateway left open shows up in this test
