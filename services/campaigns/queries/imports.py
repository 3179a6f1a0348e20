"""Staff imports as the staff app shows them: progress, results and rejected lines (read-only:
the subscriptions service owns these tables and runs the imports)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from shared.schema import import_rejects, imports, mailing_lists


@dataclass(frozen=True, slots=True)
class ImportStatusRow:
    """One import's state and counters."""

    id: int
    key: str
    list_slug: str
    mode: str
    state: str
    failure: str | None
    lines_done: int
    rows_done: int
    added: int
    updated: int
    unchanged: int
    invalid: int
    duplicates: int
    suppressed: int
    withdrawn: int
    created_at: datetime
    finished_at: datetime | None


_STATUS_COLUMNS = (
    imports.c.id,
    imports.c.key,
    mailing_lists.c.slug.label("list_slug"),
    imports.c.mode,
    imports.c.state,
    imports.c.failure,
    imports.c.lines_done,
    imports.c.rows_done,
    imports.c.added,
    imports.c.updated,
    imports.c.unchanged,
    imports.c.invalid,
    imports.c.duplicates,
    imports.c.suppressed,
    imports.c.withdrawn,
    imports.c.created_at,
    imports.c.finished_at,
)
_FROM = imports.join(mailing_lists, mailing_lists.c.id == imports.c.list_id)


async def import_by_key(session: AsyncSession, key: str) -> ImportStatusRow | None:
    """The import with this key."""
    query = sa.select(*_STATUS_COLUMNS).select_from(_FROM).where(imports.c.key == key)
    row = (await session.execute(query)).first()
    return ImportStatusRow(**row._mapping) if row else None


async def recent_imports(session: AsyncSession, limit: int = 20) -> list[ImportStatusRow]:
    """The latest imports, newest first."""
    query = sa.select(*_STATUS_COLUMNS).select_from(_FROM).order_by(imports.c.id.desc())
    return [ImportStatusRow(**row._mapping) for row in await session.execute(query.limit(limit))]


@dataclass(frozen=True, slots=True)
class RejectedLine:
    """A line an import did not take, and why."""

    line: int
    field: str
    problem: str
    detail: str | None


async def rejected_lines_page(
    session: AsyncSession, import_id: int, *, after: tuple[int, str], limit: int
) -> list[RejectedLine]:
    """Up to ``limit`` rejected lines after ``after`` (line, field), in line order."""
    query = (
        sa.select(
            import_rejects.c.line,
            import_rejects.c.field,
            import_rejects.c.problem,
            import_rejects.c.detail,
        )
        .where(
            import_rejects.c.import_id == import_id,
            sa.tuple_(import_rejects.c.line, import_rejects.c.field) > sa.tuple_(*after),
        )
        .order_by(import_rejects.c.line, import_rejects.c.field)
        .limit(limit)
    )
    return [RejectedLine(*row) for row in await session.execute(query)]
