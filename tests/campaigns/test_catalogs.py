"""The staff app's catalogs hold a Danish and a Swedish text for every message its pages show."""

from __future__ import annotations

from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

SERVICE = Path(__file__).parents[2] / "services" / "campaigns"
METHODS = [
    ("templates/app/**.html", "jinja2"),
    ("templates/app/**.txt", "jinja2"),
    ("**.py", "python"),
]
OPTIONS = {"templates/app/**.html": {"extensions": "jinja2.ext.i18n"}}


def extracted() -> set[str]:
    """Every message the pages and the N_-marked Python code use, as the catalogs' README says."""
    found = extract_from_dir(
        str(SERVICE),
        method_map=METHODS,
        options_map={pattern: {"extensions": "jinja2.ext.i18n"} for pattern, _ in METHODS[:2]},
        keywords={"_": None, "gettext": None, "ngettext": (1, 2), "N_": None},
    )
    messages: set[str] = set()
    for _, _, message, _, _ in found:
        messages.add(message if isinstance(message, str) else message[0])
    return messages


@pytest.mark.parametrize("lang", ["da", "sv"])
def test_every_message_the_app_shows_is_translated(lang: str) -> None:
    with (SERVICE / "locales" / lang / "LC_MESSAGES" / "messages.po").open("rb") as po_file:
        catalog = read_po(po_file)
    translated = {
        (m.id if isinstance(m.id, str) else m.id[0])
        for m in catalog
        if m.id
        and m.string
        and (m.string if isinstance(m.string, str) else m.string[0])
        and "fuzzy" not in m.flags
    }
    missing = sorted(extracted() - translated)
    assert not missing, f"{lang}: no translation for {missing}"


def test_extraction_finds_marked_python_messages() -> None:
    # The login refusal is raised in Python and shown on the login page.
    assert "wrong email or password" in extracted()
