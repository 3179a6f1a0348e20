"""Catalogs: loaded from .po without a build step, complete, negotiated from headers."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import pytest
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from services.subscriptions.i18n import (
    LOCALES_DIR,
    list_description,
    list_name,
    load_translations,
    negotiate_language,
    parse_accept_language,
)
from services.subscriptions.pages import Renderer
from services.subscriptions.queries import ListTextRow
from shared.languages import LANGUAGES


@pytest.mark.parametrize("lang", ["da", "sv"])
def test_every_message_is_translated(lang: str) -> None:
    with (LOCALES_DIR / "messages.pot").open("rb") as pot_file:
        template = read_po(pot_file)
    with (LOCALES_DIR / lang / "LC_MESSAGES" / "messages.po").open("rb") as po_file:
        catalog = read_po(po_file)
    expected = {message.id for message in template if message.id}
    translated = {
        message.id
        for message in catalog
        if message.id
        and not message.fuzzy
        and all(message.string if isinstance(message.string, tuple) else [message.string])
    }
    assert expected <= translated, expected - translated


def test_po_is_compiled_in_memory_when_no_mo_exists(tmp_path: Path) -> None:
    copy = tmp_path / "locales"
    shutil.copytree(LOCALES_DIR, copy, ignore=shutil.ignore_patterns("*.mo"))
    translations = load_translations(copy)
    assert translations["da"].gettext("Sign up") == "Tilmeld mig"
    assert translations["sv"].gettext("Sign up") == "Anmäl mig"
    assert translations["en"].gettext("Sign up") == "Sign up"


def test_a_newer_mo_is_used_and_a_stale_one_ignored(tmp_path: Path) -> None:
    copy = tmp_path / "locales"
    shutil.copytree(LOCALES_DIR, copy, ignore=shutil.ignore_patterns("*.mo"))
    directory = copy / "da" / "LC_MESSAGES"
    with (directory / "messages.po").open("rb") as po_file:
        catalog = read_po(po_file)
    message = catalog.get("Sign up")
    assert message is not None
    message.string = "Tilmeld (fra .mo)"
    with (directory / "messages.mo").open("wb") as mo_file:
        write_mo(mo_file, catalog)

    po_time = (directory / "messages.po").stat().st_mtime
    os.utime(directory / "messages.mo", (po_time + 10, po_time + 10))
    assert load_translations(copy)["da"].gettext("Sign up") == "Tilmeld (fra .mo)"

    os.utime(directory / "messages.mo", (po_time - 10, po_time - 10))
    assert load_translations(copy)["da"].gettext("Sign up") == "Tilmeld mig"


@pytest.mark.parametrize(
    ("requested", "header", "fallback", "expected"),
    [
        (None, None, None, "da"),
        ("sv", "en", None, "sv"),
        ("xx", "en-US,en;q=0.9", None, "en"),
        (None, "sv-SE,sv;q=0.9,en;q=0.8", None, "sv"),
        (None, "de-DE,de;q=0.9,en;q=0.5", None, "en"),
        (None, "en;q=0.2,sv;q=0.8", None, "sv"),
        (None, "nb-NO,en;q=0.5", None, "da"),
        (None, "fr", None, "da"),
        (None, "en", "sv", "sv"),
        (None, ";;;,q=x,*,", None, "da"),
        (None, "sv;q=abc, en;q=0", None, "da"),
    ],
)
def test_negotiation(
    requested: str | None, header: str | None, fallback: str | None, expected: str
) -> None:
    assert negotiate_language(requested, header, fallback) == expected


def test_accept_language_order() -> None:
    assert parse_accept_language("da, en-gb;q=0.8, sv;q=0.9") == ["da", "sv", "en-gb"]


def test_list_texts_fall_back_to_danish_then_to_the_slug() -> None:
    row = ListTextRow("kultur", "Kultur", "Kultur (sv)", "", "Om kultur", "", "")
    assert list_name(row, "sv") == "Kultur (sv)"
    assert list_name(row, "en") == "Kultur"
    assert list_description(row, "sv") == "Om kultur"
    unnamed = ListTextRow("kultur", "", "", "", "", "", "")
    assert list_name(unnamed, "en") == "kultur"
    assert list_description(unnamed, "en") == ""


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_page_renders_in_every_language(lang: str) -> None:
    renderer = Renderer(load_translations())
    common: dict[str, Any] = {
        "path": "/x",
        "languages": {"da": "Dansk", "sv": "Svenska", "en": "English"},
    }
    pages: dict[str, dict[str, Any]] = {
        "thanks.html": {},
        "confirm.html": {"token": "t", "lists": ["A"]},
        "confirmed.html": {"lists": []},
        "confirm_gone.html": {},
        "unsubscribe.html": {"token": "t", "lists": ["A"], "preferences_token": "p"},
        "unsubscribed.html": {"token": "t", "lists": ["A"], "preferences_token": "p"},
        "link_error.html": {"purpose": "confirm", "reason": "expired"},
        "error.html": {"status": 500},
    }
    for template, context in pages.items():
        html = renderer.render(template, lang, **common, **context)
        assert f'<html lang="{lang}">' in html
        assert "<h1>" in html and "<main" in html
    text = renderer.render(
        "mail/confirm.txt",
        lang,
        name=None,
        list_names=["A"],
        confirm_url="http://subscriptions.test/confirm/t",
        max_age_days=1,
    )
    assert "http://subscriptions.test/confirm/t" in text
    assert {"da": "1 dag.", "sv": "1 dag.", "en": "1 day."}[lang] in text
