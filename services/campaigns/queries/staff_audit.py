"""The staff audit trail: staff actions appended, and read back newest first."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import RowMapping
from sqlalchemy.ext.asyncio import AsyncSession

from shared.schema import staff_audit


async def insert_audit(
    session: AsyncSession,
    *,
    at: datetime,
    actor: str,
    action: str,
    object_ref: str,
    details: dict[str, Any],
) -> int:
    """Append one staff action to the audit trail; return its id."""
    result = await session.execute(
        sa.insert(staff_audit)
        .values(at=at, actor=actor, action=action, object=object_ref, details=details)
        .returning(staff_audit.c.id)
    )
    return int(result.scalar_one())


async def audit_page(
    session: AsyncSession,
    *,
    actor: str | None,
    action: str | None,
    object_ref: str | None,
    since: datetime | None,
    until: datetime | None,
    before_id: int | None,
    limit: int,
) -> Sequence[RowMapping]:
    """Audit entries matching the filters, newest first, at most ``limit``."""
    query = sa.select(staff_audit).order_by(staff_audit.c.id.desc()).limit(limit)
    if actor is not None:
        query = query.where(staff_audit.c.actor == actor)
    if action is not None:
        query = query.where(staff_audit.c.action == action)
    if object_ref is not None:
        query = query.where(staff_audit.c.object == object_ref)
    if since is not None:
        query = query.where(staff_audit.c.at >= since)
    if until is not None:
        query = query.where(staff_audit.c.at < until)
    if before_id is not None:
        query = query.where(staff_audit.c.id < before_id)
    result = await session.execute(query)
    return result.mappings().all()
