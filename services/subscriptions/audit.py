"""The audit log of residents' data: who exported, erased or changed what, by address digest.

Entries name the address only by ``address_hash``, never by the subscriber row id, so the trail
survives erasure; ``details`` hold list slugs, field names and counts, never personal data.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final

from sqlalchemy.ext.asyncio import AsyncSession

from services.subscriptions import queries
from shared.addresses import address_digest
from shared.clock import utcnow

RESIDENT: Final = "resident"
SYSTEM: Final = "system"

# Actions, as stored in audit_log.action.
PREFERENCES_CHANGED: Final = "preferences_changed"
UNSUBSCRIBED: Final = "unsubscribed"
EXPORT_REQUESTED: Final = "export_requested"
EXPORTED: Final = "exported"
ERASED: Final = "erased"
IMPORTED: Final = "imported"  # a staff import into a list (counts only, no addresses)
LIST_EXPORTED: Final = "list_exported"  # a staff export of a list's subscribers
BOUNCED: Final = "bounced"  # the mailer reported a hard bounce; the subscriber is stopped


def address_hash(email: str) -> str:
    """SHA-256 hex digest of the salted address identity: a reference without the address.

    Every spelling of one mailbox has one digest (shared/addresses.py), so an erased
    ``Maja@example.org`` also blocks ``maja@example.org``.
    """
    return address_digest(email)


def staff_actor(token_id: int) -> str:
    """The actor name of a staff API token."""
    return f"staff:{token_id}"


async def record(
    session: AsyncSession,
    *,
    actor: str,
    action: str,
    email: str | None,
    details: dict[str, Any] | None = None,
    now: datetime | None = None,
) -> None:
    """Append an audit entry about ``email`` (stored as its digest) in the caller's transaction."""
    await queries.insert_audit_entry(
        session,
        at=now or utcnow(),
        actor=actor,
        action=action,
        subscriber_ref=address_hash(email) if email else None,
        details=details or {},
    )
