"""The forum's secret: signs reply keys and unsubscribe links; made once by `delapost init`."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

SECRET_BYTES = 32


class MissingSecret(FileNotFoundError):
    """The secret file is not there yet: `delapost init` makes it."""


def create_secret(path: Path) -> bool:
    """Write a new random secret (mode 0600) unless one exists; True when it was written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return False
    with os.fdopen(fd, "w") as out:
        out.write(secrets.token_hex(SECRET_BYTES) + "\n")
    return True


def read_secret(path: Path) -> bytes:
    try:
        text = path.read_text("ascii").strip()
    except FileNotFoundError:
        raise MissingSecret(f"{path}: no secret yet; run 'delapost init'") from None
    if len(text) < 32:
        raise MissingSecret(f"{path}: too short to be a secret; remove it and run 'delapost init'")
    return text.encode("ascii")
