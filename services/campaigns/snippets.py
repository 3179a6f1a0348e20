"""Copy-paste snippets that put a member site's sign-up form on its pages: a plain HTML form
(works without JavaScript), the script widget, and an iframe. All point at the public
subscriptions service."""

from __future__ import annotations

from functools import cache
from typing import Any, Final
from urllib.parse import quote

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import escape
from sqlalchemy.ext.asyncio import AsyncSession

from services.campaigns import queries
from services.campaigns.schemas import SnippetsOut
from services.campaigns.sites import site_row
from shared.languages import LANGUAGES, localised
from shared.municipalities import ELSEWHERE, MUNICIPALITIES
from shared.settings import Settings

# The version the subscriptions service records for this form's consent wording (its consent
# texts list it); change TEXTS[...]["consent"] and this must change there and here together.
CONSENT_VERSION: Final = "2026-11-snippet-1"
# Each language named in itself, as residents look for it.
LANGUAGE_NAMES: Final = (("da", "Dansk"), ("sv", "Svenska"), ("en", "English"))

# The form's few words, in the site's default language. The resident-facing pages behind the
# form (thank-you, errors, confirmation) come from the subscriptions service's catalogs.
TEXTS: Final[dict[str, dict[str, str]]] = {
    "da": {
        "email": "E-mailadresse",
        "name": "Navn (valgfrit)",
        "language": "Sprog",
        "lists": "Nyhedsbreve",
        "municipality": "Kommune (valgfrit)",
        "no_municipality": "Ingen kommune valgt",
        "DK": "Danmark",
        "SE": "Skåne",
        "other": "Andre steder",
        "dk-elsewhere": "Andetsteds i Danmark",
        "se-elsewhere": "Andetsteds i Sverige",
        "abroad": "Udlandet",
        "consent": "Ja tak, send mig de valgte nyhedsbreve på e-mail. "
        "Jeg kan altid afmelde mig igen.",
        "confirm_note": "Du får en e-mail, hvor du bekræfter din tilmelding.",
        "honeypot": "Lad dette felt stå tomt",
        "submit": "Tilmeld",
        "iframe_title": "Tilmelding til nyhedsbrev",
    },
    "sv": {
        "email": "E-postadress",
        "name": "Namn (valfritt)",
        "language": "Språk",
        "lists": "Nyhetsbrev",
        "municipality": "Kommun (valfritt)",
        "no_municipality": "Ingen kommun vald",
        "DK": "Danmark",
        "SE": "Skåne",
        "other": "Andra platser",
        "dk-elsewhere": "Någon annanstans i Danmark",
        "se-elsewhere": "Någon annanstans i Sverige",
        "abroad": "Utomlands",
        "consent": "Ja tack, skicka mig de valda nyhetsbreven via e-post. "
        "Jag kan när som helst avsluta prenumerationen.",
        "confirm_note": "Du får ett mejl där du bekräftar din anmälan.",
        "honeypot": "Lämna det här fältet tomt",
        "submit": "Prenumerera",
        "iframe_title": "Anmälan till nyhetsbrev",
    },
    "en": {
        "email": "Email address",
        "name": "Name (optional)",
        "language": "Language",
        "lists": "Newsletters",
        "municipality": "Municipality (optional)",
        "no_municipality": "No municipality chosen",
        "DK": "Denmark",
        "SE": "Skåne",
        "other": "Other places",
        "dk-elsewhere": "Elsewhere in Denmark",
        "se-elsewhere": "Elsewhere in Sweden",
        "abroad": "Abroad",
        "consent": "Yes, please send me the selected newsletters by email. "
        "I can unsubscribe at any time.",
        "confirm_note": "You will get an email to confirm your sign-up.",
        "honeypot": "Leave this field empty",
        "submit": "Subscribe",
        "iframe_title": "Newsletter sign-up",
    },
}


async def get_snippets(session: AsyncSession, settings: Settings, key: str) -> SnippetsOut:
    """The three embed snippets of a site, built from the public subscriptions URL."""
    site = await site_row(session, key)
    base = settings.subscriptions_public_url.rstrip("/")
    language = site.default_language if site.default_language in LANGUAGES else "da"
    lists = await _form_lists(session, list(site.default_lists), language)
    fields = await _public_fields(session, language)
    site_path = quote(site.key, safe="")
    return SnippetsOut(
        html_form=html_form(
            base, site.key, language, lists, fields, asks_municipality=site.asks_municipality
        ),
        script=(
            f'<div data-brevdue-signup></div><script src="{escape(base)}/widget.js" '
            f'data-site="{escape(site.key)}" async></script>'
        ),
        iframe=(
            f'<iframe src="{escape(base)}/embed/{escape(site_path)}" '
            f'title="{escape(TEXTS[language]["iframe_title"])}: {escape(site.name)}" '
            'loading="lazy" style="border:0;width:100%;min-height:420px"></iframe>'
        ),
    )


def html_form(
    base: str,
    site_key: str,
    language: str,
    lists: list[dict[str, str]],
    fields: list[dict[str, Any]] | None = None,
    *,
    asks_municipality: bool = False,
) -> str:
    """The plain HTML sign-up form with the public custom ``fields`` (and the municipality
    field when the site asks for it), every value escaped by the template."""
    return (
        _environment()
        .get_template("signup_form.html")
        .render(
            action=f"{base}/subscribe",
            site_key=site_key,
            # Ids carry the key so two forms on one page do not share labels.
            id=f"brevdue-{site_key}",
            language=language,
            languages=LANGUAGE_NAMES,
            lists=lists,
            fields=fields or [],
            municipalities=_municipality_groups(language) if asks_municipality else [],
            consent_version=CONSENT_VERSION,
            t=TEXTS[language],
        )
    )


def _municipality_groups(language: str) -> list[tuple[str, list[tuple[str, str]]]]:
    """The municipality field's choices as the subscriptions service offers them: Denmark,
    Skåne, then the places elsewhere (it accepts exactly these ids)."""
    texts = TEXTS[language]
    countries = [
        (texts[country], [(m.id, m.name) for m in MUNICIPALITIES if m.country == country])
        for country in ("DK", "SE")
    ]
    return [*countries, (texts["other"], [(place, texts[place]) for place in ELSEWHERE])]


async def _form_lists(
    session: AsyncSession, default_slugs: list[str], language: str
) -> list[dict[str, str]]:
    """The site's default lists in its order, or every public list when it names none.

    Lists that are not public (any more) are left out: the public sign-up would refuse them.
    """
    public = {row.slug: row for row in await queries.all_lists(session) if row.is_public}
    slugs = [slug for slug in default_slugs if slug in public] if default_slugs else list(public)
    return [{"slug": slug, "name": localised(public[slug], "name", language)} for slug in slugs]


async def _public_fields(session: AsyncSession, language: str) -> list[dict[str, Any]]:
    """Custom fields staff allow on public forms, labelled in ``language``; the sign-up
    service accepts them as ``custom.<key>``."""
    return [
        {
            "name": f"custom.{row.key}",
            "label": getattr(row, f"label_{language}"),
            "type": row.type,
            "choices": list(row.choices),
            "required": row.required,
        }
        for row in await queries.all_fields(session)
        if row.public
    ]


@cache
def _environment() -> Environment:
    return Environment(
        loader=PackageLoader("services.campaigns", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
