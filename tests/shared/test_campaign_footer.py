"""The footer of campaign mail: the resident's language, escaped links, placed in the body."""

from __future__ import annotations

from shared.campaign_footer import FOOTER, html_footer, text_footer, with_footer

UNSUBSCRIBE = "https://x.dk/u?t=a&b"
PREFERENCES = "https://x.dk/p?t=c"


def test_text_footer_is_in_the_residents_language() -> None:
    assert text_footer("sv", UNSUBSCRIBE, PREFERENCES) == (
        f"\n\n-- \n{FOOTER['sv'][0]}\nAvsluta: {UNSUBSCRIBE}\nInställningar: {PREFERENCES}\n"
    )


def test_an_unknown_language_gets_danish() -> None:
    assert text_footer("de", UNSUBSCRIBE, PREFERENCES) == text_footer(
        "da", UNSUBSCRIBE, PREFERENCES
    )
    assert "Afmeld" in html_footer("de", UNSUBSCRIBE, PREFERENCES)


def test_html_footer_escapes_the_links() -> None:
    footer = html_footer("en", UNSUBSCRIBE, PREFERENCES)
    assert 'href="https://x.dk/u?t=a&amp;b"' in footer
    assert ">Unsubscribe</a>" in footer and ">Preferences</a>" in footer


def test_footer_goes_inside_the_body_of_a_whole_document() -> None:
    assert with_footer("<html><BODY><p>x</p></BODY></html>", "<hr>") == (
        "<html><BODY><p>x</p><hr></BODY></html>"
    )


def test_footer_follows_a_fragment() -> None:
    assert with_footer("<p>x</p>", "<hr>") == "<p>x</p><hr>"
