"""Our DKIM signature on outgoing copies: dkimpy verifies it, and any tampering breaks it."""

from __future__ import annotations

import base64
import stat
from pathlib import Path

import dkim
import dkim.util
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from mailgate.outbound.dkim_keys import dns_record, generate_key
from mailgate.outbound.dkim_sign import DkimSigner, load_signer

DOMAIN = "forum.example.se"
SELECTOR = "delapost"


@pytest.fixture(scope="session")
def key_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("dkim") / "dkim.key"
    generate_key(path)
    return path


@pytest.fixture(scope="session")
def record(key_file: Path) -> str:
    return dns_record(key_file.read_bytes())


@pytest.fixture(scope="session")
def signer(key_file: Path) -> DkimSigner:
    return DkimSigner(domain=DOMAIN, selector=SELECTOR, private_key_pem=key_file.read_bytes())


def verifies(message: bytes, record: str) -> bool:
    def dnsfunc(name: bytes, timeout: float = 5) -> bytes:
        assert name == f"{SELECTOR}._domainkey.{DOMAIN}.".encode()
        return record.encode()

    return bool(dkim.verify(message, dnsfunc=dnsfunc))


def signature_tags(signed: bytes) -> dict[bytes, bytes]:
    d = dkim.DKIM(signed)
    value = next(v for n, v in d.headers if n.lower() == b"dkim-signature")
    tags: dict[bytes, bytes] = dkim.util.parse_tag_value(value)
    return tags


def signed_names(signed: bytes) -> list[str]:
    return [n.strip().decode() for n in signature_tags(signed)[b"h"].split(b":")]


MESSAGE = (
    'From: "Anna Åström via Kost" <kost@forum.example.se>\r\n'
    "Reply-To: kost+k7f3@forum.example.se\r\n"
    "To: kost@forum.example.se\r\n"
    "Subject: [Kost] Laktosfri mjölk i förskolan –  vem levererar?\r\n"
    "Date: Tue, 03 Mar 2026 10:12:00 +0100\r\n"
    "Message-ID: <a1b2c3@molndal.se>\r\n"
    "In-Reply-To: <x9@vaxjo.se>\r\n"
    "References: <x8@vaxjo.se>\r\n <x9@vaxjo.se>\r\n"
    "List-Id: Kost <kost.forum.example.se>\r\n"
    "List-Post: <mailto:kost@forum.example.se>\r\n"
    "List-Unsubscribe: <https://forum.example.se/u/OPAQUE>,\r\n"
    " <mailto:kost-leave@forum.example.se>\r\n"
    "List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"
    "List-Archive: <https://forum.example.se/kost/>\r\n"
    "Precedence: list\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n"
    "Content-Transfer-Encoding: 8bit\r\n"
    "\r\n"
    "Hej alla,\r\n"
    "\r\n"
    "Vi  har\tsamma problem i Växjö.   \r\n"
    "Med vänlig hälsning\r\n"
    "Åsa Öberg, kostchef\r\n"
    "\r\n"
    "\r\n"
).encode()


def test_signature_verifies_with_dkimpy(signer: DkimSigner, record: str) -> None:
    signed = signer.sign(MESSAGE)

    assert signed.startswith(b"DKIM-Signature: ")
    assert signed.endswith(MESSAGE)
    assert verifies(signed, record)
    tags = signature_tags(signed)
    assert tags[b"a"] == b"rsa-sha256"
    assert tags[b"c"] == b"relaxed/relaxed"
    assert tags[b"d"] == DOMAIN.encode()
    assert tags[b"s"] == SELECTOR.encode()


def test_signature_lines_are_short(signer: DkimSigner) -> None:
    header = signer.sign(MESSAGE)[: -len(MESSAGE)]
    assert all(len(line) <= 78 for line in header.split(b"\r\n"))


def test_every_listed_header_present_is_signed_once_more_than_it_occurs(
    signer: DkimSigner,
) -> None:
    names = signed_names(signer.sign(MESSAGE))

    for name in (
        "from", "reply-to", "to", "subject", "date", "message-id", "in-reply-to",
        "references", "list-id", "list-post", "list-unsubscribe", "list-unsubscribe-post",
        "list-archive", "mime-version", "content-type",
    ):  # fmt: skip
        assert names.count(name) == 2, name
    assert "precedence" not in names
    assert "content-transfer-encoding" not in names
    assert "cc" not in names  # absent headers are not listed


@pytest.mark.parametrize(
    ("old", "new"),
    [
        (b"Subject: [Kost] Laktosfri", b"Subject: [Kost] Laktosfria"),
        (b"List-Unsubscribe=One-Click", b"List-Unsubscribe=One-Clock"),
        (b"<https://forum.example.se/u/OPAQUE>", b"<https://evil.example/u/OPAQUE>"),
        (b"References: <x8@vaxjo.se>", b"References: <x7@vaxjo.se>"),
    ],
)
def test_changing_a_signed_header_breaks_it(
    signer: DkimSigner, record: str, old: bytes, new: bytes
) -> None:
    signed = signer.sign(MESSAGE)
    assert old in signed
    assert not verifies(signed.replace(old, new), record)


@pytest.mark.parametrize(
    "added",
    [
        "Subject: Köp våra nya kastruller!\r\n".encode(),
        b"From: seller@vendor.com\r\n",
        b"List-Unsubscribe: <https://evil.example/u/x>\r\n",
        b"List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n",
    ],
)
def test_adding_another_instance_of_a_signed_header_breaks_it(
    signer: DkimSigner, record: str, added: bytes
) -> None:
    signed = signer.sign(MESSAGE)
    body_at = signed.index(b"\r\n\r\n") + 2
    assert not verifies(signed[:body_at] + added + signed[body_at:], record)


def test_relaxed_canonicalisation_survives_refolding_and_unsigned_headers(
    signer: DkimSigner, record: str
) -> None:
    signed = signer.sign(MESSAGE)
    rewritten = signed.replace(b"Subject: [Kost] Laktosfri", b"subject:   [Kost]\r\n\tLaktosfri")
    rewritten = rewritten.replace(b"Precedence: list\r\n", b"")
    rewritten = b"Received: from mx by relay; Tue, 3 Mar 2026 10:12:01 +0100\r\n" + rewritten
    assert verifies(rewritten, record)


@pytest.mark.parametrize(
    ("old", "new"),
    [
        (b"samma problem", b"annat problem"),
        (b"\xc3\x85sa \xc3\x96berg", b"\xc3\x85sa Oberg"),
        (b"kostchef\r\n", b"kostchef\r\nKlicka h\xc3\xa4r: https://evil.example\r\n"),
    ],
)
def test_changing_the_body_breaks_it(
    signer: DkimSigner, record: str, old: bytes, new: bytes
) -> None:
    signed = signer.sign(MESSAGE)
    assert not verifies(signed.replace(old, new), record)


def test_raw_utf8_headers_and_8bit_latin1_body(signer: DkimSigner, record: str) -> None:
    message = (
        "From: Åsa Öberg <åsa.öberg@växjö.se>\r\n"
        "To: kost@forum.example.se\r\n"
        "Subject: Måltidsmiljö på äldreboenden – erfarenheter?\r\n"
        "Content-Type: text/plain; charset=iso-8859-1\r\n"
        "\r\n"
    ).encode() + "Hälsningar från Göteborg. Ärtsoppa på torsdag!\r\n".encode("latin-1")
    signed = signer.sign(message)

    assert verifies(signed, record)
    assert not verifies(signed.replace("Måltidsmiljö".encode(), b"Maltidsmiljo"), record)
    assert not verifies(signed.replace("Ärtsoppa".encode("latin-1"), b"Artsoppa"), record)


def test_lf_only_message_is_signed_with_lf(signer: DkimSigner, record: str) -> None:
    message = MESSAGE.replace(b"\r\n", b"\n")
    signed = signer.sign(message)

    assert b"\r" not in signed
    assert verifies(signed, record)
    assert verifies(signed.replace(b"\n", b"\r\n"), record)


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"\r\n",
        b"\r\n\r\n",
        b"x",
        b"x  \t",
        b"x \r\n\r\n",
        b" a\t b  \r\n\tc\r\n",
        b"\xe5\xe4\xf6\r\n",
    ],
)
def test_body_edge_cases_verify_and_hash_like_dkimpy(
    signer: DkimSigner, record: str, key_file: Path, body: bytes
) -> None:
    message = b"From: a@molndal.se\r\nSubject: x\r\n\r\n" + body
    signed = signer.sign(message)
    assert verifies(signed, record)

    transported = message if message.endswith(b"\r\n") else message + b"\r\n"
    theirs = dkim.sign(
        transported,
        SELECTOR.encode(),
        DOMAIN.encode(),
        key_file.read_bytes(),
        canonicalize=(b"relaxed", b"relaxed"),
    )
    assert signature_tags(signed)[b"bh"] == signature_tags(theirs + transported)[b"bh"]


def test_message_without_from_is_refused(signer: DkimSigner) -> None:
    with pytest.raises(ValueError, match="From"):
        signer.sign(b"Subject: x\r\n\r\nbody\r\n")


def test_fixed_clock_gives_t_tag(key_file: Path) -> None:
    fixed = DkimSigner(
        domain=DOMAIN, selector=SELECTOR, private_key_pem=key_file.read_bytes(), clock=lambda: 1e9
    )
    assert signature_tags(fixed.sign(MESSAGE))[b"t"] == b"1000000000"


def test_keygen_writes_a_private_file_and_a_parsable_record(tmp_path: Path) -> None:
    path = tmp_path / "dkim.key"
    record = generate_key(path)

    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    pem = path.read_bytes()
    assert pem.startswith(b"-----BEGIN PRIVATE KEY-----")  # PKCS#8
    assert record == dns_record(pem)
    tags = dkim.util.parse_tag_value(record.encode())
    assert tags[b"v"] == b"DKIM1"
    assert tags[b"k"] == b"rsa"
    public = serialization.load_der_public_key(base64.b64decode(tags[b"p"]))
    assert isinstance(public, rsa.RSAPublicKey)
    assert public.key_size == 2048


def test_keygen_refuses_to_overwrite(tmp_path: Path) -> None:
    path = tmp_path / "dkim.key"
    path.write_bytes(b"the published key")

    with pytest.raises(FileExistsError):
        generate_key(path)
    assert path.read_bytes() == b"the published key"


def test_load_signer(key_file: Path, tmp_path: Path, record: str) -> None:
    assert load_signer(tmp_path / "missing.key", domain=DOMAIN, selector=SELECTOR) is None
    loaded = load_signer(key_file, domain=DOMAIN, selector=SELECTOR)
    assert loaded is not None
    assert verifies(loaded.sign(MESSAGE), record)
