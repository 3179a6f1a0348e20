"""The staff app's organisation layout page (``/app/organisation``, admin): what every campaign
layout shows, through the same domain functions as ``/api/organisation``."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from sqlalchemy.ext.asyncio import AsyncSession

from services.campaigns import organisation
from services.campaigns.accounts import StaffAccount
from services.campaigns.errors import N_, InvalidInput, NotAuthenticated, PermissionDenied
from services.campaigns.routes.app_guard import allowed, forbidden, language, record_action
from services.campaigns.routes.app_pages import render_page, to_login
from services.campaigns.schemas import OrganisationLayout

Req = Request[Any, Any, Any]
_FIELDS = (
    "name",
    "logo_url",
    "postal_address",
    "accent_colour",
    "background_colour",
    "footer_text",
)


def _page(
    request: Req,
    account: StaffAccount,
    layout: OrganisationLayout,
    *,
    problems: dict[str, str] | None = None,
    status_code: int = 200,
    message: str | None = None,
    error: bool = False,
) -> Response[str]:
    pages = request.app.state.pages
    lang = language(request, account)
    return render_page(
        request,
        "app/organisation.html",
        status_code=status_code,
        account=account,
        layout=layout,
        # Translated here, as plain text: a problem may quote what was typed.
        problems={name: pages.gettext(lang, text) for name, text in (problems or {}).items()},
        message=message,
        error=error,
    )


class OrganisationPages(Controller):
    """``/app/organisation`` (admin)."""

    path = "/app/organisation"
    include_in_schema = False
    exception_handlers = {  # noqa: RUF012 - Litestar's own shape
        NotAuthenticated: to_login,
        PermissionDenied: forbidden,
    }

    @get("/")
    async def show(self, request: Req, db: NamedDependency[AsyncSession]) -> Response[str]:
        """The organisation layout's form."""
        account = await allowed(request, db, "admin")
        return _page(request, account, await organisation.get_organisation(db))

    @post("/")
    async def save(self, request: Req, db: NamedDependency[AsyncSession]) -> Response[str]:
        """Save the organisation layout; the form again with its problems otherwise."""
        account = await allowed(request, db, "admin")
        form = await request.form()
        posted = OrganisationLayout(
            **{name: str(form.get(name, "")).replace("\r\n", "\n") for name in _FIELDS}
        )
        try:
            saved = await organisation.update_organisation(db, posted)
        except InvalidInput as exc:
            await db.rollback()
            return _page(
                request,
                account,
                posted,
                problems=exc.errors,
                status_code=422,
                message=exc.message,
                error=True,
            )
        await record_action(db, account, "organisation.update", "", posted)
        return _page(request, account, saved, message=N_("saved"))
