"""Reading commands written to t-request@D, as kostchefer write them."""

from __future__ import annotations

import pytest

from mailgate.commands import (
    Language,
    Verb,
    language_of,
    lone_thread_command,
    read_commands,
)
from models import Mode


@pytest.mark.parametrize(
    ("line", "verb", "language"),
    [
        ("hjälp", Verb.HELP, Language.SWEDISH),
        ("Help", Verb.HELP, Language.ENGLISH),
        ("Gå med", Verb.JOIN, Language.SWEDISH),
        ("JOIN", Verb.JOIN, Language.ENGLISH),
        ("lämna", Verb.LEAVE, Language.SWEDISH),
        ("leave.", Verb.LEAVE, Language.ENGLISH),
        ("följ", Verb.FOLLOW, Language.SWEDISH),
        ("follow", Verb.FOLLOW, Language.ENGLISH),
        ("tysta", Verb.MUTE, Language.SWEDISH),
        ("mute", Verb.MUTE, Language.ENGLISH),
        ("Ämnen", Verb.TOPICS, Language.SWEDISH),
        ("topics", Verb.TOPICS, Language.ENGLISH),
        ("glöm mig", Verb.FORGET, Language.SWEDISH),
        ("Forget  me", Verb.FORGET, Language.ENGLISH),
    ],
)
def test_each_command_in_both_languages(line: str, verb: Verb, language: Language) -> None:
    [command] = read_commands(line, "")
    assert (command.verb, command.language) == (verb, language)
    [command] = read_commands("", line)
    assert (command.verb, command.language) == (verb, language)


@pytest.mark.parametrize(
    ("line", "mode"),
    [
        ("sammanfattning vecka", Mode.WEEKLY),
        ("Sammanfattning dag", Mode.DAILY),
        ("sammanfattning varje", Mode.EACH),
        ("sammanfattning ingen", Mode.NONE),
        ("digest weekly", Mode.WEEKLY),
        ("digest daily", Mode.DAILY),
        ("digest each", Mode.EACH),
        ("digest none", Mode.NONE),
    ],
)
def test_digest_modes(line: str, mode: Mode) -> None:
    [command] = read_commands("", line)
    assert command.verb is Verb.DIGEST and command.mode is mode


def test_several_commands_in_one_mail_in_order() -> None:
    commands = read_commands("gå med", "sammanfattning dag\nföljer\n")
    assert [c.verb for c in commands] == [Verb.JOIN, Verb.DIGEST]


def test_the_signature_after_the_commands_is_not_an_unknown_command() -> None:
    body = "lämna\n\nMed vänlig hälsning\nAnna Andersson\nKostchef, Mölndals stad\n"
    assert [c.verb for c in read_commands("", body)] == [Verb.LEAVE]


def test_a_reply_prefix_and_list_tag_in_the_subject_are_ignored() -> None:
    assert [c.verb for c in read_commands("SV: [maltider] hjälp", "")] == [Verb.HELP]


def test_unknown_words_mean_help_in_the_writers_language() -> None:
    [command] = read_commands("", "Hur gör jag för att få färre mejl?")
    assert command.verb is Verb.UNKNOWN and command.language is Language.SWEDISH
    [command] = read_commands("", "How do I get fewer mails?")
    assert command.verb is Verb.UNKNOWN and command.language is Language.ENGLISH
    [command] = read_commands("", "sammanfattning ibland")
    assert command.verb is Verb.UNKNOWN


def test_an_empty_mail_has_no_commands() -> None:
    assert read_commands("", "\n\n") == []


def test_quoted_text_is_never_read_as_commands() -> None:
    assert read_commands("", "> lämna\n> glöm mig\n") == []


def test_answers_come_in_swedish_unless_everything_was_english() -> None:
    assert language_of(read_commands("join", "digest daily")) is Language.ENGLISH
    assert language_of(read_commands("join", "sammanfattning dag")) is Language.SWEDISH
    assert language_of([]) is Language.SWEDISH


@pytest.mark.parametrize(
    ("text", "verb"),
    [
        ("följ\n", Verb.FOLLOW),
        ("  Tysta  \n\n", Verb.MUTE),
        ("mute", Verb.MUTE),
        ("Följ gärna upp det här med nämnden.", None),
        ("följ\n\nMvh Anna", None),
        ("Tack!", None),
    ],
)
def test_a_reply_with_only_follow_or_mute_is_a_command(text: str, verb: Verb | None) -> None:
    assert lone_thread_command(text) is verb
