"""Settings: the contract's keys from a TOML file, DELAPOST_* on top, one-line errors."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from delapost.settings import Settings, SettingsError, find_config_file, load


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "delapost.toml"
    path.write_text(text, "utf-8")
    return path


def test_defaults_are_the_contracts() -> None:
    s = load(None, environ={})
    assert s.database_url == "sqlite:///delapost.db"
    assert s.list_domain == "forum.localhost"
    assert s.base_url == "http://127.0.0.1:8080"
    assert s.smtp_listen == "127.0.0.1:2525"
    assert s.http_listen == "127.0.0.1:8080"
    assert s.relay == ""
    assert s.outbox_dir == "outbox"
    assert s.sender_auth == "dmarc"
    assert s.dkim_selector == "delapost"
    assert s.dkim_key_file == "dkim.key"
    assert s.digest_weekly == "mon 07:00"
    assert s.digest_daily == "07:00"
    assert s.timezone == "Europe/Stockholm"
    assert s.max_message_bytes == 26214400
    assert s.secret_key_file == "delapost.secret"


def test_file_then_environment(tmp_path: Path) -> None:
    path = write(tmp_path, 'list_domain = "forum.skr.se"\nmax_message_bytes = 1048576\n')
    s = load(path, environ={"DELAPOST_LIST_DOMAIN": "dela.example.se", "HOME": "/root"})
    assert s.list_domain == "dela.example.se"
    assert s.max_message_bytes == 1048576


def test_settings_are_frozen() -> None:
    s = load(None, environ={})
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.list_domain = "x"  # type: ignore[misc]


def test_relative_paths_follow_the_settings_file(tmp_path: Path) -> None:
    s = load(write(tmp_path, 'outbox_dir = "mail"\n'), environ={})
    assert s.path(s.outbox_dir) == tmp_path / "mail"
    assert s.database_url_resolved == f"sqlite:///{tmp_path / 'delapost.db'}"


@pytest.mark.parametrize(
    ("text", "environ", "named"),
    [
        ('databse_url = "x"\n', {}, "databse_url"),
        ("", {"DELAPOST_SMTP_LISTEN": "2525"}, "smtp_listen"),
        ('max_message_bytes = "big"\n', {}, "max_message_bytes"),
        ("", {"DELAPOST_MAX_MESSAGE_BYTES": "lots"}, "max_message_bytes"),
        ('sender_auth = "spf"\n', {}, "sender_auth"),
        ('timezone = "Europe/Stockholmm"\n', {}, "timezone"),
        ('database_url = "sqlit//x"\n', {}, "database_url"),
        ('digest_weekly = "monday"\n', {}, "digest_weekly"),
        ("", {"DELAPOST_NO_SUCH_KEY": "1"}, "no_such_key"),
    ],
)
def test_a_bad_setting_names_its_key(
    tmp_path: Path, text: str, environ: dict[str, str], named: str
) -> None:
    with pytest.raises(SettingsError) as caught:
        load(write(tmp_path, text), environ=environ)
    message = str(caught.value)
    assert message.startswith(named + ":")
    assert "\n" not in message


def test_broken_toml_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="not valid TOML"):
        load(write(tmp_path, "list_domain = \n"), environ={})


def test_config_file_is_found_by_flag_variable_or_current_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert find_config_file(None, {}) is None
    write(tmp_path, "")
    assert find_config_file(None, {}) == Path("delapost.toml")
    assert find_config_file(None, {"DELAPOST_CONFIG": "/etc/d.toml"}) == Path("/etc/d.toml")
    assert find_config_file("x.toml", {"DELAPOST_CONFIG": "/etc/d.toml"}) == Path("x.toml")


def test_every_contract_key_is_a_setting() -> None:
    names = {f.name for f in dataclasses.fields(Settings)}
    contract = {
        "database_url",
        "list_domain",
        "base_url",
        "smtp_listen",
        "http_listen",
        "relay",
        "outbox_dir",
        "sender_auth",
        "dns_resolver",
        "trusted_authserv_ids",
        "dkim_selector",
        "dkim_key_file",
        "digest_weekly",
        "digest_daily",
        "timezone",
        "max_message_bytes",
        "secret_key_file",
    }
    assert contract <= names
