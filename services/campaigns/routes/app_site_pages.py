"""The staff app's member site pages: the list with sign-up counts; create, edit and delete
(admin); each site's embed snippets with copy buttons and its sign-ups chart (every role).
The same domain functions as ``/api/sites``."""

from __future__ import annotations

from functools import partial
from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from sqlalchemy.ext.asyncio import AsyncSession

from services.campaigns import (
    dashboard,
    queries,
    site_stats,
    sites,
    snippets,
    staff_forms,
)
from services.campaigns.accounts import StaffAccount
from services.campaigns.dashboard_charts import days_chart
from services.campaigns.errors import (
    N_,
    CampaignsError,
    NotAuthenticated,
    NotFound,
    PermissionDenied,
)
from services.campaigns.routes.app_guard import (
    allowed,
    forbidden,
    language,
    not_found,
    record_action,
    translated,
)
from services.campaigns.routes.app_pages import render_page, to_login
from services.campaigns.schemas import SiteOut
from shared.languages import LANGUAGES
from shared.municipalities import MUNICIPALITIES

Req = Request[Any, Any, Any]


async def _sites_page(
    request: Req, db: AsyncSession, account: StaffAccount, status_code: int = 200, **context: Any
) -> Response[str]:
    return render_page(
        request,
        "app/sites.html",
        status_code=status_code,
        account=account,
        sites=(await sites.get_sites(db)).items,
        counts=await dashboard.site_totals(db),
        lists=await queries.all_lists(db),
        municipalities=MUNICIPALITIES,
        languages=LANGUAGES,
        form=context.pop("form", None),
        errors=context.pop("errors", []),
        **context,
    )


async def _site_page(
    request: Req,
    db: AsyncSession,
    account: StaffAccount,
    site: SiteOut,
    status_code: int = 200,
    **context: Any,
) -> Response[str]:
    lang = language(request, account)
    gettext = partial(request.app.state.pages.gettext, lang)
    stats = await site_stats.get_site_stats(db, site.key)
    chart = days_chart(
        stats.days, lang, gettext, gettext(N_("Sign-ups through this site per day, last 30 days"))
    )
    return render_page(
        request,
        "app/site.html",
        status_code=status_code,
        account=account,
        site=site,
        stats=stats,
        chart=chart,
        snippets=await snippets.get_snippets(db, request.app.state.settings, site.key),
        lists=await queries.all_lists(db),
        municipalities=MUNICIPALITIES,
        languages=LANGUAGES,
        form=context.pop("form", None),
        errors=context.pop("errors", []),
        **context,
    )


class SitePages(Controller):
    """``/app/sites`` and ``/app/sites/{key}``."""

    path = "/app/sites"
    include_in_schema = False
    exception_handlers = {  # noqa: RUF012 - Litestar's own shape
        NotAuthenticated: to_login,
        PermissionDenied: forbidden,
        NotFound: not_found,
    }

    @get("/")
    async def list_sites(self, request: Req, db: NamedDependency[AsyncSession]) -> Response[str]:
        """Every member site with its sign-ups; the form for a new one (admin)."""
        return await _sites_page(request, db, await allowed(request, db, "viewer"))

    @post("/")
    async def create_site(self, request: Req, db: NamedDependency[AsyncSession]) -> Response[str]:
        """Register a member site (admin), then show its page."""
        account = await allowed(request, db, "admin")
        form = await request.form()
        data, origins = staff_forms.site_create(staff_forms.form_data(form))
        try:
            site = await sites.create_site(db, data)
        except CampaignsError as exc:
            await db.rollback()
            errors = staff_forms.field_errors(exc.errors, {"allowed_origins": origins})
            return await _sites_page(
                request,
                db,
                account,
                422,
                form=form,
                errors=translated(request, account, errors),
                message=exc.message,
                error=True,
            )
        await record_action(db, account, "site.create", site.key, data)
        return await _site_page(request, db, account, site, message=N_("the site is created"))

    @get("/{key:str}")
    async def site_page(
        self, request: Req, db: NamedDependency[AsyncSession], key: FromPath[str]
    ) -> Response[str]:
        """One site: its settings (editable by admins), snippets and sign-ups."""
        account = await allowed(request, db, "viewer")
        return await _site_page(request, db, account, await sites.get_site(db, key))

    @post("/{key:str}")
    async def update_site(
        self, request: Req, db: NamedDependency[AsyncSession], key: FromPath[str]
    ) -> Response[str]:
        """Save a site's settings (admin)."""
        account = await allowed(request, db, "admin")
        site = await sites.get_site(db, key)
        form = await request.form()
        patch, origins = staff_forms.site_patch(staff_forms.form_data(form))
        try:
            site = await sites.update_site(db, key, patch)
        except CampaignsError as exc:
            await db.rollback()
            errors = staff_forms.field_errors(exc.errors, {"allowed_origins": origins})
            return await _site_page(
                request,
                db,
                account,
                site,
                422,
                form=form,
                errors=translated(request, account, errors),
                message=exc.message,
                error=True,
            )
        await record_action(db, account, "site.update", key, patch)
        return await _site_page(request, db, account, site, message=N_("saved"))

    @get("/{key:str}/delete")
    async def confirm_delete(
        self, request: Req, db: NamedDependency[AsyncSession], key: FromPath[str]
    ) -> Response[str]:
        """Ask before deleting a site (admin)."""
        account = await allowed(request, db, "admin")
        site = await sites.get_site(db, key)
        return render_page(request, "app/site_delete.html", account=account, site=site)

    @post("/{key:str}/delete")
    async def delete_site(
        self, request: Req, db: NamedDependency[AsyncSession], key: FromPath[str]
    ) -> Response[str]:
        """Delete a site (admin); its sign-ups stay, no longer linked to it."""
        account = await allowed(request, db, "admin")
        await sites.get_site(db, key)
        await sites.delete_site(db, key)
        await record_action(db, account, "site.delete", key)
        return await _sites_page(request, db, account, message=N_("the site is deleted"))
