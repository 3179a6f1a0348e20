"""The footer every campaign message carries: why the resident gets it, and their links."""

from __future__ import annotations

import html

# Minimal footer strings; the resident's language picks one, unknown languages get Danish.
FOOTER: dict[str, tuple[str, str, str]] = {
    "da": ("Du får denne mail, fordi du har tilmeldt dig.", "Afmeld", "Indstillinger"),
    "sv": ("Du får detta mejl eftersom du har anmält dig.", "Avsluta", "Inställningar"),
    "en": ("You receive this email because you subscribed.", "Unsubscribe", "Preferences"),
}
# The label of the "view in the browser" link, per language (Danish for unknown ones).
VIEW_IN_BROWSER: dict[str, str] = {
    "da": "Vis i browseren",
    "sv": "Visa i webbläsaren",
    "en": "View in the browser",
}


def text_footer(
    language: str, unsubscribe_url: str, preferences_url: str, view_url: str | None = None
) -> str:
    """The plain-text footer (after the signature separator) in the recipient's language."""
    reason, unsubscribe, preferences = FOOTER.get(language, FOOTER["da"])
    view = f"{_view_label(language)}: {view_url}\n" if view_url else ""
    return (
        f"\n\n-- \n{reason}\n{view}{unsubscribe}: {unsubscribe_url}\n"
        f"{preferences}: {preferences_url}\n"
    )


def html_footer(
    language: str,
    unsubscribe_url: str,
    preferences_url: str,
    view_url: str | None = None,
    pixel_url: str | None = None,
) -> str:
    """The HTML footer, every part escaped, in the recipient's language; with ``pixel_url``
    it ends with the open-tracking image."""
    reason, unsubscribe, preferences = FOOTER.get(language, FOOTER["da"])
    view = (
        f'<a href="{html.escape(view_url)}">{html.escape(_view_label(language))}</a> · '
        if view_url
        else ""
    )
    pixel = open_pixel(pixel_url) if pixel_url else ""
    return (
        f'<hr><p style="font-size:12px;color:#666">{html.escape(reason)}<br>{view}'
        f'<a href="{html.escape(unsubscribe_url)}">{html.escape(unsubscribe)}</a> · '
        f'<a href="{html.escape(preferences_url)}">{html.escape(preferences)}</a></p>{pixel}'
    )


def open_pixel(pixel_url: str) -> str:
    """The open-tracking image: invisible, with an empty text alternative."""
    return f'<img src="{html.escape(pixel_url)}" width="1" height="1" alt="" style="border:0">'


def with_footer(body: str, footer: str) -> str:
    """The footer inside ``</body>`` of a whole document, else after the fragment."""
    index = body.lower().rfind("</body>")
    return body + footer if index < 0 else body[:index] + footer + body[index:]


def _view_label(language: str) -> str:
    return VIEW_IN_BROWSER.get(language, VIEW_IN_BROWSER["da"])
