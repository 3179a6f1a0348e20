"""Member sites' sign-up forms: the widget's form description, the script itself and the embed
page. The checks every sign-up passes (site, origin, proof of work) are admission.py's.

Texts come from the gettext catalogs, so widget.js holds no words of its own.
"""

from __future__ import annotations

import gzip
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Final

import msgspec
from litestar import Request, Response
from litestar.enums import MediaType
from sqlalchemy.ext.asyncio import AsyncSession

from services.subscriptions import cors, municipality_choice, public_fields, queries
from services.subscriptions.consent import CONSENT_TEXT
from services.subscriptions.consent import CONSENT_TEXT_VERSION as CONSENT_VERSION
from services.subscriptions.errors import FieldProblem, UnknownSite
from services.subscriptions.i18n import (
    N_,
    accepted_language,
    language_names,
    list_description,
    list_name,
)
from services.subscriptions.pages import Renderer
from services.subscriptions.public_fields import FormField
from services.subscriptions.queries import CustomFieldRow
from services.subscriptions.schemas import MAX_SITE_KEY, split_slugs
from services.subscriptions.sites import Site, SiteDirectory
from shared.languages import DEFAULT_LANGUAGE, LANGUAGES
from shared.settings import Settings

STATIC_DIR: Final = Path(__file__).parent / "static"
# Every word the widget shows, keyed as widget.js reads them.
WIDGET_TEXTS: Final[Mapping[str, str]] = {
    "title": N_("Sign up for newsletters"),
    "email": N_("Email address"),
    "name": N_("Name (optional)"),
    "lists": N_("Newsletters"),
    "language": N_("Language of the newsletter"),
    "municipality": N_("Municipality (optional)"),
    "no_municipality": N_("No municipality chosen"),
    "consent": CONSENT_TEXT,
    "submit": N_("Sign up"),
    "sending": N_("Sending …"),
    "solving": N_("Checking that you are not a robot. This takes a moment …"),
    "failed": N_("Something went wrong. Please try again in a little while."),
    "fix": N_("Please correct the following"),
    "error": N_("Error:"),
    "honeypot": N_("Leave this field empty"),
    "confirm_note": N_("We will send you an email with a link to confirm your sign-up."),
    "youth": N_("For children and young people"),
    "youth_help": N_(
        "We ask for your year of birth. If you are under %(age)s, a parent or guardian must "
        "agree: we send the email to confirm to them, and nothing is sent to you until they "
        "have confirmed."
    ),
    "birth_year": N_("Year of birth"),
    "guardian_email": N_("Your parent's or guardian's email address (if you are under %(age)s)"),
}


class FormList(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """A list on a site's form, named and described in the form's language."""

    slug: str
    name: str
    description: str
    checked: bool
    # A youth list: choosing it asks the year of birth (and maybe a guardian's address).
    # Left out of the JSON when false, so forms without youth lists read as before.
    youth: bool = False


class MunicipalityOption(msgspec.Struct, frozen=True, kw_only=True):
    """One choice of the municipality field: the id stored and the name shown."""

    id: str
    name: str


class MunicipalityGroup(msgspec.Struct, frozen=True, kw_only=True):
    """An ``<optgroup>`` of the municipality field: a country, or the broader places."""

    label: str
    options: list[MunicipalityOption]


class Consent(msgspec.Struct, frozen=True, kw_only=True):
    """The consent wording shown and the version it is recorded under."""

    text: str
    version: str


class SiteForm(msgspec.Struct, frozen=True, kw_only=True):
    """Everything widget.js needs to draw a site's form: lists, words, proof-of-work need."""

    site: str
    language: str
    languages: dict[str, str]
    lists: list[FormList]
    fields: list[FormField]
    texts: dict[str, str]
    consent: Consent
    proof_of_work: bool
    # The municipality field's choices when the site asks for it; empty when it does not.
    municipalities: list[MunicipalityGroup]
    subscribe_url: str
    challenge_url: str


def page_language(requested: str | None, site: Site, accept_language: str | None = None) -> str:
    """The form's language: the explicit choice (data-lang, ``?lang=``), else the resident's
    browser languages (Accept-Language), else the site's default."""
    if requested in LANGUAGES:
        return requested
    accepted = accepted_language(accept_language)
    if accepted is not None:
        return accepted
    return site.default_language if site.default_language in LANGUAGES else DEFAULT_LANGUAGE


def request_page_language(request: Request[Any, Any, Any], site: Site) -> str:
    """``page_language`` for a request: ``?lang=``, then ``?languages=`` (the widget passes
    ``navigator.languages``), then the Accept-Language header, then the site's default."""
    params = request.query_params
    browser = params.get("languages") or request.headers.get("accept-language")
    return page_language(params.get("lang"), site, browser)


async def require_site(sites: SiteDirectory, key: str) -> Site:
    """The site with this key; raise UnknownSite (a 404) otherwise."""
    site = await sites.get(key) if 0 < len(key) <= MAX_SITE_KEY else None
    if site is None:
        raise UnknownSite(key)
    return site


async def form_lists(
    session: AsyncSession, site: Site, language: str, wanted: Sequence[str] = ()
) -> list[FormList]:
    """The lists a site's form offers: ``wanted`` (data-lists), else the site's defaults, else
    every public list; private or unknown slugs are left out. A single list comes ticked."""
    async with session.begin():
        rows = {row.slug: row for row in await queries.get_public_list_texts(session)}
    slugs = [slug for slug in (wanted or site.default_lists) if slug in rows] or list(rows)
    return [
        FormList(
            slug=slug,
            name=list_name(rows[slug], language),
            description=list_description(rows[slug], language),
            checked=len(slugs) == 1,
            youth=rows[slug].youth,
        )
        for slug in slugs
    ]


async def site_form(
    session: AsyncSession,
    site: Site,
    *,
    language: str,
    wanted_lists: Sequence[str],
    renderer: Renderer,
    settings: Settings,
) -> SiteForm:
    """The widget's description of a site's form in ``language``, with the public custom
    fields."""
    base = settings.subscriptions_public_url.rstrip("/")
    fields = await public_fields.load(session)
    return SiteForm(
        site=site.key,
        language=language,
        languages=dict(language_names()),
        lists=await form_lists(session, site, language, wanted_lists),
        fields=public_fields.form_fields(fields, language),
        texts={
            key: renderer.gettext(language, text) % {"age": settings.age_of_digital_consent}
            if "%(age)s" in text
            else renderer.gettext(language, text)
            for key, text in WIDGET_TEXTS.items()
        },
        consent=Consent(text=renderer.gettext(language, CONSENT_TEXT), version=CONSENT_VERSION),
        proof_of_work=site.require_proof_of_work,
        municipalities=municipality_groups(renderer, language) if site.asks_municipality else [],
        subscribe_url=f"{base}/subscribe",
        challenge_url=f"{base}/altcha/challenge?site={site.key}",
    )


def municipality_groups(renderer: Renderer, language: str) -> list[MunicipalityGroup]:
    """The municipality field's choices in ``language``, as the widget draws them."""
    return [
        MunicipalityGroup(
            label=label, options=[MunicipalityOption(id=id_, name=name) for id_, name in members]
        )
        for label, members in municipality_choice.groups(renderer, language)
    ]


def thank_you_location(site: Site | None, language: str, *, embedded: bool = False) -> str:
    """Where a form sign-up lands: the site's own thank-you page, else ours."""
    if site is not None and site.thank_you_url:
        return site.thank_you_url
    if site is not None and embedded:
        return f"/embed/{site.key}/thanks?lang={language}"
    return f"/thanks?lang={language}"


# --- the script ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Asset:
    """A static file with its gzip form and a strong ETag."""

    body: bytes
    gzipped: bytes
    etag: str
    media_type: str


@cache
def widget_asset() -> Asset:
    """widget.js, read and compressed once per process."""
    body = (STATIC_DIR / "widget.js").read_bytes()
    digest = hashlib.sha256(body).hexdigest()[:32]
    return Asset(
        body=body,
        gzipped=gzip.compress(body, compresslevel=9, mtime=0),
        etag=f'"{digest}"',
        media_type="text/javascript",
    )


def accepts_gzip(accept_encoding: str | None) -> bool:
    """Whether the client takes gzip (and did not refuse it with q=0)."""
    for item in (accept_encoding or "").lower().split(","):
        coding, _, params = item.strip().partition(";")
        if coding.strip() in ("gzip", "*"):
            return params.replace(" ", "") not in ("q=0", "q=0.0", "q=0.00", "q=0.000")
    return False


def etag_matches(if_none_match: str | None, etag: str) -> bool:
    """Whether an If-None-Match header names ``etag`` (weak or strong) or ``*``."""
    if not if_none_match:
        return False
    tags = [tag.strip().removeprefix("W/") for tag in if_none_match.split(",")]
    return "*" in tags or etag in tags


# --- the embed page ------------------------------------------------------------------------


def embed_headers(site: Site, *, cache_control: str = "no-store") -> dict[str, str]:
    """Security headers of a site's embed pages: framable only by the site's own origins."""
    ancestors = " ".join(sorted(site.allowed_origins)) or "'none'"
    form_targets = ["'self'"]
    if site.thank_you_url:
        # Browsers apply form-action to the redirect after the post as well.
        form_targets.append(cors.origin_of(site.thank_you_url))
    return {
        "Cache-Control": cache_control,
        "Referrer-Policy": "no-referrer",
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": (
            "default-src 'none'; style-src 'unsafe-inline'; script-src 'self'; "
            f"connect-src 'self'; form-action {' '.join(form_targets)}; "
            f"frame-ancestors {ancestors}; base-uri 'none'"
        ),
    }


def embed_page(
    renderer: Renderer,
    site: Site,
    lang: str,
    lists: Sequence[FormList],
    *,
    values: Mapping[str, Any] | None = None,
    problems: Mapping[str, FieldProblem] | None = None,
    status_code: int = 200,
    fields: Sequence[CustomFieldRow] = (),
    age: int = 13,
) -> Response[str]:
    """A site's embeddable sign-up page with the public custom ``fields`` (and the youth
    lists' fields when it offers one, ``age`` being the age of digital consent), with reasons
    next to the fields after a refusal."""
    shown: dict[str, Any] = {
        "email": "",
        "name": "",
        "lists": [],
        "language": lang,
        "consent": False,
        "custom": {},
        "birth_year": "",
        "guardian_email": "",
        "municipality": "",
    }
    shown.update({k: v for k, v in (values or {}).items() if v is not None})
    if shown["language"] not in LANGUAGES:
        shown["language"] = lang
    html = renderer.render(
        "embed.html",
        lang,
        site=site,
        lists=lists,
        values=shown,
        errors=renderer.problem_messages(lang, problems or {}),
        languages=language_names(),
        consent_text=renderer.gettext(lang, CONSENT_TEXT),
        consent_version=CONSENT_VERSION,
        custom_fields=public_fields.form_fields(fields, lang),
        youth_lists=[item.name for item in lists if item.youth],
        age=age,
        municipalities=municipality_choice.groups(renderer, lang) if site.asks_municipality else [],
    )
    return Response(
        html, status_code=status_code, media_type=MediaType.HTML, headers=embed_headers(site)
    )


def embed_rate_limited_page(
    renderer: Renderer, site: Site, lang: str, retry_after: int
) -> Response[str]:
    """The 429 page inside a site's frame: framable by the site, with a way back to the form."""
    response = _embed_status_page(
        renderer, site, lang, "rate_limited.html", 429, minutes=max(1, -(-retry_after // 60))
    )
    response.headers["Retry-After"] = str(retry_after)
    return response


def embed_error_page(renderer: Renderer, site: Site, lang: str, status: int) -> Response[str]:
    """An error page (4xx) inside a site's frame, framable by the site."""
    return _embed_status_page(renderer, site, lang, "error.html", status, status=status)


def _embed_status_page(
    renderer: Renderer, site: Site, lang: str, template: str, status_code: int, **context: Any
) -> Response[str]:
    path = f"/embed/{site.key}"
    html = renderer.render(
        template,
        lang,
        path=path,
        languages=language_names(),
        back_url=f"{path}?lang={lang}",
        **context,
    )
    return Response(
        html, status_code=status_code, media_type=MediaType.HTML, headers=embed_headers(site)
    )


def embed_thanks_page(renderer: Renderer, site: Site, lang: str) -> Response[str]:
    """The page an embedded sign-up lands on when the site has no thank-you page of its own."""
    html = renderer.render("embed_thanks.html", lang, site=site)
    return Response(html, media_type=MediaType.HTML, headers=embed_headers(site))


def wanted_slugs(raw: str | None) -> list[str]:
    """Slugs from a ``lists=a,b`` parameter."""
    return split_slugs(raw or "")[:50]
