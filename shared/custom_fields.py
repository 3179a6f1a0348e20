"""Staff-defined subscriber fields: the definition format and the check of a value against it.

A contract between services: the campaigns service stores definitions (table ``custom_fields``)
and checks them with ``definition_problems``; the subscriptions service checks what residents
send with ``validate_custom_value``. A definition is any mapping with the columns of
``custom_fields``: key, label_da, label_sv, label_en, type, choices, required, public,
max_length.

Values come back in a JSON-friendly form: text and choice as ``str``, number as ``int`` or
``float``, boolean as ``bool``, date as an ISO ``YYYY-MM-DD`` string; ``None`` when an optional
field was left empty.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any, Final

from shared.errors import BrevdueError
from shared.languages import LANGUAGES

FIELD_TYPES: Final = ("text", "number", "boolean", "date", "choice")
KEY_PATTERN: Final = re.compile(r"[a-z][a-z0-9_]{0,39}")
# Labels are stored one column per language, for every language residents read.
LABEL_LANGUAGES: Final = LANGUAGES
LABEL_MAX: Final = 200
TEXT_MAX: Final = 2000  # the longest text value, whatever a definition's max_length says
CHOICES_MAX: Final = 100
CHOICE_MAX: Final = 100  # characters in one choice
# Beyond 2**53 JavaScript (and many JSON readers) lose integer precision; stay well below.
NUMBER_LIMIT: Final = 10**15

CustomValue = str | int | float | bool

_TRUE: Final = frozenset({"true", "on", "1", "yes"})
_FALSE: Final = frozenset({"false", "off", "0", "no"})
_NUMBER: Final = re.compile(r"[-+]?\d{1,16}(?:\.\d{1,16})?")
_ISO_DATE: Final = re.compile(r"\d{4}-\d{2}-\d{2}")
# Tab and line breaks are harmless in text; every other control character is refused
# (PostgreSQL cannot even store NUL).
_ALLOWED_CONTROLS: Final = frozenset("\t\n\r")


class InvalidCustomValue(BrevdueError):
    """A value does not fit its field's definition; ``reason`` is readable by the resident."""

    def __init__(self, key: str, reason: str) -> None:
        self.key = key
        self.reason = reason
        super().__init__(f"{key} {reason}")


def validate_custom_value(definition: Mapping[Any, Any], raw: object) -> CustomValue | None:
    """The value ``raw`` as stored for this field; raise InvalidCustomValue when it does not fit.

    Empty input (``None`` or blank text) is ``None``, or an error when the field is required.
    A boolean field reads an unticked box as ``False``; ``required`` there means it must be ticked.
    """
    key = str(definition["key"])
    kind = definition["type"]
    required = bool(definition["required"])
    blank = raw is None or (isinstance(raw, str) and not raw.strip())
    if kind == "boolean":
        value = False if blank else _boolean(key, raw)
        if required and not value:
            raise InvalidCustomValue(key, "must be ticked")
        return value
    if blank:
        if required:
            raise InvalidCustomValue(key, "is required")
        return None
    if kind == "text":
        return _text(key, raw, definition.get("max_length"))
    if kind == "number":
        return _number(key, raw)
    if kind == "date":
        return _date(key, raw)
    if kind == "choice":
        return _choice(key, raw, definition.get("choices") or [])
    raise ValueError(f"custom field {key!r} has an unknown type {kind!r}")


def definition_problems(definition: Mapping[Any, Any]) -> dict[str, str]:
    """Every problem of a field definition, by column name; empty when it is valid."""
    kind = definition.get("type")
    found: dict[str, str | None] = {
        "key": _key_problem(definition.get("key")),
        **{
            f"label_{lang}": _label_problem(definition.get(f"label_{lang}"))
            for lang in LABEL_LANGUAGES
        },
        "type": None if kind in FIELD_TYPES else "must be one of " + ", ".join(FIELD_TYPES),
        "choices": _choices_problem(kind, definition.get("choices") or []),
        "max_length": _max_length_problem(kind, definition.get("max_length")),
        **{
            flag: None if isinstance(definition.get(flag), bool) else "must be true or false"
            for flag in ("required", "public")
        },
    }
    return {column: problem for column, problem in found.items() if problem}


def is_clean_text(text: str) -> bool:
    """No control characters (bar tab and line breaks) and no lone surrogates."""
    return not any(
        unicodedata.category(char) in ("Cc", "Cs") and char not in _ALLOWED_CONTROLS
        for char in text
    )


# --- values ---------------------------------------------------------------------------------


def _text(key: str, raw: object, max_length: object) -> str:
    if not isinstance(raw, str):
        raise InvalidCustomValue(key, "must be text")
    value = unicodedata.normalize("NFC", raw.strip())
    if not is_clean_text(value):
        raise InvalidCustomValue(key, "contains characters that are not allowed")
    limit = max_length if isinstance(max_length, int) and 0 < max_length < TEXT_MAX else TEXT_MAX
    if len(value) > limit:
        raise InvalidCustomValue(key, f"must be at most {limit} characters")
    return value


def _number(key: str, raw: object) -> int | float:
    if isinstance(raw, bool):
        raise InvalidCustomValue(key, "must be a number")
    if isinstance(raw, str):
        text = raw.strip()
        # Danish and Swedish write a decimal comma.
        if text.count(",") == 1 and "." not in text:
            text = text.replace(",", ".")
        if not _NUMBER.fullmatch(text):
            raise InvalidCustomValue(key, "must be a number")
        raw = float(text) if "." in text else int(text)
    if isinstance(raw, float) and not math.isfinite(raw):
        raise InvalidCustomValue(key, "must be a number")
    if not isinstance(raw, int | float):
        raise InvalidCustomValue(key, "must be a number")
    if abs(raw) >= NUMBER_LIMIT:
        raise InvalidCustomValue(key, "is too large")
    return raw


def _boolean(key: str, raw: object) -> bool:
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, str):
        word = raw.strip().lower()
        if word in _TRUE:
            return True
        if word in _FALSE:
            return False
    raise InvalidCustomValue(key, "must be true or false")


def _date(key: str, raw: object) -> str:
    # datetime is a subclass of date: a point in time is not a calendar date.
    if isinstance(raw, date) and not isinstance(raw, datetime):
        return raw.isoformat()
    if isinstance(raw, str) and _ISO_DATE.fullmatch(raw.strip()):
        try:
            return date.fromisoformat(raw.strip()).isoformat()
        except ValueError:
            pass
    raise InvalidCustomValue(key, "must be a date written YYYY-MM-DD")


def _choice(key: str, raw: object, choices: list[str]) -> str:
    if isinstance(raw, str) and raw.strip() in choices:
        return raw.strip()
    shown = ", ".join(choices[:10]) + (", …" if len(choices) > 10 else "")
    raise InvalidCustomValue(key, f"must be one of: {shown}")


# --- definitions ----------------------------------------------------------------------------


def _label_problem(label: object) -> str | None:
    if not isinstance(label, str) or not label.strip():
        return "must not be empty"
    if len(label) > LABEL_MAX:
        return f"must be at most {LABEL_MAX} characters"
    if not _one_line(label):
        return "must be one line without control characters"
    return None


def _key_problem(key: object) -> str | None:
    if isinstance(key, str) and KEY_PATTERN.fullmatch(key):
        return None
    return "must start with a-z and continue with up to 39 of a-z, 0-9 and _"


def _choices_problem(kind: object, choices: object) -> str | None:
    if kind != "choice":
        return "only a choice field has choices" if choices else None
    if not isinstance(choices, list) or not choices:
        return "a choice field needs at least one choice"
    if len(choices) > CHOICES_MAX:
        return f"must be at most {CHOICES_MAX} choices"
    problem = next(filter(None, map(_choice_problem, choices)), None)
    if problem is None and len(set(choices)) != len(choices):
        return "must not repeat a choice"
    return problem


def _choice_problem(choice: object) -> str | None:
    if not isinstance(choice, str) or not choice.strip() or choice != choice.strip():
        return "each choice must be non-empty text without surrounding spaces"
    if len(choice) > CHOICE_MAX or not _one_line(choice):
        return f"each choice must be one line of at most {CHOICE_MAX} characters"
    return None


def _max_length_problem(kind: object, max_length: object) -> str | None:
    if max_length is None:
        return None
    if kind != "text":
        return "only a text field has a maximum length"
    if isinstance(max_length, bool) or not isinstance(max_length, int):
        return "must be a whole number"
    if not 1 <= max_length <= TEXT_MAX:
        return f"must be between 1 and {TEXT_MAX}"
    return None


def _one_line(text: str) -> bool:
    return is_clean_text(text) and not _ALLOWED_CONTROLS.intersection(text)
