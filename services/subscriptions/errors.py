"""Errors of the subscriptions service; app.py maps them to HTTP responses in one place."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from services.subscriptions.queries import CustomFieldRow
from shared.errors import BrevdueError
from shared.tokens import Purpose


@dataclass(frozen=True)
class FieldProblem:
    """Why one field was refused: a reason code and an optional detail for the message."""

    code: str
    detail: str = ""


@dataclass(frozen=True)
class ListChoice:
    """A public list a resident may choose, named in every language."""

    slug: str
    names: Mapping[str, str]
    # A youth list: choosing it asks the year of birth (and maybe a guardian's address).
    youth: bool = False


class SubscriptionsError(BrevdueError):
    """Base class of every error the subscriptions service raises on purpose."""


class InvalidInput(SubscriptionsError):
    """A sign-up was refused; carries the problems per field and what was sent."""

    def __init__(
        self,
        problems: Mapping[str, FieldProblem],
        values: Mapping[str, object] | None = None,
        choices: Sequence[ListChoice] = (),
        language: str | None = None,
        fields: Sequence[CustomFieldRow] = (),
    ) -> None:
        self.problems = dict(problems)
        self.values = dict(values or {})
        self.choices = tuple(choices)
        self.language = language
        # Public custom field definitions, so the form can be shown again with them.
        self.fields = tuple(fields)
        super().__init__("invalid input: " + ", ".join(sorted(self.problems)))


class InvalidLink(SubscriptionsError):
    """A link's token is tampered, expired or meant for something else."""

    def __init__(self, purpose: Purpose, reason: str) -> None:
        self.purpose = purpose
        self.reason = reason  # "invalid" or "expired"
        super().__init__(f"{purpose.value} link {reason}")


class UnsupportedContentType(SubscriptionsError):
    """The request body is in a format this endpoint does not read."""

    def __init__(self, content_type: str) -> None:
        self.content_type = content_type
        super().__init__(f"unsupported content type: {content_type[:100]}")


class CrossOriginRefused(SubscriptionsError):
    """A browser on another site made a call refused from there: a widget JSON call from an
    origin the member site does not allow, or a preference form posted from elsewhere."""

    def __init__(self, origin: str) -> None:
        self.origin = origin
        super().__init__(f"origin not allowed: {origin[:200]}")


class UnknownSite(SubscriptionsError):
    """No member site has this key (a widget or embed page for a site that does not exist)."""

    def __init__(self, key: str) -> None:
        self.key = key
        super().__init__(f"unknown site: {key[:64]}")


class RateLimited(SubscriptionsError):
    """Too many sign-ups from one client or for one address; try again after a while."""

    def __init__(self, scope: str, retry_after: int) -> None:
        self.scope = scope  # "client" or "address"; never shown, the answer is the same
        self.retry_after = retry_after  # seconds
        super().__init__(f"rate limited ({scope}); retry after {retry_after} s")


class UnknownTrackedLink(SubscriptionsError):
    """A short link, open pixel or archive page that is not ours, was tampered with or leads
    nowhere any more: a 404, never a redirect elsewhere."""

    def __init__(self) -> None:
        super().__init__("unknown tracked link")
