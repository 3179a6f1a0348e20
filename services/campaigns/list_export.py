"""Export of a list's subscribers as CSV: streamed page by page in constant memory, audited.

The columns are those an import reads back (``email``, ``name``, ``language``,
``municipality``, ``custom.<key>``), plus the subscription's state and times.
"""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Final

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.campaigns import queries, staff_audit
from services.campaigns.errors import InvalidInput, NotFound
from services.campaigns.lists import SLUG
from services.campaigns.queries.exports import MemberRow, list_members_page
from shared.clock import aware
from shared.statuses import SubscriptionStatus

PAGE: Final = 1000
STATES: Final = tuple(str(status) for status in SubscriptionStatus)
FIXED_COLUMNS: Final = (
    "email",
    "name",
    "language",
    "municipality",
    "status",
    "requested_at",
    "confirmed_at",
)


@dataclass(frozen=True)
class ExportSelection:
    """Who an export covers: one list's subscribers in the given states.

    A segment export adds the segment here once segments exist (shared/segments.py).
    """

    list_id: int
    slug: str
    statuses: tuple[str, ...]
    field_keys: tuple[str, ...]


async def start_list_export(
    session: AsyncSession, slug: str, statuses: Sequence[str], *, actor: str
) -> ExportSelection:
    """Check the request and record it in the staff audit trail (committed before any row is
    sent, so an export is never made without its entry)."""
    wanted = tuple(dict.fromkeys(statuses or (SubscriptionStatus.CONFIRMED,)))
    if unknown := [status for status in wanted if status not in STATES]:
        raise InvalidInput("unknown subscription state", {"status": unknown[0][:32]})
    async with session.begin():
        row = await queries.list_by_slug(session, slug) if SLUG.fullmatch(slug) else None
        if row is None:
            raise NotFound("list", slug[:64])
        fields = await queries.all_fields(session)
        await staff_audit.record(
            session, actor, "list.export", f"list:{row.slug}", {"statuses": list(wanted)}
        )
    return ExportSelection(row.id, row.slug, wanted, tuple(field.key for field in fields))


async def export_lines(
    sessions: async_sessionmaker[AsyncSession], selection: ExportSelection, *, page: int = PAGE
) -> AsyncIterator[str]:
    """The CSV, a page of rows at a time; each page is a short read of its own."""
    header = [*FIXED_COLUMNS, *(f"custom.{key}" for key in selection.field_keys)]
    yield _csv_line(header)
    after = 0
    while True:
        async with sessions() as session, session.begin():
            rows = await list_members_page(
                session, selection.list_id, selection.statuses, after_id=after, limit=page
            )
        if not rows:
            return
        yield "".join(_csv_line(_cells(row, selection.field_keys)) for row in rows)
        after = rows[-1].id


def _cells(row: MemberRow, field_keys: Sequence[str]) -> list[str]:
    custom = row.custom_values or {}
    return [
        row.email,
        row.name or "",
        row.language,
        row.municipality or "",
        row.status,
        aware(row.requested_at).isoformat(),
        aware(row.confirmed_at).isoformat() if row.confirmed_at else "",
        *(_value(custom.get(key)) for key in field_keys),
    ]


def _value(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _csv_line(cells: Sequence[str]) -> str:
    out = io.StringIO()
    # Cells that a spreadsheet would run as a formula are written as text.
    csv.writer(out).writerow([_defused(cell) for cell in cells])
    return out.getvalue()


def _defused(cell: str) -> str:
    return "'" + cell if cell[:1] in ("=", "+", "-", "@", "\t", "\r") else cell
