"""Atom feeds, mbox exports and attachment downloads, read the way their clients read them."""

from __future__ import annotations

import re
from email import message_from_bytes, policy
from email.message import EmailMessage
from urllib.parse import quote
from xml.etree import ElementTree as ET

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from models import Attachment, Member, Thread
from models.db import unit_of_work
from tests.archive_web import content
from tests.archive_web.conftest import MEMBER_EMAILS, Sample, browse, utc
from tests.conftest import Clock

ATOM = "{http://www.w3.org/2005/Atom}"
ADDRESS = re.compile(rb"[\w.+-]+@[\w-]+\.[\w.-]+")


def _no_member_address(body: bytes) -> None:
    unmasked = body.replace("@…".encode(), b"")
    for address in MEMBER_EMAILS:
        assert address.encode() not in body, address
        assert address.split("@")[0].encode() + b"@" not in unmasked, address
    # Any address left is ours (the topic's) or a Message-ID (mbox only).
    for line in body.splitlines():
        if not line.lower().startswith((b"message-id:", b"in-reply-to:", b"references:")):
            for found in ADDRESS.findall(line):
                assert found.endswith(b"@forum.localhost"), line
    assert b"031-123 45 67" not in body


def test_a_topic_feed_is_atom_with_stable_ids_and_no_addresses(
    archive: httpx.Client, sample: Sample
) -> None:
    response = archive.get("/kost/atom.xml")
    assert response.status_code == 200  # served where it is asked for: never a redirect
    assert response.headers["content-type"] == "application/atom+xml; charset=utf-8"
    assert response.headers["x-robots-tag"] == "noindex"
    _no_member_address(response.content)

    feed = ET.fromstring(response.content)
    assert feed.tag == f"{ATOM}feed"
    assert feed.findtext(f"{ATOM}title") == "Kost och måltider"
    assert (feed.findtext(f"{ATOM}id") or "").startswith("tag:forum.localhost,")
    assert feed.findtext(f"{ATOM}updated") == "2026-11-22T10:00:00Z"
    self_link = feed.find(f"{ATOM}link[@rel='self']")
    assert self_link is not None
    assert self_link.get("href") == "http://127.0.0.1:8080/kost/atom.xml"

    entries = feed.findall(f"{ATOM}entry")
    # The six posts of the topic, newest first; the other topic's post is not there.
    assert [e.findtext(f"{ATOM}title") for e in entries] == [
        "Upphandling av livsmedel 2027",
        "Ekologisk gröt i förskolan",
        "Ekologisk gröt i förskolan",
        "Ekologisk gröt i förskolan",
        "Allergier på äldreboenden",
        "Allergier på äldreboenden",
    ]
    for entry in entries:
        for field in ("id", "title", "updated", "author/{0}name", "content"):
            assert entry.findtext(f"{ATOM}" + field.format(ATOM)), field
    ids = [e.findtext(f"{ATOM}id") for e in entries]
    assert len(set(ids)) == len(ids)
    second = sample.porridge_posts[1]
    anna = entries[2]
    assert anna.findtext(f"{ATOM}id") == f"tag:forum.localhost,2026-11-21:kost/post/{second}"
    assert anna.findtext(f"{ATOM}author/{ATOM}name") == "Anna Lindqvist, Mölndals stad"
    text = anna.findtext(f"{ATOM}content") or ""
    assert "eller mejla anna@…." in text and "<script>alert(1)</script>" in text  # as text
    link = anna.find(f"{ATOM}link")
    assert link is not None
    assert link.get("href") == f"http://127.0.0.1:8080/kost/t/{sample.porridge}#p{second}"

    # The same posts keep the same ids on the next fetch.
    again = ET.fromstring(archive.get("/kost/atom.xml").content)
    assert [e.findtext(f"{ATOM}id") for e in again.findall(f"{ATOM}entry")] == ids
    assert archive.get("/finns-inte/atom.xml").status_code == 404
    assert '<link rel="alternate" type="application/atom+xml"' in archive.get("/kost/").text


def _read_mboxrd(data: bytes) -> list[EmailMessage]:
    """Split an mboxrd file as a mail program does, taking one `>` off quoted From lines."""
    assert data.startswith(b"From ")
    messages = []
    for chunk in re.split(rb"(?m)^From [^\n]*\n", data)[1:]:
        raw = re.sub(rb"(?m)^>(>*From )", rb"\1", chunk)
        message = message_from_bytes(raw, policy=policy.default)
        assert isinstance(message, EmailMessage)
        messages.append(message)
    return messages


def test_a_thread_exports_as_mboxrd_without_addresses(
    factory: sessionmaker[Session], clock: Clock, sample: Sample
) -> None:
    tricky = "Så här gör vi:\nFrom now on, ekologiskt.\n>From förra året.\n>>From i fjol."
    with unit_of_work(factory) as session:
        thread = session.get(Thread, sample.porridge)
        kerstin = session.scalar(select(Member).where(Member.email == MEMBER_EMAILS[3]))
        assert thread is not None
        # Her mail program made the Message-ID from her address: it is not handed out.
        content.post(
            session, thread, kerstin, utc(22, 12), tricky, message_id="kerstin.ek.4711@molndal.se"
        )

    with browse(factory, clock) as archive:
        response = archive.get(f"/kost/t/{sample.porridge}.mbox")
        assert archive.get(f"/lokaler/t/{sample.porridge}.mbox").status_code == 404
        assert archive.get("/kost/t/999999.mbox").status_code == 404
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/mbox"
    assert response.headers["content-disposition"].startswith("attachment;")
    data = response.content
    _no_member_address(data)
    # Quoted on the way out: no line in the file starts a message unless it is one.
    assert b"\n>From now on" in data and b"\n>>From f" in data and b"\n>>>From i" in data

    assert b"kerstin.ek" not in data

    messages = _read_mboxrd(data)
    assert len(messages) == 4
    assert str(messages[3]["Message-ID"]).endswith("@delapost.invalid>")
    assert [str(m["Message-ID"]) for m in messages[:1]] == ["<asa/1+grot@vaxjo.se>"]
    assert str(messages[1]["From"]) == '"Anna Lindqvist, Mölndals stad" <kost@forum.localhost>'
    assert messages[1]["Subject"] == "Ekologisk gröt i förskolan"
    body = messages[1].get_body(preferencelist=("plain",))
    assert body is not None
    text = body.get_content()
    assert "eller mejla anna@…." in text and "[telefonnummer dolt]" in text
    assert "Har någon bytt till ekologiska havregryn?" in text  # the quote is in the mail
    assert "Meny vecka 47.pdf: http://127.0.0.1:8080/attachments/" in text
    last = messages[3].get_body(preferencelist=("plain",))
    assert last is not None
    assert last.get_content().rstrip("\n") == tricky  # unquoted, it is exactly what was written


def _attachment_id(factory: sessionmaker[Session], filename: str) -> int:
    with factory() as session:
        found = session.scalar(select(Attachment.id).where(Attachment.filename == filename))
        assert found is not None
        return found


def _count(factory: sessionmaker[Session], attachment_id: int) -> int:
    with factory() as session:
        attachment = session.get(Attachment, attachment_id)
        assert attachment is not None
        return attachment.download_count


def test_attachments_download_safely_and_are_counted(
    factory: sessionmaker[Session], clock: Clock, sample: Sample
) -> None:
    with unit_of_work(factory) as session:
        thread = session.get(Thread, sample.procurement)
        goran = session.scalar(select(Member).where(Member.email == MEMBER_EMAILS[2]))
        assert thread is not None
        content.post(
            session,
            thread,
            goran,
            utc(22, 11),
            "Här är planen och en sida från webben.",
            attachments=[
                ("Måltidsplan 2027.pdf", "application/pdf", b"%PDF-1.7 plan"),
                ("sida.html", "text/html", b"<script>alert(1)</script>"),
            ],
        )
    plan = _attachment_id(factory, "Måltidsplan 2027.pdf")
    page_of_web = _attachment_id(factory, "sida.html")
    plan_path = f"/attachments/{plan}/{quote('Måltidsplan 2027.pdf')}"

    with browse(factory, clock) as archive:
        thread_page = archive.get(f"/kost/t/{sample.procurement}").text
        assert f'href="{plan_path}"' in thread_page
        assert "(PDF, 13 byte, hämtad 0 gånger)" in thread_page

        response = archive.get(plan_path)
        assert response.status_code == 200
        assert response.content == b"%PDF-1.7 plan"
        assert response.headers["content-type"] == "application/pdf"
        assert response.headers["content-disposition"] == (
            'attachment; filename="Maltidsplan 2027.pdf"; '
            "filename*=UTF-8''M%C3%A5ltidsplan%202027.pdf"
        )
        assert response.headers["x-content-type-options"] == "nosniff"
        assert "sandbox" in response.headers["content-security-policy"]
        assert _count(factory, plan) == 1
        archive.get(plan_path)
        archive.head(plan_path)  # a HEAD is no download
        assert _count(factory, plan) == 2
        shown = archive.get(f"/kost/t/{sample.procurement}").text
        assert "(PDF, 13 byte, hämtad 2 gånger)" in shown

        html = archive.get(f"/attachments/{page_of_web}/sida.html")
        assert html.headers["content-type"] == "application/octet-stream"
        assert html.headers["content-disposition"] == 'attachment; filename="sida.html"'

        for wrong in (
            f"/attachments/{plan}/annan.pdf",
            f"/attachments/{page_of_web}/{quote('Måltidsplan 2027.pdf')}",
            f"/attachments/999999/{quote('Måltidsplan 2027.pdf')}",
            "/attachments/99999999999999999999/x.pdf",
            f"/attachments/{plan}/",
        ):
            missing = archive.get(wrong, follow_redirects=True)
            assert missing.status_code == 404, wrong
            assert "Sidan finns inte" in missing.text
        assert _count(factory, plan) == 2
