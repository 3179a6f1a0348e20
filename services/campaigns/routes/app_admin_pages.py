"""The staff app's admin pages: staff users (invite, role, deactivate) and their API tokens
(create, shown once; list with last use; revoke). The same domain functions as the JSON API,
behind the same permission check."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from sqlalchemy.ext.asyncio import AsyncSession

from services.campaigns import accounts, auth, password_links, permissions
from services.campaigns.accounts import StaffAccount
from services.campaigns.errors import (
    N_,
    CampaignsError,
    NotAuthenticated,
    PermissionDenied,
)
from services.campaigns.routes.app_guard import forbidden
from services.campaigns.routes.app_pages import Form, render_page, signed_in, to_login
from services.campaigns.routes.users import mailing

# A refused admin action (bad input, conflict, unknown id) shows the domain's reason on the
# page it came from.
_REFUSALS = CampaignsError


async def _admin(request: Request[Any, Any, Any], db: AsyncSession) -> StaffAccount:
    account = await signed_in(request, db)
    permissions.check(account, "admin")
    return account


async def _users_page(
    request: Request[Any, Any, Any],
    db: AsyncSession,
    account: StaffAccount,
    *,
    status_code: int = 200,
    message: str | None = None,
    error: bool = False,
) -> Response[str]:
    return render_page(
        request,
        "app/users.html",
        status_code=status_code,
        account=account,
        users=await accounts.list_users(db),
        roles=auth.ROLES,
        message=message,
        error=error,
    )


async def _tokens_page(
    request: Request[Any, Any, Any],
    db: AsyncSession,
    account: StaffAccount,
    *,
    status_code: int = 200,
    message: str | None = None,
    error: bool = False,
    created: str | None = None,
) -> Response[str]:
    users = await accounts.list_users(db)
    return render_page(
        request,
        "app/tokens.html",
        status_code=status_code,
        account=account,
        tokens=await auth.list_tokens(db),
        users=[user for user in users if user.active],
        owners={user.id: user.email for user in users},
        roles=auth.ROLES,
        created=created,
        message=message,
        error=error,
    )


class AdminPages(Controller):
    """``/app/users`` and ``/app/tokens`` (admin)."""

    path = "/app"
    include_in_schema = False
    exception_handlers = {  # noqa: RUF012 - Litestar's own shape
        NotAuthenticated: to_login,
        PermissionDenied: forbidden,
    }

    @get("/users")
    async def users(
        self, request: Request[Any, Any, Any], db: NamedDependency[AsyncSession]
    ) -> Response[str]:
        """Every staff user, with the invite form."""
        return await _users_page(request, db, await _admin(request, db))

    @post("/users")
    async def invite(
        self, request: Request[Any, Any, Any], db: NamedDependency[AsyncSession], data: Form
    ) -> Response[str]:
        """Invite a user by mail."""
        account = await _admin(request, db)
        try:
            await password_links.invite(
                db,
                mailing(request),
                permissions.actor(account),
                email=data.get("email", ""),
                role=data.get("role", ""),
                name=data.get("name", "")[:201],
            )
        except _REFUSALS as exc:
            await db.rollback()
            return await _users_page(
                request, db, account, status_code=422, message=exc.message, error=True
            )
        return await _users_page(request, db, account, message=N_("the invitation is on its way"))

    @post("/users/{user_id:int}/role")
    async def change_role(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[AsyncSession],
        user_id: FromPath[int],
        data: Form,
    ) -> Response[str]:
        """Give a user another role."""
        return await _update_user(request, db, user_id, role=data.get("role", ""))

    @post("/users/{user_id:int}/active")
    async def set_active(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[AsyncSession],
        user_id: FromPath[int],
        data: Form,
    ) -> Response[str]:
        """Deactivate a user (their sessions and tokens stop at once), or reactivate."""
        return await _update_user(request, db, user_id, active=data.get("active") == "1")

    @get("/tokens")
    async def tokens(
        self, request: Request[Any, Any, Any], db: NamedDependency[AsyncSession]
    ) -> Response[str]:
        """Every API token with its last use, and the form for a new one."""
        return await _tokens_page(request, db, await _admin(request, db))

    @post("/tokens")
    async def create_token(
        self, request: Request[Any, Any, Any], db: NamedDependency[AsyncSession], data: Form
    ) -> Response[str]:
        """Issue a token for a user; the page shows it this once."""
        account = await _admin(request, db)
        try:
            user_id = int(data.get("user_id", "0") or 0)
            _, token = await auth.create_for_user(
                db,
                permissions.actor(account),
                user_id,
                data.get("role", ""),
                data.get("label", "")[:201],
            )
        except ValueError:
            return await _tokens_page(
                request, db, account, status_code=422, message=N_("unknown user"), error=True
            )
        except _REFUSALS as exc:
            return await _tokens_page(
                request, db, account, status_code=422, message=exc.message, error=True
            )
        return await _tokens_page(request, db, account, created=token)

    @post("/tokens/{token_id:int}/revoke")
    async def revoke_token(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[AsyncSession],
        token_id: FromPath[int],
    ) -> Response[str]:
        """Revoke a token; it stops working at once."""
        account = await _admin(request, db)
        try:
            await auth.revoke_by(db, permissions.actor(account), token_id)
        except _REFUSALS as exc:
            return await _tokens_page(
                request, db, account, status_code=404, message=exc.message, error=True
            )
        return await _tokens_page(request, db, account, message=N_("the token is revoked"))


async def _update_user(
    request: Request[Any, Any, Any],
    db: AsyncSession,
    user_id: int,
    *,
    role: str | None = None,
    active: bool | None = None,
) -> Response[str]:
    """Apply an admin's change to a user and show the users page with the outcome."""
    account = await _admin(request, db)
    try:
        await accounts.update_user(
            db, user_id, actor=permissions.actor(account), role=role, active=active
        )
    except _REFUSALS as exc:
        return await _users_page(
            request, db, account, status_code=422, message=exc.message, error=True
        )
    return await _users_page(request, db, account, message=N_("saved"))
