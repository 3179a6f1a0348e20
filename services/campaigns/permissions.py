"""The one permission check: a staff session and an API token pass the same rule."""

from __future__ import annotations

from typing import TypeAlias

from services.campaigns.accounts import StaffAccount
from services.campaigns.auth import Role, StaffToken, role_allows
from services.campaigns.errors import NotAuthenticated, PermissionDenied

# Who is calling: a signed-in staff user (app) or an API token (JSON API).
Principal: TypeAlias = StaffAccount | StaffToken


def actor(principal: Principal) -> str:
    """How the staff audit trail names the caller: ``user:<id>`` or ``token:<id>``."""
    kind = "user" if isinstance(principal, StaffAccount) else "token"
    return f"{kind}:{principal.id}"


def check(principal: object, required: Role) -> Principal:
    """Return the caller if it may do what needs ``required``; raise otherwise."""
    if isinstance(principal, StaffAccount):
        if not principal.active:
            raise NotAuthenticated("this staff user has been deactivated")
        if principal.must_change_password:
            raise PermissionDenied(required, "none until the password is changed")
    elif not isinstance(principal, StaffToken):
        raise NotAuthenticated("sign in, or send an 'Authorization: Bearer <token>' header")
    if not role_allows(principal.role, required):
        raise PermissionDenied(required, principal.role)
    return principal
