"""The languages Brevdue speaks to residents and staff, and how a localised text is chosen."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final, Literal, get_args

Language = Literal["da", "sv", "en"]

# Order matters: Danish first, as the fallback when a text is missing in the reader's language.
LANGUAGES: Final[tuple[Language, ...]] = get_args(Language)
DEFAULT_LANGUAGE: Final[Language] = "da"


def is_language(value: object) -> bool:
    """Whether ``value`` names one of the supported languages."""
    return value in LANGUAGES


def localised(row: Mapping[str, Any] | Any, prefix: str, language: str, fallback: str = "") -> str:
    """``row``'s ``<prefix>_<language>`` column, else the Danish one, else ``fallback``.

    ``row`` is a mapping (a ``RowMapping``) or an object with attributes (a named tuple), as the
    query modules return them; list names and descriptions are stored one column per language.
    """
    for lang in (language, DEFAULT_LANGUAGE):
        key = f"{prefix}_{lang}"
        value = row.get(key) if isinstance(row, Mapping) else getattr(row, key, None)
        if value:
            return str(value)
    return fallback
