"""Automatic mail is recognised (RFC 3834) and a person's mail is not mistaken for it."""

from __future__ import annotations

import re
from collections import Counter

import pytest

from mailgate.parse import parse
from mailgate.screen import Automail, classify
from tests.support.corpora import CORPORA

LIST_DOMAIN = "forum.localhost"
SISIMAI = CORPORA / "bounces-sisimai" / "maildir"
# Measured 601/629 (95.5 %) BOUNCE with a null envelope sender; the rest are AUTO_REPLY
# (ARF feedback reports, vacation replies, provider notifications) and are dropped just the same.
BOUNCE_FLOOR = 0.93


def _mail(headers: str, body: str = "Hej!\r\n") -> bytes:
    base = "From: Åsa Öberg <asa@vaxjo.example.se>\r\nTo: kost@forum.localhost\r\n"
    base += "Message-ID: <m1@vaxjo.example.se>\r\nDate: Tue, 3 Mar 2026 10:12:00 +0100\r\n"
    return (base + headers + "\r\n" + body).encode("utf-8")


def _kind(headers: str, mail_from: str = "asa@vaxjo.example.se") -> Automail:
    kind, reason = classify(parse(_mail(headers)), mail_from, list_domain=LIST_DOMAIN)
    assert reason
    return kind


def test_a_person_writing() -> None:
    assert _kind("Subject: Ekologisk gröt\r\n") is Automail.NONE
    assert _kind("Subject: SV: Frånvaro i köket\r\n") is Automail.NONE
    assert _kind("Subject: Om frånvaro\r\nAuto-Submitted: no\r\nPrecedence: normal\r\n") is (
        Automail.NONE
    )


def test_x_auto_response_suppress_is_only_a_request() -> None:
    assert _kind("Subject: Möte\r\nX-Auto-Response-Suppress: All\r\n") is Automail.NONE


@pytest.mark.parametrize("mail_from", ["", "<>", " <> "])
def test_null_sender(mail_from: str) -> None:
    assert _kind("Subject: Hej\r\n", mail_from) is Automail.AUTO_REPLY
    kind, _ = classify(
        parse(b"From: MAILER-DAEMON@mx.example.se\r\nSubject: failure\r\n\r\nx"),
        mail_from,
        list_domain=LIST_DOMAIN,
    )
    assert kind is Automail.BOUNCE
    report = "Subject: x\r\nContent-Type: multipart/report; report-type=feedback-report\r\n"
    assert _kind(report, mail_from) is Automail.BOUNCE


def test_delivery_status_report_is_a_bounce_whatever_the_envelope() -> None:
    headers = (
        "Subject: Returned mail\r\n"
        'Content-Type: multipart/report; boundary="b";\r\n report-type="delivery-status"\r\n'
    )
    assert _kind(headers) is Automail.BOUNCE


@pytest.mark.parametrize(
    "header",
    [
        "Auto-Submitted: auto-replied",
        "Auto-Submitted: auto-generated",
        "Auto-Submitted: Auto-Replied; owner-email=a@b.se",
        "Precedence: bulk",
        "Precedence: junk",
        "Precedence: list",
        "Precedence: auto_reply",
        "X-Autoreply: yes",
        "X-Autorespond: Hej",
        "X-Auto-Response: 1",
        "X-AutoReply-From: asa@vaxjo.example.se",
        "X-MS-Exchange-Inbox-Rules-Loop: asa@vaxjo.example.se",
        "X-MS-Exchange-Generated-Message-Source: Mailbox Rules Agent",
    ],
)
def test_auto_reply_headers(header: str) -> None:
    assert _kind(f"Subject: Ekologisk gröt\r\n{header}\r\n") is Automail.AUTO_REPLY


def test_exchange_out_of_office_in_swedish() -> None:
    headers = (
        "Subject: =?iso-8859-1?Q?Automatiskt_svar:_Ekologisk_gr=F6t?=\r\n"
        "Auto-Submitted: auto-generated\r\n"
        "X-MS-Exchange-Inbox-Rules-Loop: asa@vaxjo.example.se\r\n"
        "Thread-Topic: Ekologisk gröt\r\n"
    )
    kind, reason = classify(parse(_mail(headers)), "asa@vaxjo.example.se", list_domain=LIST_DOMAIN)
    assert (kind, reason) == (Automail.AUTO_REPLY, "Auto-Submitted: auto-generated")


@pytest.mark.parametrize(
    "header",
    [
        "X-Delapost-Loop: forum.localhost",
        "List-Id: Kost i skolan <kost.forum.localhost>",
        "List-Id: <KOST.Forum.Localhost.>",
    ],
)
def test_our_own_mail_coming_back(header: str) -> None:
    assert _kind(f"Subject: [kost] Ekologisk gröt\r\n{header}\r\n") is Automail.LOOP


def test_weak_signals_with_a_real_envelope_sender_are_held() -> None:
    report = "Subject: x\r\nContent-Type: multipart/report; report-type=feedback-report\r\n"
    assert _kind(report) is Automail.LOOKS_AUTOMATIC
    parsed = parse(b"From: Mail Delivery System <MAILER-DAEMON@mx.example.se>\r\n\r\nx")
    assert classify(parsed, "x@y.se", list_domain=LIST_DOMAIN)[0] is Automail.LOOKS_AUTOMATIC


def test_someone_elses_list_is_not_a_loop() -> None:
    assert _kind("Subject: Hej\r\nList-Id: <kost.forum.localhost.example.org>\r\n") is Automail.NONE
    assert _kind("Subject: Hej\r\nList-Id: <kost.evilforum.localhost>\r\n") is Automail.NONE


@pytest.mark.parametrize(
    "subject",
    [
        "Autosvar: Ekologisk gröt",
        "  automatiskt svar: Ekologisk gröt",
        "Frånvaro i köket",
        "Frånvaromeddelande",
        "Automatic reply: Meny v. 12",
        "Auto: Meny",
        "Out of Office: Meny",
        "Abwesenheitsnotiz: Meny",
        "Fraværsmelding: Meny",
    ],
)
def test_subject_alone_is_held_not_dropped(subject: str) -> None:
    assert _kind(f"Subject: {subject}\r\n") is Automail.LOOKS_AUTOMATIC


def _envelope_sender(parsed_return_path: str | None) -> str:
    match = re.search(r"<([^<>]*)>", parsed_return_path or "")
    return match.group(1) if match else (parsed_return_path or "").strip()


def test_sisimai_bounces_with_a_null_sender() -> None:
    files = sorted((SISIMAI / "bsd").glob("*.eml"))
    if not files:
        pytest.skip("no sisimai corpus")
    kinds = Counter(classify(parse(p.read_bytes()), "", list_domain=LIST_DOMAIN)[0] for p in files)
    assert kinds[Automail.BOUNCE] / len(files) >= BOUNCE_FLOOR, kinds
    # Nothing with a null sender is ever posted.
    assert set(kinds) <= {Automail.BOUNCE, Automail.AUTO_REPLY}


def test_sisimai_vacation_replies_and_non_bounces() -> None:
    vacation = sorted(SISIMAI.glob("*/rfc3834-*.eml"))
    if not vacation:
        pytest.skip("no sisimai corpus")
    for path in vacation:
        parsed = parse(path.read_bytes())
        kind, _ = classify(
            parsed, _envelope_sender(parsed.header("Return-Path")), list_domain=LIST_DOMAIN
        )
        assert kind in (Automail.AUTO_REPLY, Automail.LOOKS_AUTOMATIC), path
    for path in sorted((SISIMAI / "not").glob("is-not-bounce-*.eml")):
        parsed = parse(path.read_bytes())
        kind, _ = classify(
            parsed, _envelope_sender(parsed.header("Return-Path")), list_domain=LIST_DOMAIN
        )
        assert kind is Automail.NONE, path


def test_person_written_corpus_mail_is_not_automatic() -> None:
    files = sorted((CORPORA / "mail-parser-reply" / "test" / "emails").glob("*"))
    files += sorted((CORPORA / "talon" / "tests" / "fixtures").glob("*.eml"))
    if not files:
        pytest.skip("no reply corpora")
    kinds = Counter(
        classify(parse(p.read_bytes()), "someone@example.org", list_domain=LIST_DOMAIN)[0]
        for p in files
        if p.is_file()
    )
    assert kinds[Automail.AUTO_REPLY] == kinds[Automail.BOUNCE] == kinds[Automail.LOOP] == 0, kinds
