"""HTTP routes for staff users and their API tokens (admin)."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, delete, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from msgspec import UnsetType
from sqlalchemy.ext.asyncio import AsyncSession

from services.campaigns import accounts, auth, password_links, permissions
from services.campaigns.openapi import json_body
from services.campaigns.pages import negotiate
from services.campaigns.routes.security import requires
from services.campaigns.schemas import decode_json
from services.campaigns.staff_schemas import (
    TokenCreate,
    TokenCreated,
    TokensOut,
    UserInvite,
    UserOut,
    UserPatch,
    UsersOut,
    token_out,
    user_out,
)


def mailing(request: Request[Any, Any, Any]) -> password_links.Mailing:
    """How to mail a staff user from this request: its queue, settings, pages and language."""
    state = request.app.state
    lang = negotiate(request.headers.get("accept-language"))
    return password_links.Mailing(state.jobs, state.settings, state.pages, lang)


class UsersController(Controller):
    """``/api/users``."""

    path = "/users"
    tags = ("users",)
    guards = [requires("admin")]  # noqa: RUF012 - Litestar's own shape

    @get("/")
    async def list_users(self, db: NamedDependency[AsyncSession]) -> UsersOut:
        """Every staff user (admin)."""
        return UsersOut(users=[user_out(a) for a in await accounts.list_users(db)])

    @post("/", status_code=201, operation_class=json_body(UserInvite))
    async def invite_user(
        self, request: Request[Any, Any, Any], db: NamedDependency[AsyncSession]
    ) -> UserOut:
        """Create a user and mail them a link to choose a password (admin)."""
        data = decode_json(await request.body(), UserInvite)
        actor = permissions.actor(request.user)
        return user_out(
            await password_links.invite(
                db, mailing(request), actor, email=data.email, role=data.role, name=data.name
            )
        )

    @get("/{user_id:int}")
    async def get_user(self, db: NamedDependency[AsyncSession], user_id: FromPath[int]) -> UserOut:
        """One staff user (admin)."""
        return user_out(await accounts.get_user(db, user_id))

    @patch("/{user_id:int}", operation_class=json_body(UserPatch))
    async def update_user(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[AsyncSession],
        user_id: FromPath[int],
    ) -> UserOut:
        """Change a user's role, deactivate them at once, or set their language (admin)."""
        data = decode_json(await request.body(), UserPatch)
        actor = permissions.actor(request.user)
        account = await accounts.update_user(
            db, user_id, actor=actor, role=data.role, active=data.active
        )
        if not isinstance(data.language, UnsetType):
            account = await accounts.set_language(db, user_id, data.language)
        return user_out(account)


class TokensController(Controller):
    """``/api/tokens``."""

    path = "/tokens"
    tags = ("tokens",)
    guards = [requires("admin")]  # noqa: RUF012 - Litestar's own shape

    @get("/")
    async def list_tokens(self, db: NamedDependency[AsyncSession]) -> TokensOut:
        """Every API token with its last use, never a secret (admin)."""
        return TokensOut(tokens=[token_out(info) for info in await auth.list_tokens(db)])

    @post("/", status_code=201, operation_class=json_body(TokenCreate))
    async def create_token(
        self, request: Request[Any, Any, Any], db: NamedDependency[AsyncSession]
    ) -> TokenCreated:
        """Issue a token for a staff user; the answer shows it this once (admin)."""
        data = decode_json(await request.body(), TokenCreate)
        info, token = await auth.create_for_user(
            db, permissions.actor(request.user), data.user_id, data.role, data.label
        )
        return TokenCreated(token=token, info=token_out(info))

    @delete("/{token_id:int}", status_code=204)
    async def revoke_token(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[AsyncSession],
        token_id: FromPath[int],
    ) -> None:
        """Revoke a token; it stops working at once (admin)."""
        await auth.revoke_by(db, permissions.actor(request.user), token_id)
