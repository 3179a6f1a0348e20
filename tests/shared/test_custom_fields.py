"""The custom field contract: definitions and the values residents give."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest

from shared.custom_fields import (
    TEXT_MAX,
    InvalidCustomValue,
    definition_problems,
    validate_custom_value,
)


def field(type_: str, **changes: Any) -> dict[str, Any]:
    """A valid definition of ``type_``, as a custom_fields row would hold it."""
    base: dict[str, Any] = {
        "key": f"my_{type_}",
        "label_da": "Felt",
        "label_sv": "Fält",
        "label_en": "Field",
        "type": type_,
        "choices": ["Lund", "Malmö"] if type_ == "choice" else [],
        "required": False,
        "public": True,
        "max_length": None,
    }
    return {**base, **changes}


def reason(definition: dict[str, Any], raw: object) -> str:
    with pytest.raises(InvalidCustomValue) as caught:
        validate_custom_value(definition, raw)
    assert caught.value.key == definition["key"]
    return caught.value.reason


# --- values ---------------------------------------------------------------------------------


@pytest.mark.parametrize("type_", ["text", "number", "date", "choice"])
@pytest.mark.parametrize("raw", [None, "", "   "])
def test_empty_optional_is_none_and_required_is_refused(type_: str, raw: object) -> None:
    assert validate_custom_value(field(type_), raw) is None
    assert reason(field(type_, required=True), raw) == "is required"


def test_text_is_stripped_normalised_and_limited() -> None:
    assert validate_custom_value(field("text"), "  Ærø  ") == "Ærø"
    assert validate_custom_value(field("text"), "Cafe\u0301") == "Café"  # NFC
    assert validate_custom_value(field("text", max_length=3), "abc") == "abc"
    assert reason(field("text", max_length=3), "abcd") == "must be at most 3 characters"
    assert reason(field("text"), "x" * (TEXT_MAX + 1)).startswith("must be at most")
    assert validate_custom_value(field("text"), "two\nlines") == "two\nlines"
    assert "not allowed" in reason(field("text"), "nul\x00byte")
    assert reason(field("text"), 42) == "must be text"


@pytest.mark.parametrize(
    ("raw", "value"),
    [(3, 3), ("42", 42), (" -7 ", -7), ("2.5", 2.5), ("2,5", 2.5), (0.25, 0.25), ("+1", 1)],
)
def test_number_accepts_numbers_and_numeric_text(raw: object, value: float) -> None:
    result = validate_custom_value(field("number"), raw)
    assert result == value and type(result) is type(value)


@pytest.mark.parametrize(
    "raw", [True, "abc", "1e5", "1.2.3", "1,2,3", "1.000,5", float("nan"), float("inf"), [1]]
)
def test_number_refuses_the_rest(raw: object) -> None:
    assert reason(field("number"), raw) == "must be a number"


def test_number_size_is_bounded() -> None:
    assert reason(field("number"), 10**16) == "is too large"
    assert validate_custom_value(field("number"), 10**15 - 1) == 10**15 - 1


@pytest.mark.parametrize(
    ("raw", "value"),
    [(True, True), (False, False), ("on", True), ("TRUE", True), ("0", False), ("no", False)],
)
def test_boolean_values(raw: object, value: bool) -> None:
    assert validate_custom_value(field("boolean"), raw) is value


def test_boolean_unticked_is_false_and_required_must_be_ticked() -> None:
    assert validate_custom_value(field("boolean"), None) is False
    assert validate_custom_value(field("boolean"), "") is False
    assert reason(field("boolean", required=True), None) == "must be ticked"
    assert reason(field("boolean", required=True), "false") == "must be ticked"
    assert validate_custom_value(field("boolean", required=True), "on") is True
    assert reason(field("boolean"), "maybe") == "must be true or false"
    assert reason(field("boolean"), 1) == "must be true or false"


def test_date_values() -> None:
    assert validate_custom_value(field("date"), "2024-02-29") == "2024-02-29"
    assert validate_custom_value(field("date"), date(2025, 1, 5)) == "2025-01-05"
    for raw in ["2023-02-29", "29-02-2024", "20240101", "2024-1-5", 20240101]:
        assert reason(field("date"), raw) == "must be a date written YYYY-MM-DD", raw
    assert reason(field("date"), datetime(2025, 1, 5, tzinfo=UTC)).startswith("must be a date")


def test_choice_values() -> None:
    assert validate_custom_value(field("choice"), "Malmö") == "Malmö"
    assert validate_custom_value(field("choice"), " Lund ") == "Lund"
    assert reason(field("choice"), "lund") == "must be one of: Lund, Malmö"
    many = field("choice", choices=[f"c{i}" for i in range(20)])
    assert reason(many, "x").endswith(", …")


def test_unknown_type_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="unknown type"):
        validate_custom_value(field("colour"), "red")


# --- definitions ----------------------------------------------------------------------------


@pytest.mark.parametrize("type_", ["text", "number", "boolean", "date", "choice"])
def test_valid_definitions_have_no_problems(type_: str) -> None:
    assert definition_problems(field(type_)) == {}


def test_text_max_length_bounds() -> None:
    assert definition_problems(field("text", max_length=TEXT_MAX)) == {}
    for bad in [0, TEXT_MAX + 1, True, "10"]:
        assert "max_length" in definition_problems(field("text", max_length=bad)), bad
    assert "max_length" in definition_problems(field("number", max_length=10))


@pytest.mark.parametrize("key", ["", "1abc", "Abc", "a-b", "æble", "a" * 41, "_a", "a b"])
def test_bad_keys(key: str) -> None:
    assert "key" in definition_problems(field("text", key=key))


def test_good_keys() -> None:
    for key in ["a", "postcode", "born_1990", "a" * 40]:
        assert definition_problems(field("text", key=key)) == {}


def test_labels_type_and_flags() -> None:
    problems = definition_problems(
        field("text", label_da=" ", label_sv="x" * 201, label_en="a\nb", required="yes")
    )
    assert set(problems) == {"label_da", "label_sv", "label_en", "required"}
    assert "type" in definition_problems(field("colour"))


@pytest.mark.parametrize(
    "choices",
    [[], ["a", "a"], ["a", ""], [" a"], ["x" * 101], [f"c{i}" for i in range(101)], [1], "ab"],
)
def test_bad_choices(choices: Any) -> None:
    assert "choices" in definition_problems(field("choice", choices=choices))


def test_choices_only_for_choice_fields() -> None:
    assert definition_problems(field("text", choices=["a"])) == {
        "choices": "only a choice field has choices"
    }
