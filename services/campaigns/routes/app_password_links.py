"""The staff app's pages for mailed password links: asking for a reset, and setting a
password from an invitation or a reset link."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from sqlalchemy.ext.asyncio import AsyncSession

from services.campaigns import password_links
from services.campaigns.errors import N_, InvalidInput, LinkInvalid
from services.campaigns.routes.app_pages import Form, render_page
from services.campaigns.routes.users import mailing
from shared.answer_time import minimum_duration

_LINKS = ["/invite/{token:str}", "/reset/{token:str}"]


def _kind(request: Request[Any, Any, Any]) -> str:
    return "invite" if request.url.path.startswith("/app/invite/") else "reset"


class PasswordLinkPages(Controller):
    """``/app/forgot``, ``/app/invite/{token}``, ``/app/reset/{token}``."""

    path = "/app"
    include_in_schema = False

    @get("/forgot")
    async def forgot_form(self, request: Request[Any, Any, Any]) -> Response[str]:
        """The form that asks for a reset link."""
        return render_page(request, "app/forgot.html", account=None, sent=False)

    @post("/forgot")
    async def forgot(
        self, request: Request[Any, Any, Any], db: NamedDependency[AsyncSession], data: Form
    ) -> Response[str]:
        """Mail a reset link if the address is a staff user's; the answer is the same always,
        and takes as long (the sign-up's answer-time floor hides the mail being queued)."""
        async with minimum_duration(request.app.state.settings.signup_min_duration):
            await password_links.request_reset(db, mailing(request), data.get("email", ""))
        return render_page(request, "app/forgot.html", account=None, sent=True)

    @get(_LINKS)
    async def link_form(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[AsyncSession],
        token: FromPath[str],
    ) -> Response[str]:
        """The form to choose a password, or why the link no longer works."""
        settings = request.app.state.settings
        try:
            await password_links.account_of(db, settings, _kind(request), token)
        except LinkInvalid as exc:
            return _dead_link(request, exc)
        return render_page(
            request, "app/link_password.html", account=None, valid=True, action=request.url.path
        )

    @post(_LINKS)
    async def set_password(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[AsyncSession],
        token: FromPath[str],
        data: Form,
    ) -> Response[str]:
        """Save the password; the link is used up, and the login form follows."""
        settings = request.app.state.settings
        try:
            await password_links.set_password(
                db,
                settings,
                _kind(request),
                token,
                password=data.get("password", ""),
                repeat=data.get("repeat", ""),
            )
        except LinkInvalid as exc:
            return _dead_link(request, exc)
        except InvalidInput as exc:
            return render_page(
                request,
                "app/link_password.html",
                status_code=422,
                account=None,
                valid=True,
                action=request.url.path,
                message=exc.message,
                error=True,
            )
        return render_page(
            request,
            "app/login.html",
            account=None,
            email="",
            message=N_("your password is saved; log in with it"),
        )


def _dead_link(request: Request[Any, Any, Any], exc: LinkInvalid) -> Response[str]:
    return render_page(
        request,
        "app/link_password.html",
        status_code=410,
        account=None,
        valid=False,
        message=exc.message,
        error=True,
    )
