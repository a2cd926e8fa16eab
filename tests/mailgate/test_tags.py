"""#hashtags in a subject or in the new text of a post become the post's tags."""

from __future__ import annotations

import pytest

from mailgate.tags import extract_tags


def test_hashtags_leave_the_subject_and_become_tags() -> None:
    assert extract_tags("Frånvaro i köket #kost #Personal", "") == (
        "Frånvaro i köket",
        ("kost", "personal"),
    )


def test_subject_tags_come_first_then_body_tags_in_order_without_duplicates() -> None:
    subject, tags = extract_tags(
        "#allergi Glutenfri meny", "Vi testar #Glutenfritt och #allergi.\n#skolmat i höst"
    )
    assert subject == "Glutenfri meny"
    assert tags == ("allergi", "glutenfritt", "skolmat")


def test_swedish_letters_digits_hyphen_and_underscore() -> None:
    _, tags = extract_tags("", "#Måltidsmiljö #vecka12 #kost-och-måltid #ny_rutin #ÄÖÅ")
    assert tags == ("måltidsmiljö", "vecka12", "kost-och-måltid", "ny_rutin", "äöå")


@pytest.mark.parametrize(
    "body",
    [
        "Se punkt #1 och #2 i protokollet",
        "Ärende #2026-123",
        "En bokstav: #a",
        "Läs mer på https://www.livsmedelsverket.se/matvanor#skolmat",
        "Länk utan schema www.example.se/sida#avsnitt",
        "Kodat: h&#229;llbar och &#xe5;",
        "> Citerat: #gammaltag",
        "  > Indraget citat #gammaltag",
        "# Rubrik i markdown",
        "Programspråket C# och ##dubbel",
        "Mejla anna#lund@kalmar.se",
    ],
)
def test_things_that_are_not_hashtags(body: str) -> None:
    assert extract_tags("Ämne", body) == ("Ämne", ())


def test_hashtag_after_a_link_on_the_same_line_counts() -> None:
    _, tags = extract_tags("", "Se https://x.se/a#b och #kost")
    assert tags == ("kost",)


def test_subject_whitespace_and_punctuation_are_tidied() -> None:
    assert extract_tags("#kost: Ny rutin för  allergier #allergi !", "")[0] == (
        "Ny rutin för allergier!"
    )
    assert extract_tags("Meny vecka 12 - #kost", "")[0] == "Meny vecka 12"


def test_subject_without_hashtags_is_only_whitespace_collapsed() -> None:
    assert extract_tags("  Frånvaro   i köket: vad gör ni? ", "") == (
        "Frånvaro i köket: vad gör ni?",
        (),
    )


def test_subject_of_only_hashtags() -> None:
    assert extract_tags("#kost #allergi", "") == ("", ("kost", "allergi"))


def test_trailing_hyphen_is_not_part_of_the_tag() -> None:
    assert extract_tags("", "Taggat #kost- och #allergi_.")[1] == ("kost", "allergi")


def test_tag_in_parentheses() -> None:
    assert extract_tags("", "Meny (#skolmat)")[1] == ("skolmat",)
