"""Read the commands a member writes to t-request@D, in Swedish or English."""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

from models import Mode


class Verb(enum.StrEnum):
    HELP = "help"
    JOIN = "join"
    LEAVE = "leave"
    DIGEST = "digest"
    FOLLOW = "follow"
    MUTE = "mute"
    TOPICS = "topics"
    FORGET = "forget"
    UNKNOWN = "unknown"


class Language(enum.StrEnum):
    SWEDISH = "sv"
    ENGLISH = "en"


@dataclass(frozen=True)
class Command:
    verb: Verb
    language: Language
    mode: Mode | None = None  # for DIGEST
    words: str = ""  # what was written, for the answer


_MODES = {
    "each": Mode.EACH,
    "every": Mode.EACH,
    "daily": Mode.DAILY,
    "weekly": Mode.WEEKLY,
    "none": Mode.NONE,
    "varje": Mode.EACH,
    "alla": Mode.EACH,
    "dag": Mode.DAILY,
    "daglig": Mode.DAILY,
    "vecka": Mode.WEEKLY,
    "veckovis": Mode.WEEKLY,
    "ingen": Mode.NONE,
}

# (pattern, verb, language); the first match of a line wins, so longer phrases come first.
_PHRASES: tuple[tuple[re.Pattern[str], Verb, Language], ...] = tuple(
    (re.compile(rf"^{pattern}(?:\s+(?P<arg>\S+))?$"), verb, language)
    for pattern, verb, language in (
        (r"glöm\s+mig", Verb.FORGET, Language.SWEDISH),
        (r"forget\s+me", Verb.FORGET, Language.ENGLISH),
        (r"gå\s+med", Verb.JOIN, Language.SWEDISH),
        (r"(?:join|subscribe)", Verb.JOIN, Language.ENGLISH),
        (r"lämna", Verb.LEAVE, Language.SWEDISH),
        (r"(?:leave|unsubscribe)", Verb.LEAVE, Language.ENGLISH),
        (r"sammanfattning", Verb.DIGEST, Language.SWEDISH),
        (r"digest", Verb.DIGEST, Language.ENGLISH),
        (r"följ", Verb.FOLLOW, Language.SWEDISH),
        (r"follow", Verb.FOLLOW, Language.ENGLISH),
        (r"tysta", Verb.MUTE, Language.SWEDISH),
        (r"mute", Verb.MUTE, Language.ENGLISH),
        (r"ämnen", Verb.TOPICS, Language.SWEDISH),
        (r"(?:topics|lists)", Verb.TOPICS, Language.ENGLISH),
        (r"hjälp", Verb.HELP, Language.SWEDISH),
        (r"help", Verb.HELP, Language.ENGLISH),
    )
)
_REPLY_PREFIX = re.compile(r"^(?:(?:sv|re|vb|aw|fwd?|wg)\s*:\s*|\[[^\]]*\]\s*)+", re.IGNORECASE)
_SWEDISH_LETTERS = re.compile(r"[åäö]")
# Common Swedish words without å, ä or ö, to answer "tack, intressant" in Swedish too.
_SWEDISH_WORDS = re.compile(
    r"\b(?:och|att|jag|vi|ni|det|den|som|med|hej|tack|inte|kan|vill|hur|vad|om|till|av"
    r"|veckans|sammanfattning|sammanfattningen)\b"
)
# Commands are short; a body with more lines than this is a letter, and the rest is ignored.
MAX_COMMAND_LINES = 10


def read_line(line: str) -> Command | None:
    """The command one line states, None for a blank line, UNKNOWN for anything else."""
    words = " ".join(line.strip().strip(".!").lower().split())
    if not words:
        return None
    for pattern, verb, language in _PHRASES:
        match = pattern.match(words)
        if match is None:
            continue
        arg = match.group("arg")
        if verb is Verb.DIGEST:
            mode = _MODES.get(arg or "")
            if mode is None:
                return Command(Verb.UNKNOWN, language, words=words)
            return Command(verb, language, mode=mode, words=words)
        if arg is not None and verb not in {Verb.FOLLOW, Verb.MUTE}:
            continue
        return Command(verb, language, words=words)
    swedish = _SWEDISH_LETTERS.search(words) or _SWEDISH_WORDS.search(words)
    return Command(Verb.UNKNOWN, Language.SWEDISH if swedish else Language.ENGLISH, words=words)


def read_commands(subject: str, body: str) -> list[Command]:
    """The commands in the subject and the first lines of the body, in order, without repeats.

    Reading stops at the first line that is not a command (a signature, a quoted letter), so
    that "Med vänlig hälsning" is never taken for an unknown command. An unknown word is kept
    only when nothing else was understood: then the writer gets the help text.
    """
    found: list[Command] = []
    unknown: list[Command] = []
    subject_command = read_line(_REPLY_PREFIX.sub("", subject))
    if subject_command is not None:
        (unknown if subject_command.verb is Verb.UNKNOWN else found).append(subject_command)
    for line in body.splitlines()[:MAX_COMMAND_LINES]:
        if line.startswith(">"):
            break
        command = read_line(line)
        if command is None:
            continue
        if command.verb is Verb.UNKNOWN:
            unknown.append(command)
            break
        found.append(command)
    unique = list(dict.fromkeys(found))
    return unique or unknown[:1]


def language_of(commands: list[Command]) -> Language:
    """Answer in the language the mail was written in; Swedish when in doubt."""
    if commands and all(c.language is Language.ENGLISH for c in commands):
        return Language.ENGLISH
    return Language.SWEDISH


def lone_thread_command(text: str) -> Verb | None:
    """FOLLOW or MUTE when a reply's new text is only that word (as in Discourse), else None."""
    lines = [line for line in text.strip().splitlines() if line.strip()]
    if len(lines) != 1:
        return None
    command = read_line(lines[0])
    if (
        command is not None
        and command.verb in {Verb.FOLLOW, Verb.MUTE}
        and " " not in (command.words)
    ):
        return command.verb
    return None
