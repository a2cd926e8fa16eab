"""What the pipeline decides about each mail and what it keeps, called directly, step by step."""

from __future__ import annotations

import logging
import re
from email.header import decode_header, make_header

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from mailgate.addresses import Kind
from mailgate.authenticate import TemporaryDnsError
from mailgate.pipeline import Pipeline
from mailgate.verdict import Accept, Drop, Hold, Reject
from models import (
    Attachment,
    Blob,
    Confirmation,
    FollowState,
    HeldPost,
    HeldStatus,
    Member,
    Mode,
    Outbox,
    OutboxKind,
    Post,
    RawMessage,
    Subscription,
    Thread,
    ThreadFollow,
)
from models.tokens import make_reply_key
from tests.conftest import Clock
from tests.mailgate.gateway import SECRET, Gate, make_config, set_up_forum
from tests.mailgate.mails import QUESTION_ID, fixture, mail, sign

PDF = b"%PDF-1.7\n" + bytes(range(256)) * 8
EXE = b"MZ" + b"\x00" * 58 + (64).to_bytes(4, "little") + b"PE\x00\x00" + b"\x00" * 200


@pytest.fixture
def gate(ready_factory: sessionmaker[Session], clock: Clock) -> Gate:
    factory = ready_factory
    set_up_forum(factory, clock)
    return Gate(Pipeline(factory, make_config(clock)), factory, clock)


def post_of(gate: Gate, message_id: str) -> Post:
    with gate.factory() as session:
        post = session.scalar(select(Post).where(Post.message_id == message_id))
        assert post is not None, f"no post {message_id}"
        session.expunge(post)
        return post


def thread_of(gate: Gate, thread_id: int) -> tuple[str, list[str], int]:
    with gate.factory() as session:
        thread = session.get(Thread, thread_id)
        assert thread is not None
        return thread.subject, [t.name for t in thread.tags], thread.post_count


def ask_question(gate: Gate) -> Post:
    assert isinstance(gate.deliver(fixture("outlook-question")), Accept)
    return post_of(gate, QUESTION_ID)


# -- threading and trimming, the way Swedish mail programs reply -------------------------------


def test_outlook_question_keeps_its_text_and_turns_hashtags_into_tags(gate: Gate) -> None:
    question = ask_question(gate)
    subject, tags, count = thread_of(gate, question.thread_id)
    assert subject == "Laktosfri mjölk i förskolan"  # the #allergi tag left the subject
    assert tags == ["allergi", "förskola"]
    assert count == 1
    assert question.new_text.startswith("Hej alla,\n\nHur gör ni med laktosfri mjölk")
    assert question.signature.startswith("Med vänlig hälsning")
    assert question.html is not None and "<style" not in question.html


def test_outlook_reply_without_references_joins_by_conversation_and_is_trimmed(
    gate: Gate,
) -> None:
    question = ask_question(gate)
    assert isinstance(gate.deliver(fixture("outlook-reply")), Accept)

    reply = post_of(gate, "HE1PR0902MB1744B7A1C2D3E4F5@HE1PR0902MB1744.eurprd09.prod.outlook.com")
    assert reply.thread_id == question.thread_id
    assert reply.subject == "Laktosfri mjölk i förskolan"  # "SV: [maltider]" is gone
    # Quoted-printable "Fr=E5n:/=C4mne:" decoded, then the Outlook header block recognised.
    assert reply.new_text == (
        "Hej Anna,\n\nVi har samma problem i Växjö. Vi löste det genom att beställa laktosfri "
        "mjölk i\nstörre förpackningar och dela upp leveranserna på måndag och torsdag."
    )
    assert reply.signature.startswith("Med vänlig hälsning\n\nKarin Lund\nKostchef")
    assert reply.quoted_text.startswith("________________________________\nFrån: Anna Andersson")
    assert "Hur gör ni med laktosfri mjölk" in reply.quoted_text
    assert "Växjö" in reply.full_text and "Skickat: den 3 mars 2026" in reply.full_text
    steps = dict((step, detail) for step, _, detail in gate.trail(reply.message_id))
    assert "by Outlook conversation" in steps["route"]


def test_gmail_reply_joins_by_in_reply_to_under_the_question(gate: Gate) -> None:
    question = ask_question(gate)
    assert isinstance(gate.deliver(fixture("gmail-reply")), Accept)

    reply = post_of(gate, "CAKx9mQ3v+W8a1b2c3d4e5f6g7h8i9j0kLmNoPqRsT@mail.gmail.com")
    assert reply.thread_id == question.thread_id
    assert reply.parent_id == question.id
    assert reply.new_text == (
        "Hej!\n\nVi köper laktosfri mjölk i liter och har inga problem med leveranserna."
    )
    assert reply.quoted_text.startswith("Den tis 3 mars 2026 kl 10:12 skrev Anna Andersson")


def test_ios_reply_to_the_reply_key_address_joins_under_that_post(gate: Gate) -> None:
    question = ask_question(gate)
    key_address = gate.address(Kind.REPLY, make_reply_key(SECRET, question.id))
    assert isinstance(gate.deliver(fixture("ios-reply"), to=key_address), Accept)

    reply = post_of(gate, "9A1B2C3D-4E5F-4061-8172-93A4B5C6D7E8@umea.se")
    assert reply.thread_id == question.thread_id and reply.parent_id == question.id
    assert reply.new_text == "Vi har samma leverantör. Jag ringer dem i morgon och återkommer."
    assert reply.signature == "Skickat från min iPhone"
    assert reply.quoted_text.startswith("> 3 mars 2026 kl. 10:12 skrev Anna Andersson")
    assert reply.subject == "Laktosfri mjölk i förskolan"
    _, _, count = thread_of(gate, question.thread_id)
    assert count == 2


def test_reply_key_wins_over_references_to_another_thread(gate: Gate) -> None:
    question = ask_question(gate)
    other = mail("Erik Nilsson <erik.nilsson@goteborg.se>", "Frukost", "Hej", message_id="f@g.se")
    gate.deliver(other)
    answer = mail(
        "Karin Lund <karin.lund@vaxjo.se>",
        "SV: Frukost",
        "Svar på frågan om mjölk.",
        message_id="svar@vaxjo.se",
        In_Reply_To="<f@g.se>",
    )
    gate.deliver(answer, to=gate.address(Kind.REPLY, make_reply_key(SECRET, question.id)))
    assert post_of(gate, "svar@vaxjo.se").thread_id == question.thread_id


def test_subject_alone_threads_within_thirty_days_and_only_as_a_reply(gate: Gate) -> None:
    question = ask_question(gate)
    sender = "Karin Lund <karin.lund@vaxjo.se>"
    gate.deliver(
        mail(sender, "Sv: [maltider] Laktosfri mjölk i förskolan", "Ja.", message_id="a@v")
    )
    assert post_of(gate, "a@v").thread_id == question.thread_id

    # Without a reply prefix the same words start a thread of their own.
    gate.deliver(mail(sender, "Laktosfri mjölk i förskolan", "Ny fråga.", message_id="b@v"))
    assert post_of(gate, "b@v").thread_id != question.thread_id

    gate.clock.advance(days=31)
    gate.deliver(mail(sender, "VB: Laktosfri mjölk i förskolan", "Sent.", message_id="c@v"))
    late = post_of(gate, "c@v").thread_id
    assert late not in (question.thread_id, post_of(gate, "b@v").thread_id)


def test_references_to_a_post_of_another_topic_start_a_new_thread(gate: Gate) -> None:
    question = ask_question(gate)
    with gate.factory() as session:
        member = session.scalar(select(Member).where(Member.email == "karin.lund@vaxjo.se"))
        assert member is not None
        session.add(
            Subscription(
                member_id=member.id, topic_id=gate.topic_id("upphandling"), mode=Mode.WEEKLY
            )
        )
        session.commit()
    reply = mail(
        "Karin Lund <karin.lund@vaxjo.se>",
        "SV: Laktosfri mjölk i förskolan",
        "Hör hemma i upphandling.",
        message_id="upph@vaxjo.se",
        In_Reply_To=f"<{QUESTION_ID}>",
    )
    assert isinstance(gate.deliver(reply, to="upphandling@forum.localhost"), Accept)
    assert post_of(gate, "upph@vaxjo.se").thread_id != question.thread_id


# -- what is kept: attachments, HTML, duplicates ------------------------------------------------


def test_attachments_are_stored_once_by_content_and_executables_are_refused_with_a_note(
    gate: Gate,
) -> None:
    sender = "Erik Nilsson <erik.nilsson@goteborg.se>"
    files = (
        ("Måltidspolicy 2026.pdf", "application/pdf", PDF),
        ("schema.exe", "application/octet-stream", EXE),
    )
    gate.deliver(mail(sender, "Policy", "Här är policyn.", message_id="p1@g", attachments=files))
    gate.deliver(
        mail(sender, "SV: Policy", "Samma igen.", message_id="p2@g", attachments=files[:1])
    )

    first = post_of(gate, "p1@g")
    assert "Här är policyn." in first.new_text
    assert "”schema.exe” togs bort" in first.new_text and "executable files" in first.new_text
    with gate.factory() as session:
        names = session.scalars(select(Attachment.filename).order_by(Attachment.id)).all()
        assert names == ["Måltidspolicy 2026.pdf", "Måltidspolicy 2026.pdf"]
        blobs = session.scalars(select(Blob)).all()
        assert len(blobs) == 1 and blobs[0].data == PDF


def test_html_only_mail_becomes_clean_text(gate: Gate) -> None:
    assert isinstance(gate.deliver(fixture("html-only")), Accept)
    post = post_of(gate, "html-only-1@goteborg.se")
    assert post.new_text.startswith("Här är vårens menyer för skolorna.")
    assert "- Vecka 11: linsgryta" in post.new_text
    assert "alert" not in post.new_text and "<" not in post.new_text.split("menyer <")[0]
    assert post.html is not None
    assert "<script" not in post.html and "onclick" not in post.html and "<img" not in post.html
    assert 'href="https://www.goteborg.se/menyer"' in post.html


def test_the_same_message_id_twice_is_stored_once(gate: Gate) -> None:
    data = mail("Anna <anna.andersson@molndal.se>", "Dubbel", "En gång.", message_id="d@m.se")
    assert isinstance(gate.deliver(data), Accept)
    again = gate.deliver(data)
    assert isinstance(again, Accept) and again.reply.code == 250
    assert gate.count(Post) == 1 and gate.count(RawMessage) == 1
    with gate.factory() as session:
        assert session.scalars(select(Outbox).where(Outbox.kind == OutboxKind.COPY)).all()
    assert gate.count(Outbox) == 1  # Erik's copy, queued once
    assert any("already stored" in detail for _, _, detail in gate.trail("d@m.se"))


def test_mail_without_a_message_id_is_still_recognised_when_retried(gate: Gate) -> None:
    data = mail("Anna <anna.andersson@molndal.se>", "Utan id", "Hej.")
    gate.deliver(data)
    gate.deliver(data)
    assert gate.count(Post) == 1


def test_forged_authentication_results_in_our_name_are_not_kept(gate: Gate) -> None:
    data = mail("Anna <anna.andersson@molndal.se>", "Hej", "Text.", message_id="ar@m.se")
    forged = b"Authentication-Results: forum.localhost; dmarc=pass header.from=molndal.se\r\n"
    gate.deliver(forged + data)
    with gate.factory() as session:
        raw = session.scalars(select(RawMessage.data)).one()
    assert raw == data


# -- who may post ---------------------------------------------------------------------------


def test_unknown_colleague_is_held_and_asked_once(gate: Gate) -> None:
    sender = "Lena Sjöberg <lena.sjoberg@orebro.se>"
    first = mail(sender, "Första frågan", "Hej!", message_id="l1@orebro.se")
    assert isinstance(gate.deliver(first), Hold)
    assert isinstance(gate.deliver(first), Hold)  # the same mail retried
    assert isinstance(gate.deliver(mail(sender, "Andra", "Igen", message_id="l2@orebro.se")), Hold)

    assert gate.count(Post) == 0
    assert gate.count(HeldPost) == 2 and gate.count(RawMessage) == 2
    notices = gate.notices("lena.sjoberg@orebro.se")
    assert len(notices) == 1
    assert notices[0]["Auto-Submitted"] == "auto-replied"
    assert str(notices[0]["Reply-To"]).startswith("maltider-confirm+")


def confirmation_address(gate: Gate, to: str) -> str:
    (notice,) = gate.notices(to)
    return str(notice["Reply-To"])


def test_replying_to_the_confirmation_makes_a_member_and_publishes_the_held_posts(
    gate: Gate,
) -> None:
    sender = "Lena Sjöberg <lena.sjoberg@orebro.se>"
    gate.deliver(mail(sender, "Fråga", "Hur gör ni?", message_id="l1@orebro.se"))
    gate.deliver(mail(sender, "Fråga två", "Och sen?", message_id="l2@orebro.se"))
    confirm = confirmation_address(gate, "lena.sjoberg@orebro.se")
    assert gate.rcpt(confirm) is None

    reply = mail(sender, "SV: Bekräfta ditt inlägg", "Ja, det var jag.", to=confirm)
    verdict = gate.deliver(reply, to=confirm)

    assert isinstance(verdict, Accept) and "2 held post(s) published" in verdict.detail
    post = post_of(gate, "l1@orebro.se")
    assert post.new_text == "Hur gör ni?" and post.member_id is not None
    with gate.factory() as session:
        member = session.get(Member, post.member_id)
        assert member is not None and member.confirmed_at is not None
        subscription = session.scalars(
            select(Subscription).where(Subscription.member_id == member.id)
        ).one()
        assert subscription.mode is Mode.WEEKLY
        assert {h.status for h in session.scalars(select(HeldPost))} == {HeldStatus.RELEASED}
        copies = session.scalars(select(Outbox).where(Outbox.kind == OutboxKind.COPY)).all()
        assert len(copies) == 4  # Anna and Erik get each of the two posts
    assert gate.count(RawMessage) == 2  # the published posts point at the held bytes
    # The token is spent: the same reply again changes nothing.
    assert gate.deliver(reply, to=confirm).detail == "confirmation already used"
    assert gate.count(Post) == 2


def test_an_out_of_office_answer_to_the_confirmation_confirms_nothing(gate: Gate) -> None:
    sender = "Lena Sjöberg <lena.sjoberg@orebro.se>"
    gate.deliver(mail(sender, "Fråga", "Hur gör ni?", message_id="l1@orebro.se"))
    confirm = confirmation_address(gate, "lena.sjoberg@orebro.se")
    oof = fixture("exchange-oof").replace(b"anna.andersson@molndal.se", b"lena.sjoberg@orebro.se")
    assert isinstance(gate.deliver(oof, to=confirm, mail_from=""), Drop)
    looks_automatic = mail(sender, "Autosvar: Bekräfta ditt inlägg", "Jag är borta.", to=confirm)
    assert isinstance(gate.deliver(looks_automatic, to=confirm), Drop)
    assert gate.count(Post) == 0
    with gate.factory() as session:
        assert session.scalars(select(Confirmation.applied_at)).one() is None


def test_a_confirmation_made_on_the_web_page_is_carried_out_by_the_gateway(gate: Gate) -> None:
    sender = "Lena Sjöberg <lena.sjoberg@orebro.se>"
    gate.deliver(mail(sender, "Fråga", "Hur gör ni?", message_id="w1@orebro.se"))
    with gate.factory() as session:
        confirmation = session.scalars(select(Confirmation)).one()
        confirmation.confirmed_at = gate.clock()  # what the web page's button does
        session.commit()

    assert gate.pipeline.apply_web_confirmations() == 1
    assert post_of(gate, "w1@orebro.se").new_text == "Hur gör ni?"
    assert gate.pipeline.apply_web_confirmations() == 0


@pytest.mark.parametrize(
    ("sender", "reason"),
    [
        ("Säljare <saljare@leverantor.se>", "not in registry"),
        ("Elev <kalle@elev.goteborg.se>", "not staff"),
    ],
)
def test_outside_the_public_sector_is_refused_and_nothing_kept(
    gate: Gate, sender: str, reason: str
) -> None:
    verdict = gate.deliver(mail(sender, "Erbjudande", "Köp våra grytor!", message_id="s@x"))
    assert isinstance(verdict, Reject)
    assert (verdict.reply.code, verdict.reply.status) == (550, "5.7.1")
    assert reason in verdict.detail
    assert gate.count(RawMessage) == 0 and gate.count(Outbox) == 0
    assert ("verdict", "reject") in [(step, v) for step, v, _ in gate.trail("s@x")]


def test_mail_without_a_from_is_refused_clearly(gate: Gate) -> None:
    data = b"Subject: Hej\r\nMessage-ID: <nofrom@x>\r\n\r\nText\r\n"
    verdict = gate.deliver(data, mail_from="anna.andersson@molndal.se")
    assert isinstance(verdict, Reject)
    assert (verdict.reply.code, verdict.reply.status) == (550, "5.6.0")
    assert "From" in verdict.reply.swedish and "From" in verdict.reply.english


# -- automatic mail ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "mail_from", "kind"),
    [
        ("exchange-oof", "", "auto-reply"),
        ("exchange-oof", "anna.andersson@molndal.se", "auto-reply"),
        ("bounce-dsn", "", "bounce"),
    ],
)
def test_automatic_mail_is_dropped_and_never_answered(
    gate: Gate, name: str, mail_from: str, kind: str
) -> None:
    verdict = gate.deliver(fixture(name), mail_from=mail_from)
    assert isinstance(verdict, Drop) and verdict.reply.code == 250
    assert verdict.detail.startswith(kind)
    assert gate.count(Post) == 0 and gate.count(HeldPost) == 0 and gate.count(Outbox) == 0


def test_our_own_mail_coming_back_is_dropped(gate: Gate) -> None:
    data = mail(
        "Anna <anna.andersson@molndal.se>",
        "[maltider] Matsvinn",
        "En kopia som kom tillbaka.",
        message_id="loop@m",
        List_Id="Offentliga måltider <maltider.forum.localhost>",
    )
    verdict = gate.deliver(data)
    assert isinstance(verdict, Drop) and verdict.detail.startswith("loop")
    assert gate.count(Post) == 0 and gate.count(Outbox) == 0


@pytest.mark.parametrize(
    "subject",
    ["Autosvar: Matsvinn", "Automatiskt svar: Matsvinn", "Frånvaro v. 12", "Automatic reply: Hi"],
)
def test_auto_reply_subject_without_the_headers_is_held_not_dropped(
    gate: Gate, subject: str
) -> None:
    verdict = gate.deliver(
        mail("Anna <anna.andersson@molndal.se>", subject, "...", message_id="h@m")
    )
    assert isinstance(verdict, Hold) and "auto-reply" in verdict.detail
    assert gate.count(HeldPost) == 1 and gate.count(Post) == 0
    assert gate.notices("anna.andersson@molndal.se") == []  # a held auto-reply is never answered


# -- every decision leaves a trace ------------------------------------------------------------


def test_every_step_of_an_accepted_post_is_recorded_with_its_message_id(gate: Gate) -> None:
    ask_question(gate)
    trail = gate.trail(QUESTION_ID)
    steps = [step for step, _, _ in trail]
    for step in ("screen", "authenticate", "eligibility", "route", "store", "enqueue"):
        assert step in steps
    assert steps.index("screen") < steps.index("authenticate") < steps.index("eligibility")
    assert steps.index("eligibility") < steps.index("route") < steps.index("store")
    assert trail[-1][:2] == ("verdict", "accept") and trail[-1][2].startswith("250 2.0.0")
    assert ("enqueue", "note", "1 copies queued") in trail  # Erik; Anna wrote it


def test_why_a_mail_was_refused_can_be_read_from_the_log(
    gate: Gate, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="delapost.pipeline")
    gate.deliver(mail("Säljare <saljare@leverantor.se>", "Köp", "Grytor", message_id="why@x"))
    (line,) = [r.getMessage() for r in caplog.records if "<why@x>" in r.getMessage()]
    assert "reject 550 5.7.1" in line
    assert "screen: written by a person" in line
    assert "eligibility: leverantor.se is not in the public-sector registry" in line


# -- sender authentication (sender_auth = dmarc) ------------------------------------------------


@pytest.fixture
def dmarc_gate(ready_factory: sessionmaker[Session], clock: Clock) -> Gate:
    factory = ready_factory
    set_up_forum(factory, clock)
    config = make_config(
        clock, sender_auth="dmarc", trusted_authserv_ids=("mx.molndal.se",), dns_txt=no_records
    )
    return Gate(Pipeline(factory, config), factory, clock)


def no_records(name: str) -> list[str]:
    return []


def test_trusted_upstream_dmarc_pass_lets_a_post_in(dmarc_gate: Gate) -> None:
    results = b"Authentication-Results: mx.molndal.se; dmarc=pass header.from=molndal.se\r\n"
    data = mail("Anna <anna.andersson@molndal.se>", "Hej", "Text.", message_id="ok@m")
    assert isinstance(dmarc_gate.deliver(results + data), Accept)


def test_unproven_sender_is_refused_saying_so(dmarc_gate: Gate) -> None:
    data = mail("Anna <anna.andersson@molndal.se>", "Hej", "Text.", message_id="no@m")
    verdict = dmarc_gate.deliver(data)
    assert isinstance(verdict, Reject)
    assert (verdict.reply.code, verdict.reply.status) == (550, "5.7.1")
    assert "verifiera" in verdict.reply.swedish and "verify" in verdict.reply.english
    assert verdict.detail == "no DKIM signature"


def test_dns_trouble_while_proving_is_temporary(
    ready_factory: sessionmaker[Session], clock: Clock, dkim_keys: dict[str, bytes]
) -> None:
    factory = ready_factory

    def failing(name: str) -> list[str]:
        raise TemporaryDnsError(f"{name}: timeout")

    set_up_forum(factory, clock)
    gate = Gate(
        Pipeline(factory, make_config(clock, sender_auth="dmarc", dns_txt=failing)),
        factory,
        clock,
    )
    data = mail("Anna <anna.andersson@molndal.se>", "Hej", "Text.", message_id="dns@m")
    verdict = gate.deliver(sign(data, "molndal.se", dkim_keys["molndal.se"]))
    assert isinstance(verdict, Reject)
    assert (verdict.reply.code, verdict.reply.status) == (451, "4.4.3")
    assert gate.count(RawMessage) == 0


# -- the other forum addresses ----------------------------------------------------------------


def test_recipients_are_resolved_at_rcpt(gate: Gate) -> None:
    question = ask_question(gate)
    key = make_reply_key(SECRET, question.id)
    for ok in (
        "maltider@forum.localhost",
        "MALTIDER@Forum.Localhost",
        gate.address(Kind.REPLY, key),
        gate.address(Kind.JOIN),
        gate.address(Kind.LEAVE),
        gate.address(Kind.REQUEST),
        gate.address(Kind.OWNER),
        gate.address(Kind.BOUNCES, "anna.andersson=molndal.se"),
        gate.address(Kind.BOUNCES, "probe-abcdef"),
    ):
        assert gate.rcpt(ok) is None, ok
    for unknown in (
        "finnsinte@forum.localhost",
        "maltider@annan.example.se",
        gate.address(Kind.REPLY, "aaaa-bbbbbbbbbbbbb"),  # a guessed key
        gate.address(Kind.REPLY, key, topic="upphandling"),  # a key of another topic
        gate.address(Kind.CONFIRM, "nosuchtoken"),
        "maltider-nonsense@forum.localhost",
    ):
        refusal = gate.rcpt(unknown)
        assert refusal is not None and (refusal.code, refusal.status) == (550, "5.1.1"), unknown


def test_request_address_changes_delivery_and_answers(gate: Gate) -> None:
    request = gate.address(Kind.REQUEST)
    data = mail("Karin <karin.lund@vaxjo.se>", "sammanfattning varje", "", to=request)
    verdict = gate.deliver(data, to=request)
    assert isinstance(verdict, Accept)
    with gate.factory() as session:
        modes = (
            session.execute(
                select(Subscription.mode).join(Member).where(Member.email == "karin.lund@vaxjo.se")
            )
            .scalars()
            .all()
        )
    assert modes == [Mode.EACH]
    (answer,) = gate.notices("karin.lund@vaxjo.se")
    assert "varje inlägg" in answer.get_payload(decode=True).decode("utf-8")  # type: ignore[union-attr]


def test_join_address_asks_to_confirm_and_a_reply_joins(gate: Gate) -> None:
    join = gate.address(Kind.JOIN)
    gate.deliver(mail("Lena <lena.sjoberg@orebro.se>", "Hej", "", to=join), to=join)
    confirm = confirmation_address(gate, "lena.sjoberg@orebro.se")
    gate.deliver(mail("Lena <lena.sjoberg@orebro.se>", "SV: Svar", "ok", to=confirm), to=confirm)
    with gate.factory() as session:
        joined = session.scalar(
            select(Subscription).join(Member).where(Member.email == "lena.sjoberg@orebro.se")
        )
        assert joined is not None and joined.ended_at is None


def test_a_reply_saying_only_folj_follows_the_thread_and_is_not_posted(gate: Gate) -> None:
    question = ask_question(gate)
    key_address = gate.address(Kind.REPLY, make_reply_key(SECRET, question.id))
    data = mail("Karin <karin.lund@vaxjo.se>", "SV: Laktosfri", "Följ\n\nSkickat från min iPhone")
    assert isinstance(gate.deliver(data, to=key_address), Accept)
    assert gate.count(Post) == 1
    with gate.factory() as session:
        karin = session.scalar(select(Member.id).where(Member.email == "karin.lund@vaxjo.se"))
        follow = session.get(ThreadFollow, (karin, question.thread_id))
        assert follow is not None and follow.state is FollowState.FOLLOW


def test_owner_address_keeps_the_mail_and_passes_it_on(gate: Gate) -> None:
    owner = gate.address(Kind.OWNER)
    data = mail("Säljare <saljare@leverantor.se>", "Fråga om forumet", "Får vi vara med?", to=owner)
    assert isinstance(gate.deliver(data, to=owner), Hold)
    (forwarded,) = gate.notices("agare@molndal.se")
    assert str(make_header(decode_header(forwarded["Subject"]))) == "[maltider] Fråga om forumet"
    assert str(forwarded["Reply-To"]) == "saljare@leverantor.se"
    assert gate.count(HeldPost) == 1 and gate.count(Post) == 0


def test_bounce_address_scores_a_permanent_failure_against_the_member(gate: Gate) -> None:
    bounces = gate.address(Kind.BOUNCES, "anna.andersson=molndal.se")
    dsn = fixture("bounce-dsn").replace(b"johan.strom@kalmar.se", b"anna.andersson@molndal.se")
    verdict = gate.deliver(dsn, to=bounces, mail_from="")
    assert isinstance(verdict, Drop) and verdict.detail == "permanent bounce"
    assert any(
        "member #" in detail
        for step, _, detail in gate.trail("20260303095000.1A2B3C@mx.kalmar.se")
        if step == "bounce"
    )
    with gate.factory() as session:
        anna = session.scalars(select(Member).where(Member.email.like("anna%"))).one()
        assert anna.bounce_score == 1.0 and anna.last_bounce_at is not None
    assert gate.notices() == []


# -- the database away --------------------------------------------------------------------------


def test_database_unavailable_is_451_at_rcpt_and_data(clock: Clock) -> None:
    from mailgate.inbound import Inbound
    from models.db import make_engine, make_sessionmaker

    engine = make_engine("postgresql+psycopg://nobody@127.0.0.1:9/none?connect_timeout=2")
    try:
        pipeline = Pipeline(make_sessionmaker(engine), make_config(clock, lock_wait=0.2))
        refusal = pipeline.check_recipient_now("maltider@forum.localhost")
        assert refusal is not None and (refusal.code, refusal.status) == (451, "4.3.0")
        data = mail("Anna <anna.andersson@molndal.se>", "Hej", "Text")
        inbound = Inbound("a@molndal.se", ("maltider@forum.localhost",), data, "x", clock())
        verdict = pipeline.deliver_now(inbound)
        assert (verdict.reply.code, verdict.reply.status) == (451, "4.3.0")
        assert "Traceback" not in str(verdict.reply) and "psycopg" not in str(verdict.reply)
    finally:
        engine.dispose()


def test_reply_text_never_contains_exception_text() -> None:
    from mailgate import replies

    for reply in vars(replies).values():
        if isinstance(reply, replies.Reply):
            assert re.fullmatch(r"[245]\d\d", str(reply.code))
            assert re.fullmatch(r"[245]\.\d{1,3}\.\d{1,3}", reply.status)
            assert reply.status[0] == str(reply.code)[0]
            assert reply.swedish and reply.english and reply.swedish != reply.english
