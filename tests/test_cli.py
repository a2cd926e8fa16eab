"""The `delapost` command as an administrator uses it: set-up, topics, members, mistakes."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.forum import write_settings

COMMANDS = [
    [],
    ["init"],
    ["serve"],
    ["demo"],
    ["topic", "add"],
    ["topic", "list"],
    ["member", "add"],
    ["member", "list"],
    ["org", "add"],
    ["org", "list"],
    ["org", "remove"],
    ["dkim", "keygen"],
]


def delapost(
    folder: Path, *args: str, database_url: str | None = None
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DELAPOST_")}
    if database_url:
        env["DELAPOST_DATABASE_URL"] = database_url
    return subprocess.run(
        [sys.executable, "-m", "delapost", *args],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def assert_one_line_error(result: subprocess.CompletedProcess[str], *words: str) -> None:
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    for word in words:
        assert word in lines[0]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "delapost")
def test_every_command_has_help(tmp_path: Path, command: list[str]) -> None:
    result = delapost(tmp_path, *command, "--help")
    assert result.returncode == 0
    assert "usage: delapost" in result.stdout


def test_an_administrator_sets_up_a_forum(tmp_path: Path, database_url: str) -> None:
    first = delapost(tmp_path, "init", database_url=database_url)
    assert first.returncode == 0, first.stderr
    assert "public-sector domains added" in first.stdout
    assert (tmp_path / "delapost.secret").exists()
    secret = (tmp_path / "delapost.secret").read_text()
    again = delapost(tmp_path, "init", database_url=database_url)
    assert again.returncode == 0, again.stderr
    assert "(0 public-sector domains added)" in again.stdout
    assert (tmp_path / "delapost.secret").read_text() == secret

    added = delapost(
        tmp_path,
        "topic",
        "add",
        "maltider",
        "--name",
        "Offentliga måltider",
        database_url=database_url,
    )
    assert added.returncode == 0, added.stderr
    assert "maltider@forum.localhost" in added.stdout
    member = delapost(
        tmp_path,
        "member",
        "add",
        "Anna.Andersson@molndal.se",
        "--name",
        "Anna Andersson",
        "--topic",
        "maltider",
        "--mode",
        "each",
        database_url=database_url,
    )
    assert member.returncode == 0, member.stderr
    assert "Mölndals stad" in member.stdout

    topics = delapost(tmp_path, "topic", "list", database_url=database_url)
    assert "maltider\tOffentliga måltider\t1 members\t0 posts" in topics.stdout
    members = delapost(tmp_path, "member", "list", "--topic", "maltider", database_url=database_url)
    assert "anna.andersson@molndal.se\tAnna Andersson\tMölndals stad\tmaltider (each)" in (
        members.stdout
    )

    assert_one_line_error(
        delapost(tmp_path, "topic", "add", "maltider", "--name", "Igen", database_url=database_url),
        "exists already",
    )
    assert_one_line_error(
        delapost(
            tmp_path,
            "member",
            "add",
            "saljare@leverantor.se",
            "--name",
            "Sälj",
            database_url=database_url,
        ),
        "leverantor.se",
        "registry",
    )
    assert_one_line_error(
        delapost(
            tmp_path,
            "member",
            "add",
            "x@molndal.se",
            "--name",
            "X",
            "--topic",
            "nope",
            database_url=database_url,
        ),
        "no topic 'nope'",
    )

    org = delapost(
        tmp_path, "org", "add", "leverantor.se", "--name", "Testbolaget", database_url=database_url
    )
    assert org.returncode == 0, org.stderr
    assert (
        "leverantor.se\tTestbolaget\tannan"
        in delapost(tmp_path, "org", "list", database_url=database_url).stdout
    )
    assert (
        delapost(tmp_path, "org", "remove", "leverantor.se", database_url=database_url).returncode
        == 0
    )
    assert (
        "leverantor.se" not in delapost(tmp_path, "org", "list", database_url=database_url).stdout
    )


def test_commands_before_init_say_what_to_do(tmp_path: Path) -> None:
    assert_one_line_error(delapost(tmp_path, "topic", "list"), "delapost init")


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["member", "add", "x@molndal.se", "--name", "X", "--mode", "hourly"], ["--mode"]),
        (["topic", "add", "Mål Tider", "--name", "X"], []),
        (["frobnicate"], ["frobnicate"]),
        (["topic", "add", "maltider"], ["--name"]),
    ],
)
def test_mistakes_get_one_line(tmp_path: Path, args: list[str], words: list[str]) -> None:
    delapost(tmp_path, "init")
    assert_one_line_error(delapost(tmp_path, *args), *words)


def test_a_bad_setting_stops_every_command_with_its_name(tmp_path: Path) -> None:
    (tmp_path / "delapost.toml").write_text('smtp_listen = "everywhere"\n')
    assert_one_line_error(delapost(tmp_path, "init"), "smtp_listen")
    assert_one_line_error(delapost(tmp_path, "--config", "missing.toml", "init"), "missing.toml")


def test_dkim_keygen_prints_the_record_and_never_overwrites(tmp_path: Path) -> None:
    made = delapost(tmp_path, "dkim", "keygen")
    assert made.returncode == 0, made.stderr
    assert "at delapost._domainkey.forum.localhost:\n  v=DKIM1; k=rsa; p=" in made.stdout
    zone_line = made.stdout.strip().splitlines()[-1]
    assert zone_line.startswith('delapost._domainkey.forum.localhost. IN TXT ( "v=DKIM1; k=rsa; p=')
    assert all(len(part) <= 255 for part in zone_line.split('"')[1::2])
    assert (tmp_path / "dkim.key").stat().st_mode & 0o777 == 0o600
    assert_one_line_error(delapost(tmp_path, "dkim", "keygen"), "exists already")


def test_member_import_moves_a_list_over_and_is_harmless_to_repeat(
    tmp_path: Path, database_url: str
) -> None:
    assert delapost(tmp_path, "init", database_url=database_url).returncode == 0
    delapost(tmp_path, "topic", "add", "maltider", "--name", "Måltider", database_url=database_url)
    good = tmp_path / "lista.csv"
    # As a Swedish spreadsheet saves it: BOM, semicolons.
    good.write_text(
        "\ufeffemail;name;mode\n"
        "anna.andersson@molndal.se;Anna Andersson;each\n"
        "Erik.Nilsson@goteborg.se;Erik Nilsson;\n",
        "utf-8",
    )
    first = delapost(
        tmp_path, "member", "import", "lista.csv", "--topic", "maltider", database_url=database_url
    )
    assert first.returncode == 0, first.stderr
    assert "2 added, 0 changed, 0 unchanged, 0 refused" in first.stdout
    again = delapost(
        tmp_path, "member", "import", "lista.csv", "--topic", "maltider", database_url=database_url
    )
    assert "0 added, 0 changed, 2 unchanged, 0 refused" in again.stdout
    members = delapost(tmp_path, "member", "list", "--topic", "maltider", database_url=database_url)
    assert (
        "anna.andersson@molndal.se\tAnna Andersson\tMölndals stad\tmaltider (each)"
        in members.stdout
    )
    assert (
        "erik.nilsson@goteborg.se\tErik Nilsson\tGöteborgs Stad\tmaltider (weekly)"
        in members.stdout
    )

    bad = tmp_path / "blandad.csv"
    bad.write_text(
        "email,name,mode\n"
        "maria.lindqvist@umea.se,Maria Lindqvist,weekly\n"
        "saljare@leverantor.se,Säljaren,each\n"
        "elev@elev.umea.se,En elev,\n"
        "johan.berg@malmo.se,Johan Berg,ibland\n",
        "utf-8",
    )
    refused = delapost(
        tmp_path,
        "member",
        "import",
        "blandad.csv",
        "--topic",
        "maltider",
        database_url=database_url,
    )
    assert refused.returncode == 1
    assert "line 3: saljare@leverantor.se: leverantor.se is not in the public-sector registry" in (
        refused.stderr
    )
    assert "line 4: elev@elev.umea.se: elev.umea.se is a pupils'" in refused.stderr
    assert "line 5: johan.berg@malmo.se: unknown mode 'ibland'" in refused.stderr
    assert "nothing was imported" in refused.stderr
    listed = delapost(tmp_path, "member", "list", database_url=database_url).stdout
    assert "maria.lindqvist@umea.se" not in listed
    partial = delapost(
        tmp_path,
        "member",
        "import",
        "blandad.csv",
        "--topic",
        "maltider",
        "--skip-refused",
        database_url=database_url,
    )
    assert partial.returncode == 0
    assert "1 added, 0 changed, 0 unchanged, 3 refused" in partial.stdout
    assert "Traceback" not in partial.stderr


@pytest.mark.parametrize("which", ["smtp_listen", "http_listen"])
def test_serve_on_a_port_in_use_says_so_in_one_line(tmp_path: Path, which: str) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        write_settings(tmp_path, **{which: f"127.0.0.1:{port}"})
        assert delapost(tmp_path, "init").returncode == 0
        result = delapost(tmp_path, "serve")
    assert_one_line_error(result, str(port))
    assert "in use" in result.stderr
