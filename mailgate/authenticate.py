"""Inbound sender authentication: an aligned DKIM signature, or a trusted upstream dmarc=pass."""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import authres
import authres.core
import dkim
import dkim.util
import dns.exception
import dns.name
import dns.rdatatype
import dns.resolver

DnsTxt = Callable[[str], list[str]]
"""Look up the TXT records of a name: one string per record (its character-strings joined)."""


class TemporaryDnsError(Exception):
    """DNS did not answer (timeout, SERVFAIL, unreachable): ask the sender to retry later."""


@dataclass(frozen=True)
class AuthResult:
    passed: bool
    temporary: bool
    reason: str


def authenticate(
    raw: bytes,
    from_domain: str | None,
    *,
    dns_txt: DnsTxt,
    trusted_authserv_ids: Sequence[str],
    own_authserv_id: str,
) -> AuthResult:
    """Decide whether the From domain of ``raw`` is proven, as ``sender_auth = dmarc`` requires."""
    domain = _normalise_domain(from_domain) if from_domain else None
    if domain is None:
        return AuthResult(False, False, "no usable From domain")
    try:
        headers = _header_fields(raw)
    except ValueError as exc:
        return AuthResult(False, False, f"malformed header section: {exc}")

    upstream = _trusted_upstream_result(headers, domain, trusted_authserv_ids, own_authserv_id)
    if upstream is not None and upstream.passed:
        return upstream
    dkim_result = _aligned_dkim_result(raw, domain, dns_txt)
    if dkim_result.passed or upstream is None:
        return dkim_result
    return AuthResult(False, dkim_result.temporary, f"{dkim_result.reason}; {upstream.reason}")


def strip_forged_results(raw: bytes, own_authserv_id: str) -> bytes:
    """Remove every Authentication-Results header field that claims our own authserv-id.

    RFC 8601 §5: only we may speak for our id, so such a field arriving from outside is forged.
    """
    own = own_authserv_id.lower()
    head_end = _end_of_header(raw)
    kept: list[bytes] = []
    for field in _raw_fields(raw[:head_end]):
        name, _, value = field.partition(b":")
        if (
            name.strip().lower() == b"authentication-results"
            and (_authserv_id(value) or "").lower() == own
        ):
            continue
        kept.append(field)
    return b"".join(kept) + raw[head_end:]


def system_dns_txt(resolver_address: str | None = None, timeout: float = 5.0) -> DnsTxt:
    """A DnsTxt backed by dnspython: the system resolver, or the one at ``host:port``."""
    if resolver_address is None:
        resolver = dns.resolver.Resolver(configure=True)
    else:
        host, port = _split_host_port(resolver_address)
        resolver = dns.resolver.Resolver(configure=False)
        resolver.nameservers = [host]
        resolver.port = port
    resolver.timeout = timeout
    resolver.lifetime = timeout
    resolver.cache = dns.resolver.LRUCache()

    def lookup(name: str) -> list[str]:
        try:
            qname = dns.name.from_text(name)
        except dns.exception.DNSException:
            return []  # a name that cannot exist has no records
        try:
            answer = resolver.resolve(qname, dns.rdatatype.TXT, search=False)
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
            return []
        except (dns.exception.DNSException, OSError) as exc:
            # Timeout, every server failing (SERVFAIL/REFUSED), a broken network: none of
            # these says the record does not exist, so the caller must answer 451, not 550.
            raise TemporaryDnsError(f"{name}: {exc.__class__.__name__}: {exc}") from exc
        return [b"".join(rdata.strings).decode("utf-8", "surrogateescape") for rdata in answer]

    return lookup


# --- trusted upstream Authentication-Results -------------------------------------------------


def _trusted_upstream_result(
    headers: Sequence[tuple[str, bytes]],
    domain: str,
    trusted_authserv_ids: Sequence[str],
    own_authserv_id: str,
) -> AuthResult | None:
    trusted = {t.lower() for t in trusted_authserv_ids} - {own_authserv_id.lower()}
    if not trusted:
        return None
    for name, value in headers:
        if name != "authentication-results":
            continue
        authserv_id = (_authserv_id(value) or "").lower()
        if authserv_id not in trusted:
            continue
        # Only the topmost field from a trusted id counts. Each MTA prepends its own field, so
        # the topmost one carrying the id was written by the trusted server on the last hop
        # before us; anything below it was already in the message when that server received it
        # and may have been planted by the sender (not every MTA deletes look-alikes, §5).
        return _dmarc_verdict(value, authserv_id, domain)
    return None


def _dmarc_verdict(value: bytes, authserv_id: str, domain: str) -> AuthResult:
    text = _unfold(value).decode("utf-8", "replace").strip()
    try:
        parsed = authres.AuthenticationResultsHeader.parse_value(text)
    except authres.core.AuthResError:
        return AuthResult(False, False, f"unreadable Authentication-Results from {authserv_id}")
    for result in parsed.results:
        if str(result.method).lower() != "dmarc":
            continue
        header_from = next(
            (
                str(p.value)
                for p in result.properties
                if str(p.type).lower() == "header" and str(p.name).lower() == "from"
            ),
            "",
        )
        if str(result.result).lower() == "pass" and _normalise_domain(header_from) == domain:
            return AuthResult(True, False, f"dmarc=pass header.from={domain} by {authserv_id}")
        return AuthResult(
            False,
            False,
            f"{authserv_id} reports dmarc={result.result} header.from={header_from or '?'}",
        )
    return AuthResult(False, False, f"{authserv_id} reports no dmarc result")


# --- DKIM --------------------------------------------------------------------------------------


def _aligned_dkim_result(raw: bytes, domain: str, dns_txt: DnsTxt) -> AuthResult:
    try:
        verifier = dkim.DKIM(raw)
    except dkim.DKIMException as exc:
        return AuthResult(False, False, f"malformed message: {_short(exc)}")
    # dkimpy numbers signatures in the order its own parser finds them; so do we.
    signatures = [v for n, v in verifier.headers if n.lower() == b"dkim-signature"]
    if not signatures:
        return AuthResult(False, False, "no DKIM signature")
    failures: list[str] = []
    misaligned: list[str] = []
    temporary: str | None = None
    for index, value in enumerate(signatures):
        try:
            tags = dkim.util.parse_tag_value(_unfold(value))
            d = _normalise_domain(tags[b"d"].decode("ascii"))
        except Exception:  # dkimpy's InvalidTagValueList, a missing d=, non-ASCII
            failures.append("dkim=permerror (unparsable signature)")
            continue
        if d is None or not _aligned(d, domain):
            misaligned.append(f"d={d or '?'}")
            continue
        if tags.get(b"a") == b"rsa-sha1":
            failures.append(f"dkim=fail d={d} (rsa-sha1 is not accepted, RFC 8301)")
            continue
        if b"l" in tags:
            # l= signs only a prefix of the body: anyone could append text to a real post.
            failures.append(f"dkim=fail d={d} (l= partial-body signature is not accepted)")
            continue
        outcome = _verify_one(verifier, index, d, dns_txt)
        if outcome is None:
            return AuthResult(True, False, f"dkim=pass d={d}")
        if outcome.temporary:
            temporary = outcome.reason
        else:
            failures.append(outcome.reason)
    if temporary is not None:
        return AuthResult(False, True, temporary)
    if failures:
        return AuthResult(False, False, "; ".join(failures))
    return AuthResult(False, False, f"no aligned DKIM signature ({', '.join(misaligned)})")


def _verify_one(verifier: dkim.DKIM, index: int, d: str, dns_txt: DnsTxt) -> AuthResult | None:
    """None when signature number ``index`` verifies, else why not."""
    missing: list[str] = []

    # dkimpy calls dnsfunc(name: bytes, timeout=…) and wants the record as bytes.
    def dnsfunc(name: bytes, timeout: float = 5.0) -> bytes:
        qname = name.decode("ascii", "replace").rstrip(".")
        records = dns_txt(qname)
        keys = [r for r in records if "p=" in r] or records
        if not keys:
            missing.append(qname)
            return b""
        return keys[0].encode("utf-8", "surrogateescape")

    try:
        ok = bool(verifier.verify(idx=index, dnsfunc=dnsfunc))
    except TemporaryDnsError as exc:
        return AuthResult(False, True, f"dns temperror for d={d} ({exc})")
    except dkim.DKIMException as exc:
        return AuthResult(False, False, f"dkim=fail d={d} ({_short(exc)})")
    except Exception as exc:  # dkimpy lets e.g. binascii.Error from a broken b= escape
        return AuthResult(False, False, f"dkim=permerror d={d} ({exc.__class__.__name__})")
    if ok:
        return None
    if missing:
        return AuthResult(False, False, f"dkim=fail d={d} (no key published at {missing[0]})")
    return AuthResult(False, False, f"dkim=fail d={d} (signature does not verify)")


def _short(exc: Exception, limit: int = 120) -> str:
    text = " ".join(str(exc).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _aligned(d: str, from_domain: str) -> bool:
    """Relaxed alignment without a public-suffix list: equal, or one inside the other.

    DMARC compares organisational domains, which needs the public-suffix list; the plain
    "last two labels" shortcut is unsafe for us, because .se has shared second-level zones
    that public bodies use (fhsk.se, komforb.se, kommunalforbund.se, lanbib.se, …): it would
    let evil.fhsk.se sign for skolan.fhsk.se. Requiring one domain to contain the other on a
    label boundary never aligns more than DMARC would, except that d= may be a public suffix
    itself, which needs the registry's own DNS; a single-label d= (a TLD) is refused. The cost
    is that sibling sub-domains (d=mail.molndal.se for From: skola.molndal.se), which DMARC
    accepts, do not align here.
    """
    if "." not in d:
        return False
    return d == from_domain or from_domain.endswith("." + d) or d.endswith("." + from_domain)


# --- header parsing ----------------------------------------------------------------------------


def _end_of_header(raw: bytes) -> int:
    """Offset just past the line break of the last header field (the blank line follows)."""
    if raw.startswith((b"\r\n", b"\n")):
        return 0
    match = re.search(rb"\n\r?\n", raw)
    return len(raw) if match is None else match.start() + 1


def _raw_fields(head: bytes) -> list[bytes]:
    """Header fields exactly as they are in the message, each with its folds and line break."""
    lines = re.findall(rb"[^\n]*\n|[^\n]+$", head)
    fields: list[bytes] = []
    for line in lines:
        if fields and line[:1] in (b" ", b"\t"):
            fields[-1] += line
        else:
            fields.append(line)
    return fields


def _header_fields(raw: bytes) -> list[tuple[str, bytes]]:
    """(lower-case name, raw value) for each header field, top to bottom."""
    fields: list[tuple[str, bytes]] = []
    for field in _raw_fields(raw[: _end_of_header(raw)]):
        name, colon, value = field.partition(b":")
        if not colon:
            if field.startswith(b"From "):
                continue  # an mbox separator line
            raise ValueError(f"not a header field: {field[:40]!r}")
        fields.append((name.strip().decode("ascii", "replace").lower(), value))
    return fields


_COMMENT = re.compile(rb"\s*\((?:[^()\\]|\\.)*\)")


def _authserv_id(value: bytes) -> str | None:
    """The authserv-id an Authentication-Results value starts with (RFC 8601 §2.2)."""
    text = _unfold(value).strip()
    while True:
        match = _COMMENT.match(text)
        if match is None:
            break
        text = text[match.end() :].lstrip()
    if text.startswith(b'"'):
        end = text.find(b'"', 1)
        return text[1:end].decode("ascii", "replace") if end > 0 else None
    match = re.match(rb"[^\s;()]+", text)
    return match.group(0).decode("ascii", "replace") if match else None


def _unfold(value: bytes) -> bytes:
    return re.sub(rb"\r?\n(?=[ \t])", b"", value).rstrip(b"\r\n")


def _normalise_domain(domain: str) -> str | None:
    domain = domain.strip().rstrip(".").lower()
    if not domain:
        return None
    if domain.isascii():
        return domain
    try:
        return domain.encode("idna").decode("ascii")
    except UnicodeError:
        return None


def _split_host_port(address: str) -> tuple[str, int]:
    if address.startswith("["):
        host, _, rest = address[1:].partition("]")
        port = int(rest[1:]) if rest.startswith(":") else 53
    elif address.count(":") == 1:
        host, _, port_text = address.partition(":")
        port = int(port_text)
    else:
        host, port = address, 53
    try:
        ipaddress.ip_address(host)
    except ValueError:
        host = str(socket.getaddrinfo(host, port, type=socket.SOCK_DGRAM)[0][4][0])
    return host, port
