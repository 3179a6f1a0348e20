"""The footer every campaign message carries: why the resident gets it, and their links."""

from __future__ import annotations

import html

# Minimal footer strings; the resident's language picks one, unknown languages get Danish.
FOOTER: dict[str, tuple[str, str, str]] = {
    "da": ("Du får denne mail, fordi du har tilmeldt dig.", "Afmeld", "Indstillinger"),
    "sv": ("Du får detta mejl eftersom du har anmält dig.", "Avsluta", "Inställningar"),
    "en": ("You receive this email because you subscribed.", "Unsubscribe", "Preferences"),
}


def text_footer(language: str, unsubscribe_url: str, preferences_url: str) -> str:
    """The plain-text footer (after the signature separator) in the recipient's language."""
    reason, unsubscribe, preferences = FOOTER.get(language, FOOTER["da"])
    return (
        f"\n\n-- \n{reason}\n{unsubscribe}: {unsubscribe_url}\n{preferences}: {preferences_url}\n"
    )


def html_footer(language: str, unsubscribe_url: str, preferences_url: str) -> str:
    """The HTML footer, every part escaped, in the recipient's language."""
    reason, unsubscribe, preferences = FOOTER.get(language, FOOTER["da"])
    return (
        f'<hr><p style="font-size:12px;color:#666">{html.escape(reason)}<br>'
        f'<a href="{html.escape(unsubscribe_url)}">{html.escape(unsubscribe)}</a> · '
        f'<a href="{html.escape(preferences_url)}">{html.escape(preferences)}</a></p>'
    )


def with_footer(body: str, footer: str) -> str:
    """The footer inside ``</body>`` of a whole document, else after the fragment."""
    index = body.lower().rfind("</body>")
    return body + footer if index < 0 else body[:index] + footer + body[index:]
