"""Bearer-token authentication (middleware) and the role guard, which applies the one
permission check of ``permissions.py``."""

from __future__ import annotations

from typing import Any

from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler
from litestar.middleware import AbstractAuthenticationMiddleware, AuthenticationResult
from litestar.types import Guard

from services.campaigns import auth, permissions
from services.campaigns.auth import Role
from services.campaigns.errors import NotAuthenticated


class BearerTokenMiddleware(AbstractAuthenticationMiddleware):
    """Resolve ``Authorization: Bearer <token>`` to the StaffToken in ``connection.user``."""

    async def authenticate_request(
        self, connection: ASGIConnection[Any, Any, Any, Any]
    ) -> AuthenticationResult:
        """Look the token up by its digest; raise NotAuthenticated if it is missing or dead."""
        scheme, _, presented = connection.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not presented.strip():
            raise NotAuthenticated("an 'Authorization: Bearer <token>' header is required")
        async with connection.app.state.sessionmaker() as session:
            token = await auth.authenticate(session, presented.strip())
        return AuthenticationResult(user=token, auth=token)


def requires(role: Role) -> Guard:
    """A guard letting through callers (session or token) whose role is ``role`` or higher."""

    def guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        permissions.check(connection.user, role)

    return guard
