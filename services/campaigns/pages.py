"""Staff app pages: Jinja2 templates rendered with the campaigns service's gettext catalogs."""

from __future__ import annotations

import gettext
from io import BytesIO
from pathlib import Path
from typing import Any, Final

from babel.core import negotiate_locale
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from jinja2 import Environment, FileSystemLoader, select_autoescape

from shared.languages import DEFAULT_LANGUAGE, LANGUAGES

TEMPLATES_DIR: Final = Path(__file__).parent / "templates"
LOCALES_DIR: Final = Path(__file__).parent / "locales"
DOMAIN: Final = "messages"


def _catalog(directory: Path) -> gettext.GNUTranslations:
    po_path = directory / f"{DOMAIN}.po"
    mo_path = directory / f"{DOMAIN}.mo"
    # A compiled catalog counts only when it is at least as new as its source, so a fresh
    # checkout works without a build step.
    if mo_path.exists() and mo_path.stat().st_mtime >= po_path.stat().st_mtime:
        with mo_path.open("rb") as mo_file:
            return gettext.GNUTranslations(mo_file)
    with po_path.open("rb") as po_file:
        catalog = read_po(po_file, domain=DOMAIN)
    buffer = BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return gettext.GNUTranslations(buffer)


def page_language(accept_language: str | None, chosen: str | None = None) -> str:
    """The staff app's language: the one the user chose, else the browser's."""
    return chosen if chosen in LANGUAGES else negotiate(accept_language)


def negotiate(accept_language: str | None) -> str:
    """da, sv or en from an Accept-Language header; Danish when nothing fits."""
    tags = [
        item.split(";")[0].strip().replace("-", "_") for item in (accept_language or "").split(",")
    ]
    found = negotiate_locale([tag for tag in tags[:32] if tag], LANGUAGES, sep="_")
    return found[:2] if found else DEFAULT_LANGUAGE


class Renderer:
    """One Jinja2 environment per language, each with that language's catalog installed."""

    def __init__(
        self, templates_dir: Path = TEMPLATES_DIR, locales_dir: Path = LOCALES_DIR
    ) -> None:
        self._environments: dict[str, Environment] = {}
        self._catalogs: dict[str, gettext.GNUTranslations] = {
            lang: _catalog(locales_dir / lang / "LC_MESSAGES") for lang in LANGUAGES
        }
        for lang in LANGUAGES:
            env = Environment(
                loader=FileSystemLoader(templates_dir),
                autoescape=select_autoescape(default=True),
                extensions=["jinja2.ext.i18n"],
            )
            env.install_gettext_translations(  # type: ignore[attr-defined]
                self._catalogs[lang], newstyle=True
            )
            self._environments[lang] = env

    def render(self, template: str, lang: str, **context: Any) -> str:
        """Render ``template`` in ``lang``."""
        return self._environments[lang].get_template(template).render(lang=lang, **context)

    def gettext(self, lang: str, message: str) -> str:
        """``message`` translated into ``lang``."""
        return self._catalogs[lang].gettext(message)
