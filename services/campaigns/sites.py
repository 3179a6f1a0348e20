"""Member sites: the websites that embed the sign-up form, with their origins and defaults."""

from __future__ import annotations

import re
from typing import Any, Final

from msgspec import UNSET
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.campaigns import queries
from services.campaigns.errors import Conflict, InvalidInput, NotFound
from services.campaigns.origins import check_http_url, normalise_origins
from services.campaigns.schemas import SiteCreate, SiteOut, SitePatch, SitesOut
from shared.custom_fields import is_clean_text
from shared.languages import LANGUAGES
from shared.municipalities import find_municipality

SITE_KEY: Final = re.compile(r"[a-z0-9-]{2,64}")
# A site's default language when staff do not name one.
COUNTRY_LANGUAGE: Final = {"DK": "da", "SE": "sv"}
NAME_MAX: Final = 200
ORIGINS_MAX: Final = 50
DEFAULT_LISTS_MAX: Final = 50
_FIELDS: Final = (
    "name",
    "country",
    "municipality",
    "allowed_origins",
    "default_lists",
    "default_language",
    "thank_you_url",
    "require_proof_of_work",
    "asks_municipality",
)


async def get_sites(session: AsyncSession) -> SitesOut:
    """Every member site, by key."""
    return SitesOut(items=[site_out(row) for row in await queries.all_sites(session)])


async def get_site(session: AsyncSession, key: str) -> SiteOut:
    """One member site."""
    return site_out(await site_row(session, key))


async def site_row(session: AsyncSession, key: str) -> queries.SiteRow:
    """The stored row of the site with this key; raise NotFound otherwise."""
    row = await queries.site_by_key(session, key) if len(key) <= 64 else None
    if row is None:
        raise NotFound("site", key[:64])
    return row


async def create_site(session: AsyncSession, data: SiteCreate) -> SiteOut:
    """Register a member site; its key must be new."""
    errors: dict[str, str] = {}
    if not SITE_KEY.fullmatch(data.key):
        errors["key"] = "must be 2 to 64 characters of a-z, 0-9 and -"
    given = {field: getattr(data, field) for field in _FIELDS}
    values = await _checked(session, given, set(_FIELDS), errors)
    if await queries.site_exists(session, data.key):
        raise _taken(data.key)
    try:
        await queries.insert_site(session, {"key": data.key, **values})
        await session.commit()
    except IntegrityError as exc:
        # Another request registered the same key between our check and the insert.
        await session.rollback()
        raise _taken(data.key) from exc
    return await get_site(session, data.key)


async def update_site(session: AsyncSession, key: str, patch: SitePatch) -> SiteOut:
    """Change the given fields of a site; the others keep their values."""
    row = await site_row(session, key)
    given = {
        field: getattr(patch, field) for field in _FIELDS if getattr(patch, field) is not UNSET
    }
    merged = {**{field: getattr(row, field) for field in _FIELDS}, **given}
    values = await _checked(session, merged, set(given), {})
    if values and not await queries.update_site(session, key, values):
        raise NotFound("site", key)
    await session.commit()
    return await get_site(session, key)


async def delete_site(session: AsyncSession, key: str) -> None:
    """Remove a site; sign-ups that came through it stay, no longer linked to a site."""
    await site_row(session, key)
    await queries.delete_site(session, key)
    await session.commit()


def site_out(row: queries.SiteRow) -> SiteOut:
    """The API view of a stored site."""
    found = find_municipality(row.municipality) if row.municipality else None
    return SiteOut(
        id=row.id,
        key=row.key,
        name=row.name,
        country=row.country,
        municipality=found.id if found else row.municipality,
        municipality_name=found.name if found else None,
        allowed_origins=list(row.allowed_origins),
        default_lists=list(row.default_lists),
        default_language=row.default_language,
        thank_you_url=row.thank_you_url,
        require_proof_of_work=row.require_proof_of_work,
        asks_municipality=row.asks_municipality,
        created_at=row.created_at,
    )


async def _checked(
    session: AsyncSession, fields: dict[str, Any], changed: set[str], errors: dict[str, str]
) -> dict[str, Any]:
    """Column values for the ``changed`` fields; raise InvalidInput naming every bad field."""
    values: dict[str, Any] = {}
    if "name" in changed:
        _name(fields["name"], values, errors)
    if changed & {"country", "municipality"}:
        _place(fields["country"], fields["municipality"], values, errors)
    if "allowed_origins" in changed:
        _origins(fields["allowed_origins"], values, errors)
    if "default_lists" in changed:
        await _default_lists(session, fields["default_lists"], values, errors)
    if "default_language" in changed:
        _language(fields["default_language"], fields["country"], values, errors)
    if "thank_you_url" in changed:
        _thank_you_url(fields["thank_you_url"], values, errors)
    if "require_proof_of_work" in changed:
        values["require_proof_of_work"] = fields["require_proof_of_work"]
    if "asks_municipality" in changed:
        values["asks_municipality"] = fields["asks_municipality"]
    if errors:
        raise InvalidInput("the site is not valid", errors)
    return values


def _name(raw: str, values: dict[str, Any], errors: dict[str, str]) -> None:
    name = raw.strip()
    if not name:
        errors["name"] = "must not be empty"
    elif len(name) > NAME_MAX:
        errors["name"] = f"must be at most {NAME_MAX} characters"
    elif not is_clean_text(name) or "\n" in name or "\r" in name:
        errors["name"] = "must be one line without control characters"
    values["name"] = name


def _place(
    country: str, municipality: str | None, values: dict[str, Any], errors: dict[str, str]
) -> None:
    if country not in COUNTRY_LANGUAGE:
        errors["country"] = "must be DK or SE"
    values["country"] = country
    if municipality is None or not municipality.strip():
        values["municipality"] = None
        return
    found = find_municipality(municipality) if len(municipality) <= 100 else None
    if found is None:
        errors["municipality"] = "is not a known municipality (an id like dk-koebenhavn, or a name)"
    elif country in COUNTRY_LANGUAGE and found.country != country:
        errors["municipality"] = f"{found.name} is in {found.country}, not in {country}"
    else:
        values["municipality"] = found.id


def _origins(raw: list[str], values: dict[str, Any], errors: dict[str, str]) -> None:
    if len(raw) > ORIGINS_MAX:
        errors["allowed_origins"] = f"must be at most {ORIGINS_MAX} origins"
        return
    origins, problems = normalise_origins("allowed_origins", raw)
    errors.update(problems)
    values["allowed_origins"] = origins


async def _default_lists(
    session: AsyncSession, raw: list[str], values: dict[str, Any], errors: dict[str, str]
) -> None:
    slugs = list(dict.fromkeys(slug.strip() for slug in raw))
    if len(slugs) > DEFAULT_LISTS_MAX:
        errors["default_lists"] = f"must be at most {DEFAULT_LISTS_MAX} lists"
        return
    public = await queries.public_lists_by_slug(session, slugs)
    unknown = [slug for slug in slugs if slug not in public]
    hidden = [slug for slug in slugs if public.get(slug) is False]
    if unknown:
        errors["default_lists"] = "unknown list: " + ", ".join(s[:64] for s in unknown[:10])
    elif hidden:
        # The public sign-up refuses lists that are not public.
        errors["default_lists"] = "not a public list: " + ", ".join(hidden)
    values["default_lists"] = slugs


def _language(
    raw: str | None, country: str, values: dict[str, Any], errors: dict[str, str]
) -> None:
    language = COUNTRY_LANGUAGE.get(country, "da") if raw is None else raw
    if language not in LANGUAGES:
        errors["default_language"] = "must be da, sv or en"
    values["default_language"] = language


def _thank_you_url(raw: str | None, values: dict[str, Any], errors: dict[str, str]) -> None:
    if raw is None or not raw.strip():
        values["thank_you_url"] = None
        return
    try:
        values["thank_you_url"] = check_http_url(raw)
    except ValueError as exc:
        errors["thank_you_url"] = str(exc)


def _taken(key: str) -> Conflict:
    return Conflict(f"a site with key {key!r} exists", {"key": "is already taken"})
