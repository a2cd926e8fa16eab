"""Print DKIM signatures per second, our signer against plain dkimpy, on a 4 KB Swedish message."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import dkim
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from mailgate.outbound.dkim_sign import DkimSigner

DOMAIN = "forum.example.se"
SELECTOR = "delapost"
FAN_OUT = 17_000

PARAGRAPH = (
    "Vi har samma problem i Växjö. Leverantören av laktosfri mjölk har bytt förpackning och "
    "nu räcker en kartong bara till två avdelningar på förskolan. Vi löste det genom att "
    "beställa större förpackningar och att dela upp leveranserna på måndag och torsdag. "
    "Kostenheten har också pratat med upphandlingen om att ändra avtalet inför hösten.\r\n\r\n"
)


def build_message() -> bytes:
    head = (
        'From: "Åsa Öberg via Kost" <kost@forum.example.se>\r\n'
        "Reply-To: kost+k7f3q2@forum.example.se\r\n"
        "To: anna.astrom@molndal.se\r\n"
        "Subject: [Kost] SV: Laktosfri mjölk i förskolan – vem levererar?\r\n"
        "Date: Tue, 03 Mar 2026 10:12:00 +0100\r\n"
        "Message-ID: <a1b2c3d4e5@vaxjo.se>\r\n"
        "In-Reply-To: <x9y8z7@molndal.se>\r\n"
        "References: <x9y8z7@molndal.se>\r\n"
        "List-Id: Kost <kost.forum.example.se>\r\n"
        "List-Post: <mailto:kost@forum.example.se>\r\n"
        "List-Help: <mailto:kost-request@forum.example.se?subject=hj%C3%A4lp>\r\n"
        "List-Subscribe: <mailto:kost-join@forum.example.se>\r\n"
        "List-Unsubscribe: <https://forum.example.se/u/3q9Xk2LmP0aZ>,\r\n"
        " <mailto:kost-leave@forum.example.se>\r\n"
        "List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"
        "List-Archive: <https://forum.example.se/kost/>\r\n"
        "List-Owner: <mailto:kost-owner@forum.example.se>\r\n"
        "Precedence: list\r\n"
        "X-Auto-Response-Suppress: OOF, AutoReply\r\n"
        "MIME-Version: 1.0\r\n"
        "Content-Type: text/plain; charset=utf-8; format=flowed\r\n"
        "Content-Transfer-Encoding: 8bit\r\n"
        "\r\n"
    ).encode()
    body = b"Hej Anna,\r\n\r\n"
    paragraph = PARAGRAPH.encode()
    while len(head) + len(body) < 4096:
        body += paragraph
    return head + body + "Med vänlig hälsning\r\nÅsa Öberg\r\nKostchef, Växjö kommun\r\n".encode()


def rate(sign: Callable[[bytes], bytes], message: bytes, seconds: float = 2.0) -> float:
    sign(message)  # warm up caches
    count = 0
    start = time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        sign(message)
        count += 1
    return count / elapsed


def main() -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    message = build_message()
    ours = DkimSigner(domain=DOMAIN, selector=SELECTOR, private_key_pem=pem)

    def plain_dkimpy(msg: bytes) -> bytes:
        header: bytes = dkim.sign(
            msg, SELECTOR.encode(), DOMAIN.encode(), pem, canonicalize=(b"relaxed", b"relaxed")
        )
        return header + msg

    print(f"message: {len(message)} bytes, RSA-2048, rsa-sha256 relaxed/relaxed, 1 core")
    for name, sign in (
        ("DkimSigner (cryptography RSA)", ours.sign),
        ("dkim.sign (dkimpy)", plain_dkimpy),
    ):
        per_second = rate(sign, message)
        print(
            f"{name:32} {per_second:9.0f} signatures/s  {1000 / per_second:7.3f} ms each  "
            f"{FAN_OUT:,} copies: {FAN_OUT / per_second:6.1f} s"
        )
    # cryptography releases the GIL while it signs, so threads share the cores.
    threads = os.cpu_count() or 1
    count = 2000
    with ThreadPoolExecutor(max_workers=threads) as pool:
        start = time.perf_counter()
        for _ in pool.map(ours.sign, [message] * count):
            pass
        elapsed = time.perf_counter() - start
    print(
        f"DkimSigner, {threads} threads          {count / elapsed:9.0f} signatures/s"
        f"                     {FAN_OUT:,} copies: {FAN_OUT * elapsed / count:6.1f} s"
    )


if __name__ == "__main__":
    main()
