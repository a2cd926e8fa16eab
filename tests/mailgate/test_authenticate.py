"""Inbound sender authentication against a real DNS server on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import dkim
import pytest

from mailgate.authenticate import (
    AuthResult,
    DnsTxt,
    TemporaryDnsError,
    authenticate,
    strip_forged_results,
    system_dns_txt,
)
from mailgate.outbound.dkim_keys import dns_record, generate_key
from mailgate.outbound.dkim_sign import DkimSigner
from tests.support.dns_server import DnsServer

OWN_ID = "forum.example.se"
TRUSTED_ID = "mx.molndal.se"
SELECTOR = "sel2026"


@pytest.fixture(scope="session")
def pem(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    path = tmp_path_factory.mktemp("keys") / "molndal.key"
    generate_key(path)
    return path.read_bytes()


@pytest.fixture(scope="session")
def other_pem(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    path = tmp_path_factory.mktemp("keys") / "vendor.key"
    generate_key(path)
    return path.read_bytes()


@pytest.fixture(scope="module")
def dns_address(pem: bytes, other_pem: bytes) -> Iterator[str]:
    records = {
        f"{SELECTOR}._domainkey.molndal.se": [dns_record(pem)],
        f"{SELECTOR}._domainkey.vendor.com": [dns_record(other_pem)],
        f"{SELECTOR}._domainkey.evil.fhsk.se": [dns_record(other_pem)],
        "molndal.se": ["v=spf1 include:spf.protection.outlook.com -all"],
    }
    with DnsServer(records) as address:
        yield address


@pytest.fixture
def dns_txt(dns_address: str) -> DnsTxt:
    return system_dns_txt(dns_address, timeout=2.0)


def no_dns(name: str) -> list[str]:
    raise AssertionError(f"no DNS look-up expected, got {name}")


def message(from_address: str = "anna.astrom@molndal.se", extra: str = "") -> bytes:
    return (
        f"{extra}"
        f"From: Anna Åström <{from_address}>\r\n"
        "To: kost@forum.example.se\r\n"
        "Subject: Laktosfri mjölk i förskolan\r\n"
        "Date: Tue, 03 Mar 2026 10:12:00 +0100\r\n"
        "Message-ID: <a1b2c3@molndal.se>\r\n"
        "MIME-Version: 1.0\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n"
        "Content-Transfer-Encoding: 8bit\r\n"
        "\r\n"
        "Hej alla,\r\n\r\nVem levererar laktosfri mjölk till förskolorna i Mölndal?\r\n"
        "Med vänlig hälsning\r\nAnna\r\n"
    ).encode()


def signed_by(pem: bytes, domain: str, raw: bytes) -> bytes:
    return DkimSigner(domain=domain, selector=SELECTOR, private_key_pem=pem).sign(raw)


def check(
    raw: bytes,
    dns_txt: DnsTxt,
    from_domain: str | None = "molndal.se",
    trusted: tuple[str, ...] = (TRUSTED_ID,),
) -> AuthResult:
    return authenticate(
        raw, from_domain, dns_txt=dns_txt, trusted_authserv_ids=trusted, own_authserv_id=OWN_ID
    )


def test_aligned_dkim_signature_passes(pem: bytes, dns_txt: DnsTxt) -> None:
    result = check(signed_by(pem, "molndal.se", message()), dns_txt)
    assert result == AuthResult(True, False, "dkim=pass d=molndal.se")


def test_signature_of_the_parent_domain_aligns_with_a_sub_domain(
    pem: bytes, dns_txt: DnsTxt
) -> None:
    raw = signed_by(pem, "molndal.se", message("kock@skola.molndal.se"))
    assert check(raw, dns_txt, "skola.molndal.se").passed


def test_from_domain_is_compared_without_case(pem: bytes, dns_txt: DnsTxt) -> None:
    assert check(signed_by(pem, "molndal.se", message()), dns_txt, "Molndal.SE").passed


def test_altered_body_fails(pem: bytes, dns_txt: DnsTxt) -> None:
    raw = signed_by(pem, "molndal.se", message()).replace(b"Hej alla", b"Hej allihop")
    result = check(raw, dns_txt)

    assert not result.passed
    assert not result.temporary
    assert "dkim=fail d=molndal.se" in result.reason
    assert "body hash mismatch" in result.reason


def test_altered_subject_fails(pem: bytes, dns_txt: DnsTxt) -> None:
    raw = signed_by(pem, "molndal.se", message()).replace(b"Laktosfri", b"Billig")
    result = check(raw, dns_txt)
    assert not result.passed
    assert result.reason == "dkim=fail d=molndal.se (signature does not verify)"


def test_missing_signature_fails_with_a_clear_reason(dns_txt: DnsTxt) -> None:
    assert check(message(), dns_txt) == AuthResult(False, False, "no DKIM signature")


def test_signature_by_another_domain_is_not_aligned(other_pem: bytes, dns_txt: DnsTxt) -> None:
    raw = signed_by(other_pem, "vendor.com", message())
    result = check(raw, dns_txt)
    assert result == AuthResult(False, False, "no aligned DKIM signature (d=vendor.com)")


def test_sibling_in_a_shared_swedish_zone_is_not_aligned(other_pem: bytes, dns_txt: DnsTxt) -> None:
    raw = signed_by(other_pem, "evil.fhsk.se", message("rektor@skolan.fhsk.se"))
    assert not check(raw, dns_txt, "skolan.fhsk.se").passed


def test_aligned_one_among_several_signatures_passes(
    pem: bytes, other_pem: bytes, dns_txt: DnsTxt
) -> None:
    raw = signed_by(other_pem, "vendor.com", signed_by(pem, "molndal.se", message()))
    assert check(raw, dns_txt).passed


def test_signature_with_unpublished_selector_fails(dns_txt: DnsTxt, other_pem: bytes) -> None:
    raw = DkimSigner(domain="molndal.se", selector="gammal", private_key_pem=other_pem).sign(
        message()
    )
    result = check(raw, dns_txt)
    assert not result.passed
    assert not result.temporary
    assert "no key published at gammal._domainkey.molndal.se" in result.reason


def test_key_of_another_domain_does_not_verify(other_pem: bytes, dns_txt: DnsTxt) -> None:
    # Signed with vendor.com's key but claiming d=molndal.se: molndal.se's key does not match.
    result = check(signed_by(other_pem, "molndal.se", message()), dns_txt)
    assert not result.passed
    assert not result.temporary


def test_dns_not_answering_is_temporary(pem: bytes) -> None:
    with DnsServer({}, mode="silent") as address:
        result = check(signed_by(pem, "molndal.se", message()), system_dns_txt(address, 0.3))
    assert result.passed is False
    assert result.temporary is True
    assert result.reason.startswith("dns temperror for d=molndal.se")


def test_servfail_is_temporary(pem: bytes) -> None:
    with DnsServer({}, mode="servfail") as address:
        result = check(signed_by(pem, "molndal.se", message()), system_dns_txt(address, 1.0))
    assert result.temporary


def test_system_dns_txt_answers_and_nxdomain(dns_txt: DnsTxt, pem: bytes) -> None:
    assert dns_txt(f"{SELECTOR}._domainkey.molndal.se") == [dns_record(pem)]  # > 255 octets
    assert dns_txt(f"{SELECTOR}._domainkey.molndal.se.") == [dns_record(pem)]
    assert dns_txt("nowhere.molndal.se") == []
    assert dns_txt("a..b") == []


def test_system_dns_txt_raises_temporary_error_on_timeout() -> None:
    with DnsServer({}, mode="silent") as address, pytest.raises(TemporaryDnsError):
        system_dns_txt(address, timeout=0.3)("molndal.se")


def ar(authserv_id: str, results: str) -> str:
    return f"Authentication-Results: {authserv_id};\r\n\t{results}\r\n"


def test_trusted_upstream_dmarc_pass_passes_without_dns() -> None:
    raw = message(
        extra=ar(TRUSTED_ID, "dkim=pass header.d=molndal.se; dmarc=pass header.from=molndal.se")
    )
    result = check(raw, no_dns)
    assert result.passed
    assert result.reason == f"dmarc=pass header.from=molndal.se by {TRUSTED_ID}"


def test_trusted_id_matches_without_case_and_after_a_comment() -> None:
    raw = message(
        extra="Authentication-Results: (Microsoft) MX.Molndal.SE 1; "
        "dmarc=pass (p=reject) header.from=Molndal.se\r\n"
    )
    assert check(raw, no_dns).passed


def test_trusted_dmarc_pass_for_another_domain_does_not_count(dns_txt: DnsTxt) -> None:
    raw = message(extra=ar(TRUSTED_ID, "dmarc=pass header.from=vendor.com"))
    result = check(raw, dns_txt)
    assert not result.passed
    assert "header.from=vendor.com" in result.reason


def test_untrusted_results_are_ignored(dns_txt: DnsTxt) -> None:
    raw = message(extra=ar("mx.vendor.com", "dmarc=pass header.from=molndal.se"))
    assert check(raw, dns_txt) == AuthResult(False, False, "no DKIM signature")


def test_only_the_topmost_trusted_result_counts(dns_txt: DnsTxt) -> None:
    planted_below = ar(TRUSTED_ID, "dmarc=pass header.from=molndal.se")
    topmost = ar(TRUSTED_ID, "dmarc=fail header.from=molndal.se")
    result = check(message(extra=topmost + planted_below), dns_txt)
    assert not result.passed
    assert f"{TRUSTED_ID} reports dmarc=fail" in result.reason


def test_trusted_failure_does_not_hide_a_good_signature(pem: bytes, dns_txt: DnsTxt) -> None:
    raw = message(extra=ar(TRUSTED_ID, "dmarc=fail header.from=molndal.se"))
    assert check(signed_by(pem, "molndal.se", raw), dns_txt).passed


def test_results_claiming_our_own_id_never_count(dns_txt: DnsTxt) -> None:
    raw = message(extra=ar(OWN_ID, "dmarc=pass header.from=molndal.se"))
    assert not check(raw, dns_txt, trusted=(OWN_ID, TRUSTED_ID)).passed


def test_forged_own_id_results_are_stripped() -> None:
    forged = (
        "Authentication-Results: (forged) Forum.Example.SE;\r\n"
        "\tdmarc=pass header.from=molndal.se\r\n"
    )
    keep = ar(TRUSTED_ID, "dmarc=pass header.from=molndal.se")
    keep_other = "Authentication-Results: forum.example.se.evil.com; dkim=pass\r\n"
    clean = message(extra="Received: from x by y; Tue, 3 Mar 2026 10:12:00 +0100\r\n" + keep)
    raw = message(
        extra=forged
        + "Received: from x by y; Tue, 3 Mar 2026 10:12:00 +0100\r\n"
        + keep
        + 'authentication-results : "forum.example.se"; none\r\n'
    )

    assert strip_forged_results(raw, OWN_ID) == clean
    assert strip_forged_results(clean, OWN_ID) == clean
    assert strip_forged_results(message(extra=keep_other), OWN_ID) == message(extra=keep_other)


def test_body_lines_that_look_like_results_are_not_touched() -> None:
    raw = message() + f"Authentication-Results: {OWN_ID}; dmarc=pass\r\n".encode()
    assert strip_forged_results(raw, OWN_ID) == raw


def test_lf_only_message(pem: bytes, dns_txt: DnsTxt) -> None:
    raw = signed_by(pem, "molndal.se", message()).replace(b"\r\n", b"\n")
    assert check(raw, dns_txt).passed
    forged = message(extra=ar(OWN_ID, "dmarc=pass")).replace(b"\r\n", b"\n")
    assert strip_forged_results(forged, OWN_ID) == message().replace(b"\r\n", b"\n")


def test_no_from_domain_fails(dns_txt: DnsTxt) -> None:
    assert check(message(), dns_txt, from_domain=None) == AuthResult(
        False, False, "no usable From domain"
    )


def test_garbage_does_not_raise(dns_txt: DnsTxt) -> None:
    for raw in (b"", b"no header here", b"DKIM-Signature: v=1; d\r\n\r\n", b"\x00\xff:\r\n\r\n"):
        result = check(raw, dns_txt)
        assert not result.passed
        assert not result.temporary


def test_key_file_written_by_keygen_is_what_we_sign_with(tmp_path: Path) -> None:
    path = tmp_path / "k.key"
    record = generate_key(path)
    raw = signed_by(path.read_bytes(), "molndal.se", message())
    result = check(
        raw, lambda name: [record] if name == f"{SELECTOR}._domainkey.molndal.se" else []
    )
    assert result.passed


def dkimpy_signed(pem: bytes, raw: bytes, **options: object) -> bytes:
    header: bytes = dkim.sign(raw, SELECTOR.encode(), b"molndal.se", pem, **options)
    return header + raw


def test_dkimpy_signature_passes(pem: bytes, dns_txt: DnsTxt) -> None:
    assert check(dkimpy_signed(pem, message()), dns_txt).passed


def test_partial_body_signature_is_refused(pem: bytes, dns_txt: DnsTxt) -> None:
    raw = dkimpy_signed(pem, message(), length=True) + "Köp billiga kastruller!\r\n".encode()
    result = check(raw, dns_txt)
    assert not result.passed
    assert "l= partial-body signature" in result.reason


def test_rsa_sha1_is_refused(pem: bytes, dns_txt: DnsTxt) -> None:
    result = check(dkimpy_signed(pem, message(), signature_algorithm=b"rsa-sha1"), dns_txt)
    assert not result.passed
    assert "rsa-sha1" in result.reason


def test_broken_signature_value_fails_without_raising(pem: bytes, dns_txt: DnsTxt) -> None:
    raw = signed_by(pem, "molndal.se", message())
    b_at = raw.index(b" b=") + 3
    result = check(raw[:b_at] + b"!!!=" + raw[b_at + 4 :], dns_txt)
    assert not result.passed
    assert not result.temporary
