"""The organisation layout: name, logo, postal address, colours and footer text that every
campaign layout shows (content.py puts them in; this module checks and stores them)."""

from __future__ import annotations

import re
from dataclasses import asdict
from typing import Final

from sqlalchemy.ext.asyncio import AsyncSession

from services.campaigns import queries
from services.campaigns.content import DEFAULT_ORGANISATION, Organisation
from services.campaigns.errors import N_, InvalidInput
from services.campaigns.schemas import OrganisationLayout
from shared.custom_fields import is_clean_text

_COLOUR: Final = re.compile(r"#[0-9a-fA-F]{6}")
_LIMITS: Final = {"name": 200, "logo_url": 2000, "postal_address": 500, "footer_text": 1000}


async def get_organisation(session: AsyncSession) -> OrganisationLayout:
    """The stored organisation layout, or the default one before an admin saved it."""
    stored = await queries.organisation(session) or DEFAULT_ORGANISATION
    return OrganisationLayout(**asdict(stored))


async def update_organisation(
    session: AsyncSession, data: OrganisationLayout
) -> OrganisationLayout:
    """Check and store the organisation layout; InvalidInput names each field at fault."""
    value = Organisation(
        name=data.name.strip(),
        logo_url=data.logo_url.strip(),
        postal_address=data.postal_address.strip(),
        accent_colour=data.accent_colour.strip(),
        background_colour=data.background_colour.strip(),
        footer_text=data.footer_text.strip(),
    )
    problems = organisation_problems(value)
    if problems:
        raise InvalidInput(N_("the organisation layout is not valid"), problems)
    await queries.save_organisation(session, value)
    await session.commit()
    return await get_organisation(session)


def organisation_problems(value: Organisation) -> dict[str, str]:
    """Every problem of an organisation layout, field by field."""
    problems: dict[str, str] = {}
    for field, limit in _LIMITS.items():
        text = getattr(value, field)
        if len(text) > limit:
            problems[field] = f"must be at most {limit} characters"
        elif not is_clean_text(text):
            problems[field] = N_("must not contain control characters (other than line breaks)")
    if not value.name and "name" not in problems:
        problems["name"] = N_("must not be empty")
    if value.logo_url and "logo_url" not in problems and not _is_https(value.logo_url):
        problems["logo_url"] = N_("must be an https:// address without spaces")
    for field in ("accent_colour", "background_colour"):
        if not _COLOUR.fullmatch(getattr(value, field)):
            problems[field] = N_("must be a colour such as #1d4e89")
    return problems


def _is_https(url: str) -> bool:
    return url.startswith("https://") and not any(char.isspace() for char in url)
