"""Raw bytes become one ParsedMessage value, whatever arrives, and never an exception."""

from __future__ import annotations

import base64
import quopri
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from mailgate.parse import html_to_text, parse, unflow
from tests.support.corpora import CORPORA


def _qp(text: str, charset: str) -> str:
    return quopri.encodestring(text.replace("\n", "\r\n").encode(charset)).decode("ascii")


OUTLOOK_TEXT = (
    "Hej alla,\n\nVi serverar “ekologisk” gröt – 12 € per portion… Någon som har erfarenhet?\n\n"
    "Med vänlig hälsning\nÅsa Öberg\nKostchef, Växjö kommun\n"
)
OUTLOOK_HTML = (
    '<html xmlns:o="urn:schemas-microsoft-com:office:office"><head>'
    '<meta http-equiv="Content-Type" content="text/html; charset=windows-1252">'
    "<style>p.MsoNormal {margin:0cm; font-family:Calibri}</style></head>"
    '<body lang="SV"><div class="WordSection1">'
    '<p class="MsoNormal">Hej alla,<o:p></o:p></p><p class="MsoNormal"><o:p>&nbsp;</o:p></p>'
    '<p class="MsoNormal">Vi serverar “ekologisk” gröt – 12 € per portion… Någon som har '
    "erfarenhet?<o:p></o:p></p>"
    '<p class="MsoNormal">Se <a href="https://www.livsmedelsverket.se/">Livsmedelsverket</a>'
    "</p></div></body></html>"
)
OUTLOOK = (
    "Received: from EX1.vaxjo.example.se (10.0.0.1) by EX2.vaxjo.example.se\r\n"
    " with Microsoft SMTP Server id 15.1.2507.39; Tue, 3 Mar 2026 10:12:01 +0100\r\n"
    "From: =?iso-8859-1?Q?=C5sa_=D6berg?= <Asa.Oberg@Vaxjo.Example.SE>\r\n"
    "To: kost <kost@forum.localhost>\r\n"
    "Subject: =?iso-8859-1?Q?SV:_Ekologisk_gr=F6t_i_f=F6rskolan?=\r\n"
    "Thread-Topic: =?iso-8859-1?Q?Ekologisk_gr=F6t?=\r\n"
    "Thread-Index: AQHZk3x5abcdefghijklmnopqrstuvwx==\r\n"
    "Date: Tue, 3 Mar 2026 09:12:00 +0000\r\n"
    "Message-ID:\r\n <DB9PR05MB1234ABCD@DB9PR05MB1234.eurprd05.prod.outlook.com>\r\n"
    "References: <a1@forum.localhost>\r\n <a2@forum.localhost>\r\n"
    "In-Reply-To: <a2@forum.localhost>\r\n"
    "Accept-Language: sv-SE, en-US\r\n"
    "Content-Language: sv-SE\r\n"
    "X-MS-Has-Attach: \r\n"
    "Content-Type: multipart/alternative;\r\n"
    '\tboundary="_000_DB9PR05MB1234_"\r\n'
    "MIME-Version: 1.0\r\n"
    "\r\n"
    "--_000_DB9PR05MB1234_\r\n"
    'Content-Type: text/plain; charset="iso-8859-1"\r\n'
    "Content-Transfer-Encoding: quoted-printable\r\n"
    "\r\n" + _qp(OUTLOOK_TEXT, "cp1252") + "\r\n"
    "--_000_DB9PR05MB1234_\r\n"
    'Content-Type: text/html; charset="iso-8859-1"\r\n'
    "Content-Transfer-Encoding: quoted-printable\r\n"
    "\r\n" + _qp(OUTLOOK_HTML, "cp1252") + "\r\n"
    "--_000_DB9PR05MB1234_--\r\n"
).encode("ascii")


def test_swedish_outlook_alternative_in_windows_1252_labelled_latin1() -> None:
    parsed = parse(OUTLOOK)
    assert parsed.message_id == "DB9PR05MB1234ABCD@DB9PR05MB1234.eurprd05.prod.outlook.com"
    assert parsed.subject == "SV: Ekologisk gröt i förskolan"
    assert parsed.from_address == "asa.oberg@vaxjo.example.se"
    assert parsed.from_name == "Åsa Öberg"
    assert parsed.date == datetime(2026, 3, 3, 9, 12, tzinfo=UTC)
    assert parsed.in_reply_to == ("a2@forum.localhost",)
    assert parsed.references == ("a1@forum.localhost", "a2@forum.localhost")
    # text/plain wins; the cp1252 bytes 0x80-0x9f are quotes, dash, euro and ellipsis.
    assert parsed.text.startswith("Hej alla,\n\nVi serverar “ekologisk” gröt – 12 € per portion…")
    assert "Åsa Öberg" in parsed.text
    assert parsed.html is not None
    assert "gröt" in parsed.html and "<style" not in parsed.html and "MsoNormal" not in parsed.html
    assert 'href="https://www.livsmedelsverket.se/"' in parsed.html
    assert parsed.attachments == () and parsed.refused_attachments == ()
    assert parsed.header("thread-topic") == "Ekologisk gröt"
    assert parsed.header("X-Missing") is None
    assert parsed.headers_all("Received")[0].startswith("from EX1.vaxjo.example.se (10.0.0.1)")


def test_latin1_base64_and_rfc2231_filename_and_refused_exe() -> None:
    body = base64.encodebytes("Bifogar policyn för måltider.\n".encode("latin-1")).decode()
    pdf = b"%PDF-1.7\n" + bytes(range(256)) * 4
    exe = b"MZ" + b"\x00" * 58 + (64).to_bytes(4, "little") + b"PE\x00\x00" + b"\x00" * 100
    raw = (
        "From: Bo Ek <bo.ek@lund.example.se>\r\n"
        "Subject: =?ISO-8859-1?B?TeVsdGlkc3BvbGljeQ==?=\r\n"
        "Date: Mon, 2 Mar 2026 08:00:00 +0100\r\n"
        "Message-ID: <policy-1@lund.example.se>\r\n"
        'Content-Type: multipart/mixed; boundary="XX"\r\n'
        "MIME-Version: 1.0\r\n\r\n"
        "--XX\r\n"
        "Content-Type: text/plain; charset=ISO-8859-1\r\n"
        "Content-Transfer-Encoding: base64\r\n\r\n" + body + "\r\n"
        "--XX\r\n"
        "Content-Type: application/pdf\r\n"
        "Content-Disposition: attachment;\r\n"
        " filename*0*=UTF-8''M%C3%A5ltidspolicy%20;\r\n"
        " filename*1*=2026.pdf\r\n"
        "Content-Transfer-Encoding: base64\r\n\r\n" + base64.encodebytes(pdf).decode() + "\r\n"
        "--XX\r\n"
        'Content-Type: application/octet-stream; name="schema.exe"\r\n'
        'Content-Disposition: attachment; filename="schema.exe"\r\n'
        "Content-Transfer-Encoding: base64\r\n\r\n" + base64.encodebytes(exe).decode() + "\r\n"
        "--XX\r\n"
        'Content-Type: application/pdf; name="faktura.pdf"\r\n'
        "Content-Transfer-Encoding: base64\r\n\r\n" + base64.encodebytes(exe).decode() + "\r\n"
        "--XX--\r\n"
    ).encode("ascii")
    parsed = parse(raw)
    assert parsed.subject == "Måltidspolicy"
    assert parsed.date == datetime(2026, 3, 2, 8, 0, tzinfo=timezone(timedelta(hours=1)))
    assert parsed.text == "Bifogar policyn för måltider."
    assert [(a.filename, a.content_type, a.data) for a in parsed.attachments] == [
        ("Måltidspolicy 2026.pdf", "application/pdf", pdf)
    ]
    # By name, and by content: a Windows executable dressed up as a PDF.
    assert parsed.refused_attachments == ("schema.exe", "faktura.pdf")


def test_attachment_over_the_size_limit_is_refused() -> None:
    raw = (
        b"From: a@b.se\r\nContent-Type: multipart/mixed; boundary=B\r\n\r\n--B\r\n"
        b"Content-Type: text/plain\r\n\r\nhej\r\n--B\r\nContent-Type: image/png\r\n"
        b"Content-Disposition: attachment; filename=stor.png\r\n\r\n"
        + b"x" * 2000
        + b"\r\n--B--\r\n"
    )
    parsed = parse(raw, max_attachment_bytes=1000)
    assert parsed.attachments == ()
    assert parsed.refused_attachments == ("stor.png",)
    assert parse(raw).attachments[0].filename == "stor.png"


def test_html_only_with_script_and_onerror() -> None:
    markup = (
        "<html><head><title>Nyhetsbrev</title><style>body{color:red}</style></head><body>"
        "<script>alert('x')</script><p>Hej &amp; v&auml;lkomna!</p>"
        '<img src="https://tracker.example/p.gif" onerror="alert(1)">'
        '<p>L&auml;s <a href="https://skr.example.se/mat">mer h&auml;r</a> och '
        '<a href="javascript:alert(2)">inte h&auml;r</a>.</p>'
        "<ul><li>Frukost</li><li>Lunch</li></ul>Rad ett<br>Rad två"
        "<blockquote><p>Citerad text</p></blockquote></body></html>"
    )
    raw = (
        "From: nyheter@kommun.example.se\r\nSubject: Nyhetsbrev\r\n"
        "Content-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n" + markup
    ).encode("utf-8")
    parsed = parse(raw)
    assert parsed.text == (
        "Hej & välkomna!\n\nLäs mer här <https://skr.example.se/mat> och inte här.\n\n"
        "- Frukost\n- Lunch\n\nRad ett\nRad två\n\n> Citerad text"
    )
    assert parsed.html is not None
    for bad in ("script", "alert", "onerror", "<img", "javascript", "<style", "Nyhetsbrev"):
        assert bad not in parsed.html
    assert '<a href="https://skr.example.se/mat" rel="noopener noreferrer nofollow">' in parsed.html


def test_html_to_text_keeps_structure() -> None:
    assert (
        html_to_text("<p>a</p><p>b<br><br>c</p><ol><li>x<li>y</ol>") == "a\n\nb\n\nc\n\n1. x\n2. y"
    )
    assert html_to_text("<div>Mejla <a href='mailto:a@b.se'>a@b.se</a></div>") == "Mejla a@b.se"
    assert html_to_text("<pre>  kod\n  rad</pre>") == "  kod\n  rad"


def test_format_flowed_with_and_without_delsp() -> None:
    assert unflow(
        "Hej det h\u00e4r \u00e4r \nen rad.\n> citat \n> forts\u00e4tter\n-- \nBo", delsp=False
    ) == ("Hej det här är en rad.\n> citat fortsätter\n-- \nBo")
    assert unflow("Mycket-\u00ad \nlång", delsp=True) == "Mycket-\u00adlång"
    raw = (
        b"From: bo@x.se\r\n"
        b"Content-Type: text/plain; charset=utf-8; format=flowed; delsp=yes\r\n\r\n"
        b"Ett l\xc3\xa5 \r\nngt ord som  \r\nbryts.\r\n >Fr\xc3\xa5n b\xc3\xb6rjan\r\n"
    )
    assert parse(raw).text == "Ett långt ord som bryts.\n>Från början"


def test_nested_message_and_inline_images_are_attachments() -> None:
    raw = (
        b"From: a@b.se\r\nSubject: Fwd\r\nContent-Type: multipart/mixed; boundary=M\r\n\r\n"
        b"--M\r\nContent-Type: multipart/related; boundary=R\r\n\r\n"
        b"--R\r\nContent-Type: multipart/alternative; boundary=A\r\n\r\n"
        b"--A\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\nSe nedan.\r\n"
        b"--A\r\nContent-Type: text/html; charset=us-ascii\r\n\r\n"
        b'<p>Se nedan.<img src="cid:logo"></p>\r\n--A--\r\n'
        b"--R\r\nContent-Type: image/png\r\nContent-ID: <logo>\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\niVBORw0KGgo=\r\n--R--\r\n"
        b"--M\r\nContent-Type: message/rfc822\r\n\r\n"
        b"From: c@d.se\r\nSubject: =?utf-8?q?Inneh=C3=A5ll?=\r\n\r\nInre text\r\n"
        b"--M--\r\n"
    )
    parsed = parse(raw)
    assert parsed.text == "Se nedan."
    assert [(a.filename, a.content_type) for a in parsed.attachments] == [
        ("bilaga.png", "image/png"),
        ("Innehåll.eml", "message/rfc822"),
    ]
    assert parsed.attachments[0].data == b"\x89PNG\r\n\x1a\n"
    assert b"Inre text" in parsed.attachments[1].data


def test_smtputf8_raw_headers_and_unknown_charset() -> None:
    raw = (
        "From: Åsa Ström <åsa.ström@kommun.example.se>\r\n"
        "Subject: Frånvaro i köket\r\n"
        "Message-ID: <x1@kommun.example.se>\r\n"
        "Content-Type: text/plain; charset=x-bogus-charset\r\n\r\n"
        "Hälsningar\r\n"
    ).encode()
    parsed = parse(raw)
    assert parsed.from_address == "åsa.ström@kommun.example.se"
    assert parsed.from_name == "Åsa Ström"
    assert parsed.subject == "Frånvaro i köket"
    assert parsed.text == "Hälsningar"


def test_raw_cp1252_header_and_unlabelled_8bit_body() -> None:
    raw = b'From: "\xc5sa" <asa@x.se>\r\nSubject: M\xe5ltid\r\n\r\nK\xf6ket \x96 \x80\r\n'
    parsed = parse(raw)
    assert (parsed.subject, parsed.from_name, parsed.text) == ("Måltid", "Åsa", "Köket – €")


def test_messy_from_headers() -> None:
    def sender(value: str) -> tuple[str | None, str]:
        parsed = parse(f"From: {value}\r\n\r\nx".encode())
        return parsed.from_address, parsed.from_name

    assert sender('"Öberg, Åsa" <Asa@Kommun.SE>') == ("asa@kommun.se", "Öberg, Åsa")
    assert sender("Anna Astrom anna@kommun.se") == ("anna@kommun.se", "Anna Astrom")
    assert sender("anna@kommun.se (Anna)") == ("anna@kommun.se", "Anna")
    assert sender('"=?utf-8?q?=C3=85sa?=" <a@b.se>') == ("a@b.se", "Åsa")
    assert sender("<>") == (None, "")
    assert sender("undisclosed-recipients:;") == (None, "undisclosed-recipients:;")


def test_missing_headers_and_garbage() -> None:
    parsed = parse(b"")
    assert (parsed.message_id, parsed.subject, parsed.from_address, parsed.date) == (
        None,
        "",
        None,
        None,
    )
    assert parsed.text == ""
    assert "no From address" in parsed.defects
    weird = parse(b"\x00\xff\xfe garbage \x80\r\n\r\n\x00body\xff")
    assert isinstance(weird.text, str) and "\x00" not in weird.text
    bad = parse(
        b"From: a@b.se\r\nDate: not a date\r\nMessage-ID: no-brackets@x\r\n"
        b"Content-Type: multipart/mixed\r\n\r\nbody without boundary\r\n"
    )
    assert bad.message_id == "no-brackets@x"
    assert bad.date is None and bad.text == "body without boundary"
    assert any("Date" in d for d in bad.defects)
    assert parse(b"Date: Tue, 3 Mar 2026 10:12:00 -0000\r\n\r\n").date == datetime(
        2026, 3, 3, 10, 12, tzinfo=UTC
    )


def test_deep_nesting_and_broken_base64_do_not_raise() -> None:
    deep = b"".join(
        f"Content-Type: multipart/mixed; boundary=b{i}\r\n\r\n--b{i}\r\n".encode()
        for i in range(200)
    )
    assert isinstance(parse(b"From: a@b.se\r\n" + deep + b"\r\nx").text, str)
    # Found by fuzzing: the stdlib's own get_payload() raises on this one.
    nul = parse(b'Content-Type: text/plain; charset="utf\x00x"\r\n\r\nK\xf6k\r\n')
    assert nul.text == "Kök" and not any(d.startswith("unparseable") for d in nul.defects)
    broken = b"Content-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\n!!!notb64=\r\n"
    assert isinstance(parse(broken).text, str)


@pytest.mark.parametrize(
    "name",
    ["../../etc/passwd", "C:\\Users\\x\\evil.txt", "CON.txt", " .hidden ", "a\x00b.pdf", ""],
)
def test_attachment_names_are_safe(name: str) -> None:
    raw = (
        b"Content-Type: multipart/mixed; boundary=B\r\n\r\n--B\r\nContent-Type: application/pdf\r\n"
        b'Content-Disposition: attachment; filename="'
        + name.encode()
        + b'"\r\n\r\ndata\r\n--B--\r\n'
    )
    (part,) = parse(raw).attachments
    assert part.filename and "/" not in part.filename and "\\" not in part.filename
    assert not part.filename.startswith(".") and "\x00" not in part.filename
    assert part.filename.lower() != "con.txt"
    if not name:
        assert part.filename == "bilaga.pdf"


def _corpus_files() -> list[Path]:
    if not CORPORA.is_dir():
        return []
    return sorted(p for p in CORPORA.rglob("*") if p.is_file())


def test_every_corpus_file_parses() -> None:
    files = _corpus_files()
    if not files:
        pytest.skip(f"no corpora at {CORPORA}")
    for path in files:
        parsed = parse(path.read_bytes())
        assert isinstance(parsed.text, str), path
        assert isinstance(parsed.subject, str), path
        parsed.text.encode("utf-8")  # storable: no lone surrogates
        assert not any(d.startswith("unparseable") for d in parsed.defects), path
