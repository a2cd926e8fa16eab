"""Queued copies become each member's bytes; attachments past the limit stay in the archive."""

from __future__ import annotations

import dataclasses
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from mailgate.outbound.copies import Copy, CopyMaker
from models import Attachment, Outbox
from models.db import unit_of_work
from tests.conftest import Clock
from tests.mailgate.outbound.builders import LC, READERS, forum_with_post


def test_attachments_go_along_until_the_limit_and_the_rest_as_links(
    factory: sessionmaker[Session], clock: Clock
) -> None:
    small, large = b"%PDF-1.4 meny\n" * 70, b"%PDF-1.4 ritning\n" * 2000
    with unit_of_work(factory) as session:
        queued = forum_with_post(
            session,
            clock(),
            readers=READERS[:1],
            attachments=(
                ("meny.pdf", "application/pdf", small),
                ("ritning.pdf", "application/pdf", large),
            ),
        )
        maker = CopyMaker(dataclasses.replace(LC, attachment_link_bytes=2000))
        row = session.get(Outbox, queued.rows[READERS[0][1]])
        assert row is not None
        copy = maker.make(session, row)
        linked = session.scalars(select(Attachment.id).where(Attachment.filename == "ritning.pdf"))
        linked_id = linked.one()

    assert isinstance(copy, Copy) and copy.recipient == READERS[0][1]
    message = message_from_bytes(copy.message, policy=default)
    assert isinstance(message, EmailMessage)
    assert [a.get_filename() for a in message.iter_attachments()] == ["meny.pdf"]
    body = message.get_body(("plain",))
    assert body is not None
    assert f"https://forum.example.se/attachments/{linked_id}/ritning.pdf" in body.get_content()
    assert len(copy.message) < len(large)


def test_a_copy_of_a_deleted_post_is_not_sent(factory: sessionmaker[Session], clock: Clock) -> None:
    with unit_of_work(factory) as session:
        queued = forum_with_post(session, clock(), readers=READERS[:1])
        row = session.get(Outbox, queued.rows[READERS[0][1]])
        assert row is not None
        row.post_id = None

        assert CopyMaker(LC).make(session, row) == "the post or the member no longer exists"
