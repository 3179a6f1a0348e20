"""shared.languages: the language list and localised column look-up."""

from __future__ import annotations

from typing import NamedTuple

from shared.languages import DEFAULT_LANGUAGE, LANGUAGES, is_language, localised


class ListNames(NamedTuple):
    slug: str
    name_da: str
    name_sv: str
    name_en: str


def test_languages_are_danish_swedish_english_with_danish_first() -> None:
    assert LANGUAGES == ("da", "sv", "en")
    assert LANGUAGES[0] == DEFAULT_LANGUAGE
    assert is_language("sv")
    assert not is_language("nb")
    assert not is_language(None)


def test_localised_reads_mappings_and_named_tuples() -> None:
    row = {"name_da": "Kultur", "name_sv": "Kultur (sv)", "name_en": ""}
    assert localised(row, "name", "sv") == "Kultur (sv)"
    assert localised(row, "name", "en") == "Kultur"  # empty English falls back to Danish
    names = ListNames("kultur", "Kultur", "", "Culture")
    assert localised(names, "name", "en") == "Culture"
    assert localised(names, "name", "sv") == "Kultur"


def test_localised_uses_the_fallback_when_no_language_has_a_text() -> None:
    assert localised({"name_da": "", "name_sv": None}, "name", "sv", fallback="kultur") == "kultur"
    assert localised({}, "description", "en") == ""
