"""The staff app's overview (``/app/``): campaigns under way, the last results, sign-ups."""

from __future__ import annotations

from functools import partial
from typing import Any

from litestar import Controller, Request, Response, get
from litestar.di import NamedDependency
from litestar.response import Redirect
from sqlalchemy.ext.asyncio import AsyncSession

from services.campaigns import dashboard, permissions
from services.campaigns.dashboard_charts import overview_charts
from services.campaigns.errors import NotAuthenticated, PermissionDenied
from services.campaigns.routes.app_guard import allowed, forbidden, language, time_zone
from services.campaigns.routes.app_pages import render_page, signed_in, to_login


class OverviewPages(Controller):
    """``/app/`` (every role)."""

    path = "/app"
    include_in_schema = False
    exception_handlers = {  # noqa: RUF012 - Litestar's own shape
        NotAuthenticated: to_login,
        PermissionDenied: forbidden,
    }

    @get("/")
    async def home(
        self, request: Request[Any, Any, Any], db: NamedDependency[AsyncSession]
    ) -> Response[Any]:
        """The overview; a one-time password must be changed first."""
        account = await signed_in(request, db)
        if account.must_change_password:
            return Redirect("/app/password", status_code=303)
        permissions.check(account, "viewer")
        data = await dashboard.get_dashboard(db)
        lang = language(request, account)
        gettext = partial(request.app.state.pages.gettext, lang)
        return render_page(
            request,
            "app/home.html",
            account=account,
            data=data,
            charts=overview_charts(data, lang, gettext),
            zone=time_zone(lang),
        )

    @get("/overview/active")
    async def active(
        self, request: Request[Any, Any, Any], db: NamedDependency[AsyncSession]
    ) -> Response[Any]:
        """The overview's campaigns under way alone, for htmx to refresh the progress."""
        account = await allowed(request, db, "viewer")
        active = await dashboard.active_campaigns(db)
        return render_page(
            request,
            "app/overview_active.html",
            account=account,
            data={"active": active},
        )
