"""Make our DKIM signing key and the DNS TXT record that publishes its public half."""

from __future__ import annotations

import base64
import os
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

KEY_BITS = 2048


def generate_key(path: Path) -> str:
    """Write a new RSA-2048 private key (PKCS#8 PEM, mode 0600) to ``path``; return its DNS record.

    Raises FileExistsError rather than overwrite a key whose record may already be published.
    """
    key = rsa.generate_private_key(public_exponent=65537, key_size=KEY_BITS)
    pem = key.private_bytes(
        encoding=serialization.Encoding.PEM,
        format=serialization.PrivateFormat.PKCS8,
        encryption_algorithm=serialization.NoEncryption(),
    )
    # O_EXCL makes "does it exist?" and "create it" one step; the mode is set before any byte
    # is written, and fchmod undoes a umask that would leave it other than exactly 0600.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "wb") as out:
            fd = -1
            out.write(pem)
    except BaseException:
        if fd != -1:
            os.close(fd)
        path.unlink(missing_ok=True)
        raise
    return dns_record(pem)


def dns_record(private_key_pem: bytes) -> str:
    """The TXT record value for ``<selector>._domainkey.<domain>``: ``v=DKIM1; k=rsa; p=…``.

    A 2048-bit key gives a value longer than 255 octets; DNS servers store it as several
    character-strings of one record, which verifiers join.
    """
    key = serialization.load_pem_private_key(private_key_pem, password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("the DKIM key must be an RSA private key")
    der = key.public_key().public_bytes(
        encoding=serialization.Encoding.DER,
        format=serialization.PublicFormat.SubjectPublicKeyInfo,
    )
    return "v=DKIM1; k=rsa; p=" + base64.b64encode(der).decode("ascii")


def zone_file_line(name: str, record: str) -> str:
    """The record as a zone-file line; a character-string holds at most 255 octets (RFC 1035)."""
    chunks = [record[i : i + 255] for i in range(0, len(record), 255)] or [""]
    return f"{name.rstrip('.')}. IN TXT ( " + " ".join(f'"{c}"' for c in chunks) + " )"
