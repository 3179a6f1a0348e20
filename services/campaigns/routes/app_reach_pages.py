"""The staff app's reach pages (every role): where the residents a member site brought in live
and where a campaign's recipients, clickers and unsubscribers live, as charts, a tile grid and
tables, and the CSV files of the sites' figures. The same domain functions as the API."""

from __future__ import annotations

from collections.abc import AsyncIterator
from functools import partial
from typing import Any

from litestar import Controller, Request, Response, get
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Stream
from sqlalchemy.ext.asyncio import AsyncSession

from services.campaigns import reach, reach_export, reach_views, sites
from services.campaigns.errors import NotAuthenticated, NotFound, PermissionDenied
from services.campaigns.reach_figures import THRESHOLD
from services.campaigns.routes.app_guard import allowed, forbidden, language, not_found
from services.campaigns.routes.app_pages import render_page, to_login

Req = Request[Any, Any, Any]


def _csv(lines: AsyncIterator[str], filename: str) -> Stream:
    return Stream(
        lines,
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Cache-Control": "no-store",
        },
    )


class ReachPages(Controller):
    """``/app/sites/{key}/reach``, ``/app/campaigns/{id}/reach`` and the CSV files."""

    path = "/app"
    include_in_schema = False
    exception_handlers = {  # noqa: RUF012 - Litestar's own shape
        NotAuthenticated: to_login,
        PermissionDenied: forbidden,
        NotFound: not_found,
    }

    @get("/sites/{key:str}/reach")
    async def site_reach(
        self, request: Req, db: NamedDependency[AsyncSession], key: FromPath[str]
    ) -> Response[str]:
        """Where the residents this site brought in live."""
        account = await allowed(request, db, "viewer")
        figures = await reach.site_reach(db, key)
        gettext = partial(request.app.state.pages.gettext, language(request, account))
        return render_page(
            request,
            "app/site_reach.html",
            account=account,
            site=await sites.get_site(db, key),
            threshold=THRESHOLD,
            view=reach_views.site_view(figures, gettext),
        )

    @get("/sites/{key:str}/reach.csv")
    async def site_reach_csv(
        self, request: Req, db: NamedDependency[AsyncSession], key: FromPath[str]
    ) -> Stream:
        """This site's reach figures as CSV."""
        await allowed(request, db, "viewer")
        site = await sites.site_row(db, key)
        lines = reach_export.sites_csv(request.app.state.sessionmaker, site.key)
        return _csv(lines, f"reach-{site.key}.csv")

    @get("/sites/reach.csv")
    async def all_reach_csv(self, request: Req, db: NamedDependency[AsyncSession]) -> Stream:
        """Every site's reach figures as CSV, for the region's annual report."""
        await allowed(request, db, "viewer")
        return _csv(reach_export.sites_csv(request.app.state.sessionmaker), "reach.csv")

    @get("/campaigns/{campaign_id:int}/reach")
    async def campaign_reach(
        self, request: Req, db: NamedDependency[AsyncSession], campaign_id: FromPath[int]
    ) -> Response[str]:
        """Where a campaign's recipients, clickers and unsubscribers live."""
        account = await allowed(request, db, "viewer")
        figures = await reach.campaign_reach(db, campaign_id)
        gettext = partial(request.app.state.pages.gettext, language(request, account))
        return render_page(
            request,
            "app/campaign_reach.html",
            account=account,
            campaign_id=campaign_id,
            threshold=THRESHOLD,
            figures=reach_views.campaign_view(figures, gettext),
        )
