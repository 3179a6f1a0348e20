"""What every role-checked staff app page shares: the role check and the refusal page."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from litestar import Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

from services.campaigns import permissions
from services.campaigns.accounts import StaffAccount
from services.campaigns.auth import Role
from services.campaigns.errors import N_, NotFound, PermissionDenied
from services.campaigns.pages import page_language
from services.campaigns.routes.app_pages import render_page, signed_in


def forbidden(request: Request[Any, Any, Any], _: PermissionDenied) -> Response[str]:
    """The refusal page for a role below what the page or action needs."""
    return render_page(
        request,
        "app/forbidden.html",
        status_code=403,
        account=None,
        message=N_("you may not do this"),
        error=True,
    )


def not_found(request: Request[Any, Any, Any], _: NotFound) -> Response[str]:
    """The page for a site, field or other object that does not exist."""
    return render_page(
        request,
        "app/not_found.html",
        status_code=404,
        account=None,
        message=N_("there is nothing here"),
        error=True,
    )


async def allowed(request: Request[Any, Any, Any], db: AsyncSession, role: Role) -> StaffAccount:
    """The signed-in user, if their role is at least ``role``; raise otherwise."""
    account = await signed_in(request, db)
    permissions.check(account, role)
    return account


def language(request: Request[Any, Any, Any], account: StaffAccount) -> str:
    """The language the page is shown in (as render_page picks it)."""
    return page_language(request.headers.get("accept-language"), account.language)


def time_zone(lang: str) -> ZoneInfo:
    """Where times are shown: Stockholm for a Swedish page, Copenhagen otherwise."""
    return ZoneInfo("Europe/Stockholm" if lang == "sv" else "Europe/Copenhagen")
