"""HTTP routes for member sites: registry, embed snippets and sign-up figures."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from litestar import Controller, Request, delete, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Stream
from sqlalchemy.ext.asyncio import AsyncSession

from services.campaigns import reach, reach_export, site_stats, sites, snippets
from services.campaigns.openapi import json_body
from services.campaigns.reach_schemas import SiteReachOut, site_reach_out
from services.campaigns.routes.security import requires
from services.campaigns.schemas import (
    SiteCreate,
    SiteOut,
    SitePatch,
    SitesOut,
    SiteStatsOut,
    SnippetsOut,
    decode_json,
)
from shared.settings import Settings


class SitesController(Controller):
    """``/api/sites``."""

    path = "/sites"
    tags = ("sites",)

    @get("/")
    async def get_sites(self, db: NamedDependency[AsyncSession]) -> SitesOut:
        """Every member site."""
        return await sites.get_sites(db)

    @post(
        "/",
        guards=[requires("admin")],
        status_code=201,
        audit="site.create",
        operation_class=json_body(SiteCreate),
    )
    async def create_site(
        self, request: Request[Any, Any, Any], db: NamedDependency[AsyncSession]
    ) -> SiteOut:
        """Register a member site (admin)."""
        data = decode_json(await request.body(), SiteCreate)
        return await sites.create_site(db, data)

    @get("/reach.csv")
    async def get_all_reach_csv(self, request: Request[Any, Any, Any]) -> Stream:
        """Every site's reach figures as CSV (counts below 5 written ``<5``)."""
        return _csv(reach_export.sites_csv(request.app.state.sessionmaker), "reach.csv")

    @get("/{key:str}")
    async def get_site(self, db: NamedDependency[AsyncSession], key: FromPath[str]) -> SiteOut:
        """One member site."""
        return await sites.get_site(db, key)

    @patch(
        "/{key:str}",
        guards=[requires("admin")],
        audit="site.update",
        operation_class=json_body(SitePatch),
    )
    async def update_site(
        self, request: Request[Any, Any, Any], db: NamedDependency[AsyncSession], key: FromPath[str]
    ) -> SiteOut:
        """Change a member site (admin); the key stays, it is in every embedded snippet."""
        data = decode_json(await request.body(), SitePatch)
        return await sites.update_site(db, key, data)

    @delete("/{key:str}", guards=[requires("admin")], status_code=204, audit="site.delete")
    async def delete_site(self, db: NamedDependency[AsyncSession], key: FromPath[str]) -> None:
        """Remove a member site (admin); its sign-ups stay, unlinked."""
        await sites.delete_site(db, key)

    @get("/{key:str}/snippets")
    async def get_snippets(
        self,
        db: NamedDependency[AsyncSession],
        settings: NamedDependency[Settings],
        key: FromPath[str],
    ) -> SnippetsOut:
        """HTML form, script widget and iframe that embed this site's sign-up form."""
        return await snippets.get_snippets(db, settings, key)

    @get("/{key:str}/stats")
    async def get_stats(
        self, db: NamedDependency[AsyncSession], key: FromPath[str]
    ) -> SiteStatsOut:
        """Subscriptions through this site by status, and sign-ups per day for 30 days."""
        return await site_stats.get_site_stats(db, key)

    @get("/{key:str}/reach")
    async def get_reach(
        self, db: NamedDependency[AsyncSession], key: FromPath[str]
    ) -> SiteReachOut:
        """Where the residents this site brought in live; counts below 5 are withheld."""
        return site_reach_out(await reach.site_reach(db, key))

    @get("/{key:str}/reach.csv")
    async def get_reach_csv(
        self, request: Request[Any, Any, Any], db: NamedDependency[AsyncSession], key: FromPath[str]
    ) -> Stream:
        """This site's reach figures as CSV (counts below 5 written ``<5``)."""
        site = await sites.site_row(db, key)
        lines = reach_export.sites_csv(request.app.state.sessionmaker, site.key)
        return _csv(lines, f"reach-{site.key}.csv")


def _csv(lines: AsyncIterator[str], filename: str) -> Stream:
    return Stream(
        lines,
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Cache-Control": "no-store",
        },
    )
