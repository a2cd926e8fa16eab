"""One frozen Settings object, read from a TOML file and DELAPOST_* environment variables."""

from __future__ import annotations

import dataclasses
import os
import tomllib
import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError


class SettingsError(ValueError):
    """A setting is missing, unknown or malformed; the message names the key."""


@dataclass(frozen=True)
class Settings:
    database_url: str = "sqlite:///delapost.db"
    list_domain: str = "forum.localhost"
    base_url: str = "http://127.0.0.1:8080"
    smtp_listen: str = "127.0.0.1:2525"
    http_listen: str = "127.0.0.1:8080"
    relay: str = ""
    relay_username: str = ""
    relay_password: str = ""
    relay_tls: str = "starttls"
    outbox_dir: str = "outbox"
    sender_auth: str = "dmarc"
    dns_resolver: str = ""
    trusted_authserv_ids: tuple[str, ...] = ()
    dkim_selector: str = "delapost"
    dkim_key_file: str = "dkim.key"
    digest_weekly: str = "mon 07:00"
    digest_daily: str = "07:00"
    timezone: str = "Europe/Stockholm"
    max_message_bytes: int = 26214400
    attachment_link_bytes: int = 5242880  # larger attachments go to members as archive links
    smtp_max_recipients: int = 50
    smtp_max_connections_per_client: int = 20
    smtp_max_messages_per_minute: int = 600
    secret_key_file: str = "delapost.secret"
    tls_cert_file: str = ""
    tls_key_file: str = ""
    robots_index: bool = False
    non_staff_prefixes: tuple[str, ...] = ("student.", "elev.", "edu.")
    # Paths in the file are relative to the file's folder; this is that folder.
    base_dir: Path = field(default=Path("."), compare=False)

    def path(self, value: str) -> Path:
        """A path setting resolved against the settings file's folder."""
        p = Path(value)
        return p if p.is_absolute() else self.base_dir / p

    @property
    def database_url_resolved(self) -> str:
        """The database URL with a relative SQLite path taken from the settings folder."""
        url = make_url(self.database_url)
        if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
            return url.set(database=str(self.path(url.database))).render_as_string(
                hide_password=False
            )
        return self.database_url

    @property
    def smtp_host_port(self) -> tuple[str, int]:
        return split_host_port(self.smtp_listen, "smtp_listen")

    @property
    def http_host_port(self) -> tuple[str, int]:
        return split_host_port(self.http_listen, "http_listen")


_KEYS = {f.name: f for f in fields(Settings) if f.name != "base_dir"}


def split_host_port(value: str, key: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise SettingsError(f"{key}: expected host:port, got {value!r}")
    return host.strip("[]"), int(port)


def _coerce(key: str, raw: Any, from_env: bool) -> Any:
    kind = _KEYS[key].type
    if kind == "int":
        if isinstance(raw, bool) or not isinstance(raw, int | str):
            raise SettingsError(f"{key}: expected a whole number, got {raw!r}")
        try:
            return int(raw)
        except ValueError:
            raise SettingsError(f"{key}: expected a whole number, got {raw!r}") from None
    if kind == "bool":
        if isinstance(raw, bool):
            return raw
        if isinstance(raw, str) and raw.lower() in {
            "1",
            "true",
            "yes",
            "on",
            "0",
            "false",
            "no",
            "off",
        }:
            return raw.lower() in {"1", "true", "yes", "on"}
        raise SettingsError(f"{key}: expected true or false, got {raw!r}")
    if kind == "tuple[str, ...]":
        if from_env and isinstance(raw, str):
            return tuple(part.strip() for part in raw.split(",") if part.strip())
        if isinstance(raw, list) and all(isinstance(x, str) for x in raw):
            return tuple(raw)
        raise SettingsError(f"{key}: expected a list of strings, got {raw!r}")
    if not isinstance(raw, str):
        raise SettingsError(f"{key}: expected a string, got {raw!r}")
    return raw


def _validate(s: Settings) -> None:
    try:
        make_url(s.database_url)
    except ArgumentError:
        raise SettingsError(f"database_url: not a SQLAlchemy URL: {s.database_url!r}") from None
    s.smtp_host_port  # noqa: B018 - validates
    s.http_host_port  # noqa: B018
    if s.relay:
        split_host_port(s.relay, "relay")
    if s.dns_resolver:
        split_host_port(s.dns_resolver, "dns_resolver")
    if s.sender_auth not in {"dmarc", "none"}:
        raise SettingsError(f"sender_auth: expected 'dmarc' or 'none', got {s.sender_auth!r}")
    if s.relay_tls not in {"starttls", "tls", "none"}:
        raise SettingsError(f"relay_tls: expected starttls, tls or none, got {s.relay_tls!r}")
    if not s.base_url.startswith(("http://", "https://")):
        raise SettingsError(f"base_url: expected an http(s) URL, got {s.base_url!r}")
    if not s.list_domain or "@" in s.list_domain or " " in s.list_domain:
        raise SettingsError(f"list_domain: not a domain: {s.list_domain!r}")
    if s.max_message_bytes < 1024:
        raise SettingsError(f"max_message_bytes: too small: {s.max_message_bytes}")
    for key in ("smtp_max_recipients", "smtp_max_connections_per_client"):
        if getattr(s, key) < 1:
            raise SettingsError(f"{key}: expected at least 1, got {getattr(s, key)}")
    if s.smtp_max_messages_per_minute < 0:
        raise SettingsError(
            f"smtp_max_messages_per_minute: expected 0 (no limit) or more, "
            f"got {s.smtp_max_messages_per_minute}"
        )
    try:
        zoneinfo.ZoneInfo(s.timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise SettingsError(f"timezone: unknown time zone {s.timezone!r}") from None
    from delapost.schedule_spec import parse_daily, parse_weekly

    try:
        parse_weekly(s.digest_weekly)
    except ValueError as e:
        raise SettingsError(f"digest_weekly: {e}") from None
    try:
        parse_daily(s.digest_daily)
    except ValueError as e:
        raise SettingsError(f"digest_daily: {e}") from None


def find_config_file(explicit: str | None, environ: Mapping[str, str]) -> Path | None:
    if explicit:
        return Path(explicit)
    if environ.get("DELAPOST_CONFIG"):
        return Path(environ["DELAPOST_CONFIG"])
    default = Path("delapost.toml")
    return default if default.exists() else None


def load(config_file: Path | None = None, environ: Mapping[str, str] | None = None) -> Settings:
    """Settings from the file (if any), then DELAPOST_<KEY> variables on top."""
    environ = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    base_dir = Path(".")
    if config_file is not None:
        try:
            data = tomllib.loads(config_file.read_text("utf-8"))
        except FileNotFoundError:
            raise SettingsError(f"config: no such file: {config_file}") from None
        except tomllib.TOMLDecodeError as e:
            raise SettingsError(f"config: {config_file} is not valid TOML: {e}") from None
        for key, raw in data.items():
            if key not in _KEYS:
                raise SettingsError(f"{key}: unknown setting in {config_file}")
            values[key] = _coerce(key, raw, from_env=False)
        base_dir = config_file.parent
    for name, raw in environ.items():
        if not name.startswith("DELAPOST_") or name in {"DELAPOST_CONFIG"}:
            continue
        key = name.removeprefix("DELAPOST_").lower()
        if key.startswith("test_"):
            continue  # the test suite's own variables
        if key not in _KEYS:
            raise SettingsError(f"{key}: unknown setting (from {name})")
        values[key] = _coerce(key, raw, from_env=True)
    settings = dataclasses.replace(Settings(), base_dir=base_dir, **values)
    _validate(settings)
    return settings
