"""Languages of residents' pages and mail: gettext catalogs, language negotiation and the one
way a list's name or description is read in a language."""

from __future__ import annotations

import gettext
from collections.abc import Mapping
from io import BytesIO
from pathlib import Path
from typing import Final, Protocol

from babel.core import negotiate_locale
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from shared.languages import DEFAULT_LANGUAGE, LANGUAGES, localised

LOCALES_DIR: Final = Path(__file__).parent / "locales"
DOMAIN: Final = "messages"

# Norwegian readers get Danish: the written languages are close and Brevdue has no Norwegian.
_ALIASES: Final = {"nb": "da", "nn": "da", "no": "da"}


def N_(message: str) -> str:
    """Mark a string for extraction without translating it here."""
    return message


def load_translations(
    locales_dir: Path = LOCALES_DIR, languages: tuple[str, ...] = LANGUAGES
) -> dict[str, gettext.GNUTranslations]:
    """Load one catalog per language from ``<lang>/LC_MESSAGES/messages.{mo,po}``."""
    return {lang: _load_catalog(locales_dir / lang / "LC_MESSAGES") for lang in languages}


def _load_catalog(directory: Path) -> gettext.GNUTranslations:
    po_path = directory / f"{DOMAIN}.po"
    mo_path = directory / f"{DOMAIN}.mo"
    # A compiled catalog is only trusted when it is at least as new as its source; otherwise
    # compile in memory so a fresh checkout works without a build step.
    if mo_path.exists() and mo_path.stat().st_mtime >= po_path.stat().st_mtime:
        with mo_path.open("rb") as mo_file:
            return gettext.GNUTranslations(mo_file)
    with po_path.open("rb") as po_file:
        catalog = read_po(po_file, domain=DOMAIN)
    buffer = BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return gettext.GNUTranslations(buffer)


def parse_accept_language(header: str | None) -> list[str]:
    """Language tags from an Accept-Language header, most preferred first."""
    if not header:
        return []
    weighted: list[tuple[float, int, str]] = []
    for position, item in enumerate(header.split(",")[:32]):
        tag, _, params = item.strip().partition(";")
        tag = tag.strip()
        if not tag or tag == "*" or len(tag) > 35:
            continue
        quality = 1.0
        params = params.strip()
        if params.startswith("q="):
            try:
                quality = float(params[2:])
            except ValueError:
                continue
        if quality > 0:
            weighted.append((-quality, position, tag))
    return [tag for _, _, tag in sorted(weighted)]


def negotiate_language(
    requested: str | None = None,
    accept_language: str | None = None,
    fallback: str | None = None,
) -> str:
    """Pick da/sv/en: an explicit ``requested`` language, then ``fallback``, then the
    Accept-Language header, then Danish."""
    for candidate in (requested, fallback):
        if candidate in LANGUAGES:
            return candidate
    return accepted_language(accept_language) or DEFAULT_LANGUAGE


def accepted_language(accept_language: str | None) -> str | None:
    """The first of da/sv/en an Accept-Language header (or ``navigator.languages`` joined
    with commas) accepts; None when it accepts none of them."""
    preferred = [
        _ALIASES.get(tag.split("-")[0].lower(), tag)
        for tag in parse_accept_language(accept_language)
    ]
    match = negotiate_locale(preferred, list(LANGUAGES), sep="-")
    return match if isinstance(match, str) and match in LANGUAGES else None


def language_names() -> Mapping[str, str]:
    """Each language named in itself, for the language switcher."""
    return {"da": "Dansk", "sv": "Svenska", "en": "English"}


class NamedList(Protocol):
    """A list row with its slug and ``name_<language>`` (and maybe ``description_<language>``)
    columns."""

    @property
    def slug(self) -> str: ...


def list_name(row: NamedList, language: str) -> str:
    """A list's name in ``language``, else its Danish name, else its slug."""
    return localised(row, "name", language, fallback=row.slug)


def list_description(row: NamedList, language: str) -> str:
    """A list's description in ``language``, else its Danish one, else nothing."""
    return localised(row, "description", language)
