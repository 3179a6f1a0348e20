"""The audit log and the suppression list of erased addresses."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from shared.schema import (
    audit_log,
    suppressions,
)


async def insert_audit_entry(
    session: AsyncSession,
    *,
    at: datetime,
    actor: str,
    action: str,
    subscriber_ref: str | None,
    details: dict[str, Any],
) -> None:
    """Append one audit log entry."""
    values = {
        "at": at,
        "actor": actor,
        "action": action,
        "subscriber_ref": subscriber_ref,
        "details": details,
    }
    await session.execute(_INSERT_AUDIT_ENTRY, values)


_INSERT_AUDIT_ENTRY = sa.insert(audit_log)  # built once (every unsubscribe); values: given


@dataclass(frozen=True, slots=True)
class AuditEntryRow:
    """One audit log entry about an address: who did what, when, with which details."""

    at: datetime
    actor: str
    action: str
    details: dict[str, Any]


async def get_audit_entries(session: AsyncSession, subscriber_ref: str) -> list[AuditEntryRow]:
    """Audit entries about one address digest, oldest first."""
    query = (
        sa.select(audit_log.c.at, audit_log.c.actor, audit_log.c.action, audit_log.c.details)
        .where(audit_log.c.subscriber_ref == subscriber_ref)
        .order_by(audit_log.c.at, audit_log.c.id)
    )
    return [AuditEntryRow(*row) for row in await session.execute(query)]


async def is_suppressed(session: AsyncSession, email_hash: str) -> bool:
    """True when an erased address with this digest must not be signed up again."""
    query = sa.select(suppressions.c.email_hash).where(suppressions.c.email_hash == email_hash)
    return (await session.execute(query)).first() is not None


async def insert_suppression(
    session: AsyncSession, email_hash: str, reason: str, now: datetime
) -> None:
    """Keep an address digest on the suppression list (once)."""
    if await is_suppressed(session, email_hash):
        return
    await session.execute(
        sa.insert(suppressions).values(email_hash=email_hash, reason=reason, created_at=now)
    )
