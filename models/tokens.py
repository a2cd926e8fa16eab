"""HMAC-signed reply keys and one-time tokens; the secret is always passed in."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

_KEY_MAC_BYTES = 8


def _b32(data: bytes) -> str:
    return base64.b32encode(data).decode("ascii").rstrip("=").lower()


def _unb32(text: str) -> bytes:
    text = text.upper()
    return base64.b32decode(text + "=" * (-len(text) % 8))


def _mac(secret: bytes, purpose: str, payload: bytes) -> bytes:
    return hmac.new(secret, purpose.encode() + b"\0" + payload, hashlib.sha256).digest()


def make_reply_key(secret: bytes, post_id: int) -> str:
    """The local-part suffix that ties a reply to the post it answers: `t+KEY@D`.

    Lower-case base32, because some mail systems lower-case local parts.
    """
    payload = post_id.to_bytes(8, "big").lstrip(b"\0") or b"\0"
    return _b32(payload) + "-" + _b32(_mac(secret, "reply", payload)[:_KEY_MAC_BYTES])


def read_reply_key(secret: bytes, key: str) -> int | None:
    """The post id a reply key was made for, or None when it is forged or garbled."""
    try:
        payload_text, mac_text = key.lower().split("-", 1)
        payload = _unb32(payload_text)
        mac = _unb32(mac_text)
    except (ValueError, TypeError):
        return None
    if not payload or not hmac.compare_digest(mac, _mac(secret, "reply", payload)[:_KEY_MAC_BYTES]):
        return None
    return int.from_bytes(payload, "big")


def sign_value(secret: bytes, purpose: str, value: str) -> str:
    """A URL- and address-safe token carrying `value`, e.g. a member id for unsubscribing."""
    payload = value.encode()
    return _b32(payload) + "-" + _b32(_mac(secret, purpose, payload)[:12])


def read_signed_value(secret: bytes, purpose: str, token: str) -> str | None:
    try:
        payload_text, mac_text = token.lower().split("-", 1)
        payload = _unb32(payload_text)
        mac = _unb32(mac_text)
    except (ValueError, TypeError):
        return None
    if not hmac.compare_digest(mac, _mac(secret, purpose, payload)[:12]):
        return None
    try:
        return payload.decode()
    except UnicodeDecodeError:
        return None


def new_token() -> str:
    """A random one-time token, safe in a local part and a URL."""
    return _b32(secrets.token_bytes(20))


def token_hash(token: str) -> str:
    return hashlib.sha256(token.lower().encode()).hexdigest()
