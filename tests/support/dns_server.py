"""A tiny real DNS server on loopback that answers TXT queries from a dict, for tests."""

from __future__ import annotations

import socket
import threading
from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import Literal

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset

Mode = Literal["answer", "silent", "servfail"]


class DnsServer:
    """UDP on 127.0.0.1 (a free port) in a background thread; NXDOMAIN for unknown names.

    ``mode="silent"`` reads queries and never answers (a resolver times out);
    ``mode="servfail"`` answers every query with SERVFAIL.
    """

    def __init__(self, records: Mapping[str, Sequence[str]], *, mode: Mode = "answer") -> None:
        self.records = {_key(name): list(txts) for name, txts in records.items()}
        self.mode: Mode = mode
        self.queries: list[str] = []
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.settimeout(0.05)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="test-dns", daemon=True)

    @property
    def address(self) -> str:
        host, port = self._sock.getsockname()
        return f"{host}:{port}"

    def __enter__(self) -> str:
        self._thread.start()
        return self.address

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._thread.join()
        self._sock.close()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                wire, peer = self._sock.recvfrom(4096)
            except TimeoutError:
                continue
            try:
                query = dns.message.from_wire(wire)
            except dns.exception.DNSException:
                continue
            if self.mode == "silent":
                continue
            self._sock.sendto(self._respond(query).to_wire(), peer)

    def _respond(self, query: dns.message.Message) -> dns.message.Message:
        response = dns.message.make_response(query)
        response.flags |= dns.flags.AA
        if self.mode == "servfail":
            response.set_rcode(dns.rcode.SERVFAIL)
            return response
        for question in query.question:
            name = _key(question.name.to_text())
            self.queries.append(name)
            if name not in self.records:
                response.set_rcode(dns.rcode.NXDOMAIN)
            elif question.rdtype == dns.rdatatype.TXT:
                rdatas = [_txt_rdata(value) for value in self.records[name]]
                response.answer.append(
                    dns.rrset.from_text_list(question.name, 300, "IN", "TXT", rdatas)
                )
        return response


def _key(name: str) -> str:
    return name.rstrip(".").lower()


def _txt_rdata(value: str) -> str:
    """One TXT record in zone-file syntax, split into 255-octet character-strings as DNS needs."""
    data = value.encode("utf-8")
    chunks = [data[i : i + 255] for i in range(0, len(data), 255)] or [b""]
    return " ".join('"' + _escape(chunk) + '"' for chunk in chunks)


def _escape(chunk: bytes) -> str:
    return "".join(chr(b) if 0x20 <= b < 0x7F and b not in b'"\\' else f"\\{b:03d}" for b in chunk)
