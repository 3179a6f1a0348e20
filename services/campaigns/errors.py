"""Errors of the campaigns service: one base class that carries data, mapped to HTTP in app.py."""

from __future__ import annotations

from collections.abc import Mapping

from shared.errors import BrevdueError


def N_(message: str) -> str:
    """Mark ``message`` for the staff app's catalogs; it is translated where a page shows it.

    Errors and notices are raised and passed on in English (the API answers in English); the
    pages translate them into the user's language, so the extraction must find them here.
    """
    return message


class CampaignsError(BrevdueError):
    """Base class of every error the campaigns service raises on purpose."""

    def __init__(self, message: str, errors: Mapping[str, str] | None = None) -> None:
        self.message = message
        self.errors = dict(errors or {})
        super().__init__(message)


class MalformedRequest(CampaignsError):
    """The request body is not JSON at all."""


class InvalidInput(CampaignsError):
    """Input that breaks a rule; ``errors`` maps each field to the reason."""


class NotAuthenticated(CampaignsError):
    """No bearer token, or one that is unknown or revoked."""


class PermissionDenied(CampaignsError):
    """The token's role is below what the action needs."""

    def __init__(self, required_role: str, actual_role: str) -> None:
        self.required_role = required_role
        self.actual_role = actual_role
        super().__init__(f"this needs the {required_role} role; the token has {actual_role}")


class NotFound(CampaignsError):
    """The addressed resource does not exist."""

    def __init__(self, kind: str, key: object) -> None:
        self.kind = kind
        self.key = key
        super().__init__(f"{kind} {key} not found")


class Conflict(CampaignsError):
    """The action does not fit the resource's current state; ``message`` says why."""


class Unavailable(CampaignsError):
    """A backing service (database, Redis) cannot be reached right now."""


class LoginRefused(CampaignsError):
    """Wrong address or password, or an inactive account: deliberately one message for all."""


class LoginThrottled(CampaignsError):
    """Too many failed logins for this address or from this client; ``retry_after`` seconds."""

    def __init__(self, retry_after: int) -> None:
        self.retry_after = retry_after
        super().__init__(N_("too many failed attempts; try again later"))


class LinkInvalid(CampaignsError):
    """A mailed staff link that is forged, expired, already used or for a deactivated user."""


class TooManyRequests(CampaignsError):
    """A staff user or token used up an allowance (test sends per hour); ``retry_after`` s."""

    def __init__(self, message: str, retry_after: int) -> None:
        self.retry_after = retry_after
        super().__init__(message, {"retry_after": str(retry_after)})


class FeedError(CampaignsError):
    """An event feed that cannot be fetched or read; ``message`` says why, for staff to see."""
