"""What the staff app's pages share: the role check, the refusal and not-found pages,
translated form errors and the audit entry of a page action."""

from __future__ import annotations

from dataclasses import replace
from typing import Any
from zoneinfo import ZoneInfo

from litestar import Request, Response
from msgspec import UNSET, Struct
from msgspec.structs import asdict
from sqlalchemy.ext.asyncio import AsyncSession

from services.campaigns import permissions, staff_audit
from services.campaigns.accounts import StaffAccount
from services.campaigns.auth import Role
from services.campaigns.errors import N_, NotFound, PermissionDenied
from services.campaigns.pages import page_language
from services.campaigns.routes.app_pages import render_page, signed_in
from services.campaigns.staff_forms import FieldError


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


def translated(
    request: Request[Any, Any, Any], account: StaffAccount, errors: list[FieldError]
) -> list[FieldError]:
    """Form errors in the page's language (translated here: they may quote what was typed)."""
    renderer = request.app.state.pages
    lang = language(request, account)
    return [replace(error, message=renderer.gettext(lang, error.message)) for error in errors]


async def record_action(
    db: AsyncSession, account: StaffAccount, action: str, key: str, data: Struct | None = None
) -> None:
    """Enter a page's action in the staff audit trail as the API's middleware enters the same
    action: the object by its key, the names (never the values) of the fields sent."""
    given = (
        {name: True for name, value in asdict(data).items() if value is not UNSET} if data else None
    )
    ref, details = staff_audit.describe(action, {"key": key}, given, None)
    await staff_audit.record(db, permissions.actor(account), action, ref, details)
    await db.commit()
