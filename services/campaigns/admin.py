"""Administration for the ``brevdue`` command line: staff users, tokens and demo data, without a
server."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy.ext.asyncio import AsyncSession

from services.campaigns import accounts, auth, queries, staff_audit
from services.campaigns.accounts import StaffAccount
from services.campaigns.auth import TokenInfo
from shared.db import create_engine, create_sessionmaker
from shared.settings import Settings

DEMO_LISTS: Final[tuple[dict[str, Any], ...]] = (
    {
        "slug": "kultur",
        "name_da": "Kultur",
        "name_sv": "Kultur",
        "name_en": "Culture",
        "description_da": "Koncerter, teater, udstillinger og foredrag i regionen.",
        "description_sv": "Konserter, teater, utställningar och föredrag i regionen.",
        "description_en": "Concerts, theatre, exhibitions and talks in the region.",
    },
    {
        "slug": "idraet",
        "name_da": "Idræt og motion",
        "name_sv": "Idrott och motion",
        "name_en": "Sport and exercise",
        "description_da": "Løb, svømning, foreningsliv og motion for alle.",
        "description_sv": "Löpning, simning, föreningsliv och motion för alla.",
        "description_en": "Running, swimming, clubs and exercise for everyone.",
    },
    {
        "slug": "boern-unge",
        "name_da": "Børn og unge",
        "name_sv": "Barn och unga",
        "name_en": "Children and young people",
        "description_da": "Aktiviteter for børn, unge og familier.",
        "description_sv": "Aktiviteter för barn, unga och familjer.",
        "description_en": "Activities for children, young people and families.",
    },
)

DEMO_SITE: Final[dict[str, Any]] = {
    "key": "demo-site",
    "name": "Demo: Kulturhuset Øresund",
    "country": "DK",
    "municipality": "dk-koebenhavn",
    "allowed_origins": ["http://127.0.0.1:8001", "http://localhost:8001"],
    "default_lists": ["kultur"],
    "default_language": "da",
}

DEMO_ADMIN_EMAIL: Final = "admin@brevdue.local"


@dataclass(frozen=True)
class DemoSeed:
    """What ``seed_demo`` created this time; all empty/False when everything existed."""

    lists_created: tuple[str, ...]
    site_created: bool
    staff_user_created: bool

    @property
    def created_anything(self) -> bool:
        """True when this run added at least one row."""
        return bool(self.lists_created) or self.site_created or self.staff_user_created


@asynccontextmanager
async def _session(settings: Settings) -> AsyncIterator[AsyncSession]:
    engine = create_engine(settings.database_url)
    try:
        async with create_sessionmaker(engine)() as session:
            yield session
    finally:
        await engine.dispose()


async def create_token(settings: Settings, role: str, label: str = "") -> str:
    """Create an API token with ``role`` (admin, editor, viewer); return it, shown only once."""
    auth.check_role(role)
    async with _session(settings) as session:
        return await auth.issue_token(session, role, label)


async def revoke_token(settings: Settings, token_prefix_or_id: str | int) -> bool:
    """Revoke a token given its numeric id or its full plaintext; False if none was live."""
    async with _session(settings) as session:
        return await auth.revoke(session, token_prefix_or_id)


async def list_tokens(settings: Settings) -> list[TokenInfo]:
    """Every API token (id, role, label, dates), never the secret."""
    async with _session(settings) as session:
        return await auth.list_tokens(session)


async def create_user(
    settings: Settings, email: str, role: str, name: str = ""
) -> tuple[StaffAccount, str]:
    """Create a staff user with a one-time password; return the account and that password."""
    async with _session(settings) as session:
        account, password = await accounts.create_user(session, email, role, name)
        await staff_audit.record(
            session, staff_audit.SYSTEM, "user.create", f"user:{account.id}", {"role": role}
        )
        await session.commit()
    assert password is not None
    return account, password


async def reset_password(settings: Settings, email: str) -> str:
    """Give a staff user a new one-time password, to be changed at next login; return it."""
    async with _session(settings) as session:
        password = await accounts.reset_password(session, email)
        account = await accounts.find_user(session, email)
        await staff_audit.record(
            session, staff_audit.SYSTEM, "user.reset_password", f"user:{account.id}"
        )
        await session.commit()
    return password


async def demo_admin_login(settings: Settings) -> str | None:
    """A fresh one-time password for the demo admin while it has never set its own; else None.

    Only the hash is stored, so a password not yet changed is replaced on every start rather
    than shown again.
    """
    async with _session(settings) as session:
        account = await accounts.find_user(session, DEMO_ADMIN_EMAIL)
        if not account.must_change_password and await accounts.has_password(session, account.id):
            return None
        return await accounts.reset_password(session, DEMO_ADMIN_EMAIL)


async def seed_demo(settings: Settings) -> DemoSeed:
    """Create the demo lists, member site and admin user that are missing; safe to repeat."""
    async with _session(settings) as session:
        lists_created = []
        for values in DEMO_LISTS:
            if await queries.list_by_slug(session, values["slug"]) is None:
                await queries.insert_list(
                    session, {**values, "is_public": True, "double_optin": True}
                )
                lists_created.append(values["slug"])
        site_created = not await queries.site_exists(session, DEMO_SITE["key"])
        if site_created:
            await queries.insert_site(session, DEMO_SITE)
        staff_created = not await queries.staff_user_exists(session, DEMO_ADMIN_EMAIL)
        if staff_created:
            await queries.insert_staff_user(session, DEMO_ADMIN_EMAIL, "Demo admin", "admin")
        await session.commit()
    return DemoSeed(
        lists_created=tuple(lists_created),
        site_created=site_created,
        staff_user_created=staff_created,
    )
