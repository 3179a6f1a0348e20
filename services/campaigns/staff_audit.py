"""The staff audit trail: who did what to which object, and when; read by admins.

Details hold ids and staff-chosen names only, never residents' personal data: a GDPR request
is recorded by its request id, not by the address it concerns.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Final

from msgspec import Struct
from sqlalchemy.ext.asyncio import AsyncSession

from services.campaigns import queries
from services.campaigns.errors import InvalidInput

SYSTEM: Final = "system"  # the command line, run by an operator
MAX_PAGE: Final = 200
DEFAULT_PAGE: Final = 50
# Where a creation's answer names the new object, as its path would (or a GDPR request its
# request id).
_ID_KEYS: Final = ("slug", "key", "request_id", "id")


class AuditEntryOut(Struct, kw_only=True):
    """One staff action."""

    id: int
    at: datetime
    actor: str
    action: str
    object: str
    details: dict[str, Any]


class AuditPageOut(Struct, kw_only=True):
    """``GET /api/audit``: newest first; ``next_before`` fetches the following page."""

    entries: list[AuditEntryOut]
    next_before: int | None


async def record(
    session: AsyncSession,
    actor: str,
    action: str,
    object_ref: str = "",
    details: dict[str, Any] | None = None,
) -> None:
    """Add one action to the trail in the caller's transaction (committed with the change)."""
    await queries.insert_audit(
        session,
        at=datetime.now(UTC),
        actor=actor[:64],
        action=action[:64],
        object_ref=object_ref[:128],
        details=details or {},
    )


def describe(
    action: str, path_params: dict[str, Any], request_body: object, response_body: object
) -> tuple[str, dict[str, Any]]:
    """The object (``<kind>:<id>``) and details of an API action, from what the route saw.

    The id comes from the path, or for a creation from the answer; details name the fields a
    change touched, never their values, and a GDPR request only by its request id.
    """
    kind = action.partition(".")[0]
    ident = next((str(v) for v in path_params.values() if v is not None and v != ""), None)
    answer = response_body if isinstance(response_body, dict) else {}
    if ident is None:
        ident = next((str(answer[k]) for k in _ID_KEYS if answer.get(k) not in (None, "")), None)
    details: dict[str, Any] = {}
    if action.endswith((".update", ".create")) and isinstance(request_body, dict):
        details["fields"] = sorted(str(key) for key in request_body)[:50]
    if kind == "subscriber":
        details = {}  # the body is a resident's address: keep nothing of it
    return (f"{kind}:{ident}" if ident else kind), details


async def read(
    session: AsyncSession,
    *,
    actor: str | None = None,
    action: str | None = None,
    object_ref: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    before: int | None = None,
    limit: int = DEFAULT_PAGE,
) -> AuditPageOut:
    """One page of the trail matching the filters, newest first."""
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidInput("invalid limit", {"limit": f"must be between 1 and {MAX_PAGE}"})
    if since is not None and until is not None and since >= until:
        raise InvalidInput("invalid time range", {"until": "must be after since"})
    rows = await queries.audit_page(
        session,
        actor=actor,
        action=action,
        object_ref=object_ref,
        since=since,
        until=until,
        before_id=before,
        limit=limit + 1,
    )
    entries = [
        AuditEntryOut(
            id=int(row["id"]),
            at=_aware(row["at"]),
            actor=str(row["actor"]),
            action=str(row["action"]),
            object=str(row["object"]),
            details=dict(row["details"] or {}),
        )
        for row in rows[:limit]
    ]
    return AuditPageOut(entries=entries, next_before=entries[-1].id if len(rows) > limit else None)


def _aware(value: datetime) -> datetime:
    # SQLite hands back naive datetimes; they were written in UTC.
    return value if value.tzinfo else value.replace(tzinfo=UTC)
