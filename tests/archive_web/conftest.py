"""A small Swedish forum in the database and the archive serving it over real HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy.orm import Session, sessionmaker

from archive_web.app import ArchiveConfig, create_app
from models.db import unit_of_work
from tests.archive_web import content
from tests.conftest import Clock
from tests.support.web_server import serve_app

LIST_DOMAIN = "forum.localhost"
MEMBER_EMAILS = (
    "asa.oberg@vaxjo.se",
    "anna@molndal.se",
    "goran.strom@goteborg.se",
    "kerstin.ek@molndal.se",
)
SIGNATURE = (
    "Med vänlig hälsning\nAnna Lindqvist\nKostchef, Mölndals stad\nanna@molndal.se\n031-123 45 67"
)
QUOTED = (
    "Från: Åsa Öberg <asa.oberg@vaxjo.se>\n"
    "Skickat: den 20 november 2026 10:12\n"
    "Ämne: Ekologisk gröt i förskolan\n\n"
    "Har någon bytt till ekologiska havregryn?"
)


def utc(day: int, hour: int, minute: int = 0, month: int = 11) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


@dataclass(frozen=True)
class Sample:
    """Ids of what the sample forum holds, for building URLs and anchors."""

    porridge: int  # three posts, tags, quote, signature, attachment
    procurement: int  # one post, the newest activity: unanswered
    allergies: int  # two posts, more than 7 days old
    cleaning: int  # the only thread in the second topic
    porridge_posts: tuple[int, int, int]


@pytest.fixture
def sample(factory: sessionmaker[Session]) -> Sample:
    with unit_of_work(factory) as session:
        kost = content.topic(
            session,
            "kost",
            "Kost och måltider",
            "För kostchefer i kommuner och regioner: måltider, upphandling och näringslära.",
        )
        lokaler = content.topic(session, "lokaler", "Lokalförsörjning", "Kök, matsalar och städ.")
        asa, anna, goran, kerstin = (
            content.member(session, email, name, utc(1, 8, month=10))
            for email, name in zip(
                MEMBER_EMAILS, ("Åsa Öberg", "Anna Lindqvist", "Göran Ström", None), strict=True
            )
        )
        porridge = content.thread(
            session, kost, "Ekologisk gröt i förskolan", utc(20, 9, 12), ("skolmat", "ekologiskt")
        )
        first = content.post(
            session,
            porridge,
            asa,
            utc(20, 9, 12),
            "Hej alla!\nVi funderar på att byta till ekologiska havregryn i förskolan.\n"
            "Hur har det gått för er?",
            message_id="asa/1+grot@vaxjo.se",
        )
        second = content.post(
            session,
            porridge,
            anna,
            utc(21, 13, 5),
            "Vi köper från en lokal kvarn.\nRing mig gärna, eller mejla anna@molndal.se.\n\n"
            "<script>alert(1)</script> fungerar inte här.",
            quoted_text=QUOTED,
            signature=SIGNATURE,
            attachments=[("Meny vecka 47.pdf", "application/pdf", b"%PDF" * 384)],
        )
        third = content.post(
            session,
            porridge,
            goran,
            utc(22, 7, 45),
            "Göteborg gör så sedan i våras. Smaken är bättre!",
            message_id="weird%41id@goteborg.se",
        )
        procurement = content.thread(session, kost, "Upphandling av livsmedel 2027", utc(22, 10))
        content.post(session, procurement, goran, utc(22, 10), "Vilka krav ställer ni på fisk?")
        allergies = content.thread(session, kost, "Allergier på äldreboenden", utc(1, 8))
        content.post(session, allergies, kerstin, utc(1, 8), "Hur märker ni allergenerna?")
        content.post(session, allergies, asa, utc(10, 14), "Vi använder färgkoder på brickan.")
        cleaning = content.thread(session, lokaler, "Städning av tillagningskök", utc(1, 9, 0, 10))
        content.post(session, cleaning, asa, utc(1, 9, 0, 10), "Hur ofta storstädar ni?")
        return Sample(
            porridge=porridge.id,
            procurement=procurement.id,
            allergies=allergies.id,
            cleaning=cleaning.id,
            porridge_posts=(first.id, second.id, third.id),
        )


@contextmanager
def browse(factory: sessionmaker[Session], clock: Clock, **config: Any) -> Iterator[httpx.Client]:
    """A client for the archive served on loopback; redirects are left for the test to see."""
    settings = {"base_url": "http://127.0.0.1:8080", "list_domain": LIST_DOMAIN, **config}
    app = create_app(factory, ArchiveConfig(**settings), clock=clock)
    with serve_app(app) as base_url, httpx.Client(base_url=base_url, timeout=10) as client:
        yield client


@pytest.fixture
def archive(factory: sessionmaker[Session], clock: Clock, sample: Sample) -> Iterator[httpx.Client]:
    with browse(factory, clock) as client:
        yield client
