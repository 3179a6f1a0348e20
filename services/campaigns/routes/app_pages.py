"""The staff app's pages (server-rendered HTML under ``/app``): thin handlers."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, Response, get, post
from litestar.datastructures import Cookie, State
from litestar.di import NamedDependency
from litestar.enums import MediaType, RequestEncodingType
from litestar.params import Body
from litestar.response import Redirect
from litestar.utils.scope.state import ScopeState
from sqlalchemy.ext.asyncio import AsyncSession

from services.campaigns import accounts, sessions, staff_app
from services.campaigns.accounts import StaffAccount
from services.campaigns.errors import (
    N_,
    InvalidInput,
    LoginRefused,
    LoginThrottled,
    NotAuthenticated,
)
from services.campaigns.pages import Renderer, page_language
from shared.languages import LANGUAGES
from shared.settings import Settings

Form = Annotated[dict[str, str], Body(media_type=RequestEncodingType.URL_ENCODED)]


def render_page(
    request: Request[Any, Any, Any], template: str, *, status_code: int = 200, **context: Any
) -> Response[str]:
    """A staff app page in the user's language, with its CSRF token and a translated message.

    The language is the one the signed-in ``account`` chose, else the browser's.
    """
    renderer: Renderer = request.app.state.pages
    account = context.get("account")
    lang = page_language(request.headers.get("accept-language"), getattr(account, "language", None))
    message = context.pop("message", None)
    html = renderer.render(
        template,
        lang,
        csrf_token=ScopeState.from_scope(request.scope).csrf_token or "",
        message=renderer.gettext(lang, message) if message else None,
        **context,
    )
    return Response(
        html,
        status_code=status_code,
        media_type=MediaType.HTML,
        headers={"Cache-Control": "no-store", "X-Frame-Options": "DENY"},
    )


def session_cookie(settings: Settings, value: str, *, clear: bool = False) -> Cookie:
    """The staff session cookie: HttpOnly, SameSite=Lax, Secure behind https."""
    return Cookie(
        key=sessions.COOKIE_NAME,
        value=value,
        path="/",
        httponly=True,
        samesite="lax",
        secure=settings.campaigns_public_url.startswith("https://"),
        max_age=0 if clear else None,
    )


async def signed_in(request: Request[Any, Any, Any], db: AsyncSession) -> StaffAccount:
    """The active staff user of the request's session; NotAuthenticated leads to the login."""
    return await staff_app.signed_in(
        db, request.app.state.jobs, request.cookies.get(sessions.COOKIE_NAME)
    )


def to_login(_: Request[Any, Any, Any], __: NotAuthenticated) -> Response[Any]:
    """Send a caller without a session to the login form."""
    return Redirect("/app/login", status_code=303)


class StaffAppController(Controller):
    """Log in, forced password change, own account, log out (the overview: OverviewPages)."""

    path = "/app"
    include_in_schema = False
    exception_handlers = {NotAuthenticated: to_login}  # noqa: RUF012 - Litestar's own shape

    @get("/login")
    async def login_form(self, request: Request[Any, Any, Any]) -> Response[str]:
        """The login form."""
        return render_page(request, "app/login.html", email="", account=None)

    @post("/login", status_code=303)
    async def login(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[AsyncSession],
        state: State,
        data: Form,
    ) -> Response[Any]:
        """Check the password; on success a new session and the next page."""
        email = data.get("email", "")[:320]
        try:
            account, session_id = await staff_app.log_in(
                db,
                state.jobs,
                email=email,
                password=data.get("password", ""),
                client=request.client.host if request.client else "unknown",
                previous_session=request.cookies.get(sessions.COOKIE_NAME),
            )
        except (LoginRefused, LoginThrottled) as exc:
            status = 429 if isinstance(exc, LoginThrottled) else 401
            return render_page(
                request,
                "app/login.html",
                status_code=status,
                email=email,
                account=None,
                message=exc.message,
                error=True,
            )
        target = "/app/password" if account.must_change_password else "/app/"
        return Redirect(
            target, status_code=303, cookies=[session_cookie(state.settings, session_id)]
        )

    @get("/password")
    async def password_form(
        self, request: Request[Any, Any, Any], db: NamedDependency[AsyncSession]
    ) -> Response[str]:
        """The form to choose a new password."""
        return render_page(request, "app/password.html", account=await signed_in(request, db))

    @post("/password", status_code=303)
    async def password(
        self, request: Request[Any, Any, Any], db: NamedDependency[AsyncSession], data: Form
    ) -> Response[Any]:
        """Save the new password, then the overview."""
        account = await signed_in(request, db)
        try:
            await staff_app.change_password(
                db, account, data.get("password", ""), data.get("repeat", "")
            )
        except InvalidInput as exc:
            return render_page(
                request,
                "app/password.html",
                status_code=422,
                account=account,
                message=exc.message,
                error=True,
            )
        return Redirect("/app/", status_code=303)

    @get("/account")
    async def account_page(
        self, request: Request[Any, Any, Any], db: NamedDependency[AsyncSession]
    ) -> Response[Any]:
        """The signed-in user's own settings: the app's language."""
        account = await signed_in(request, db)
        return render_page(request, "app/account.html", account=account, languages=LANGUAGES)

    @post("/account", status_code=303)
    async def save_account(
        self, request: Request[Any, Any, Any], db: NamedDependency[AsyncSession], data: Form
    ) -> Response[Any]:
        """Keep the chosen language (empty: follow the browser)."""
        account = await signed_in(request, db)
        chosen = data.get("language") or None
        try:
            account = await accounts.set_language(db, account.id, chosen)
        except InvalidInput as exc:
            return render_page(
                request,
                "app/account.html",
                status_code=422,
                account=account,
                languages=LANGUAGES,
                message=exc.message,
                error=True,
            )
        return render_page(
            request, "app/account.html", account=account, languages=LANGUAGES, message=N_("saved")
        )

    @post("/logout", status_code=303)
    async def logout(self, request: Request[Any, Any, Any], state: State) -> Response[Any]:
        """End the session and go back to the login form."""
        await sessions.end(state.jobs, request.cookies.get(sessions.COOKIE_NAME, ""))
        return Redirect(
            "/app/login", status_code=303, cookies=[session_cookie(state.settings, "", clear=True)]
        )
