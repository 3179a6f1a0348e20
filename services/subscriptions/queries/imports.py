"""CSV imports: the import rows and their rejected lines, and the set-wise statements that
write one batch of imported addresses (a few statements per batch, never one per address)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from services.subscriptions.queries.eligibility import recount_confirmed_lists
from shared.schema import (
    consent_events,
    import_rejects,
    imports,
    subscribers,
    subscriptions,
    suppressions,
)
from shared.statuses import SubscriptionStatus

# The counters an import keeps, in the order reports show them.
COUNTERS = ("added", "updated", "unchanged", "invalid", "duplicates", "suppressed", "withdrawn")


@dataclass(frozen=True, slots=True)
class ImportRow:
    """One import: its options, attestation, state and progress."""

    id: int
    key: str
    list_id: int
    actor: str
    mode: str
    update_existing: bool
    default_language: str
    columns: dict[str, str]
    consent_basis: str | None
    consent_collected: str | None
    consent_method: str | None
    attested_by: str | None
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
    updated_at: datetime
    finished_at: datetime | None


_IMPORT_COLUMNS = tuple(imports.c[name] for name in ImportRow.__dataclass_fields__)


async def insert_import(session: AsyncSession, values: Mapping[str, Any]) -> None:
    """Create an import row (counters at zero)."""
    zeros = dict.fromkeys(COUNTERS, 0)
    await session.execute(sa.insert(imports).values(**zeros, lines_done=1, rows_done=0, **values))


async def get_import(session: AsyncSession, key: str) -> ImportRow | None:
    """The import with this key."""
    row = (await session.execute(sa.select(*_IMPORT_COLUMNS).where(imports.c.key == key))).first()
    return ImportRow(*row) if row else None


async def save_progress(
    session: AsyncSession,
    import_id: int,
    *,
    lines_done: int,
    rows: int,
    counts: Mapping[str, int],
    now: datetime,
) -> None:
    """Add one batch's counts to the import and move its checkpoint to ``lines_done``."""
    increments = {name: imports.c[name] + counts.get(name, 0) for name in COUNTERS}
    await session.execute(
        sa.update(imports)
        .where(imports.c.id == import_id)
        .values(
            lines_done=lines_done,
            rows_done=imports.c.rows_done + rows,
            updated_at=now,
            **increments,
        )
    )


async def set_import_state(
    session: AsyncSession, import_id: int, state: str, now: datetime, failure: str | None = None
) -> None:
    """Mark an import finished, failed or running again."""
    await session.execute(
        sa.update(imports)
        .where(imports.c.id == import_id)
        .values(
            state=state,
            failure=failure,
            updated_at=now,
            finished_at=None if state == "running" else now,
        )
    )


@dataclass(frozen=True, slots=True)
class RejectRow:
    """A line not imported: which field, what was wrong, and a detail such as a first line."""

    line: int
    field: str
    problem: str
    detail: str | None = None


async def insert_rejects(
    session: AsyncSession, import_id: int, rejects: Sequence[RejectRow]
) -> None:
    """Record rejected lines."""
    if rejects:
        rows = [
            {
                "import_id": import_id,
                "line": r.line,
                "field": r.field,
                "problem": r.problem,
                "detail": r.detail,
            }
            for r in rejects
        ]
        await session.execute(sa.insert(import_rejects), rows)


async def stream_rejects(
    session: AsyncSession, import_id: int, *, batch: int = 1000
) -> AsyncIterator[RejectRow]:
    """An import's rejected lines in line order, read in keyset batches."""
    after = (0, "")
    while True:
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
            .limit(batch)
        )
        rows = [RejectRow(*row) for row in await session.execute(query)]
        for row in rows:
            yield row
        if len(rows) < batch:
            return
        after = (rows[-1].line, rows[-1].field)


async def find_suppressed(session: AsyncSession, digests: Collection[str]) -> set[str]:
    """The digests among ``digests`` on the suppression list (erased addresses)."""
    query = sa.select(suppressions.c.email_hash).where(suppressions.c.email_hash.in_(digests))
    return set((await session.scalars(query)).all())


@dataclass(frozen=True, slots=True)
class KnownSubscriber:
    """An existing subscriber an import row matched: what the import compares and keeps."""

    id: int
    key: str
    email: str
    email_key: str
    status: str
    name: str | None
    language: str
    municipality: str | None
    custom_values: dict[str, Any] | None
    list_status: str | None  # on the import's list; None when not subscribed to it
    complained: bool  # a spam complaint withdrew them from everything once


async def find_subscribers(
    session: AsyncSession, email_keys: Collection[str], list_id: int
) -> dict[str, KnownSubscriber]:
    """The subscribers with these identity keys, with their state on ``list_id`` and whether
    they ever complained, by identity key."""
    # Three index look-ups rather than one query with a join and a correlated subquery: an
    # import of new addresses finds none and stops after the first.
    if session.get_bind().dialect.name == "postgresql":
        # A table the import is filling has no statistics yet: below a few hundred thousand
        # rows PostgreSQL prices a scan of it under a thousand index probes, and the scan,
        # which grows with every batch, made 100,000 rows spend 35 of 85 s here. The probes
        # cost a few milliseconds whatever the table's size; this transaction (one batch)
        # asks for them.
        await session.execute(sa.text("SET LOCAL enable_seqscan = off"))
    query = sa.select(
        subscribers.c.id,
        subscribers.c.key,
        subscribers.c.email,
        subscribers.c.email_key,
        subscribers.c.status,
        subscribers.c.name,
        subscribers.c.language,
        subscribers.c.municipality,
        subscribers.c.custom_values,
    ).where(subscribers.c.email_key.in_(list(email_keys)))
    found = (await session.execute(query)).all()
    if not found:
        return {}
    ids = [row.id for row in found]
    states = dict(
        (
            await session.execute(
                sa.select(subscriptions.c.subscriber_id, subscriptions.c.status).where(
                    subscriptions.c.list_id == list_id, subscriptions.c.subscriber_id.in_(ids)
                )
            )
        ).all()
    )
    complained = set(
        (
            await session.scalars(
                sa.select(consent_events.c.subscriber_id)
                .where(
                    consent_events.c.subscriber_id.in_(ids),
                    consent_events.c.form == "complaint",
                )
                .distinct()
            )
        ).all()
    )
    return {
        str(row.email_key): KnownSubscriber(
            *row, list_status=states.get(row.id), complained=row.id in complained
        )
        for row in found
    }


async def insert_subscribers(
    session: AsyncSession, rows: Sequence[Mapping[str, Any]]
) -> dict[str, int]:
    """Insert new subscribers in one statement; their ids by identity key. A concurrent
    sign-up of one of the addresses raises IntegrityError (the caller retries the batch)."""
    if not rows:
        return {}
    query = sa.insert(subscribers).returning(subscribers.c.email_key, subscribers.c.id)
    result = await session.execute(query, list(rows))
    return {str(key): int(id_) for key, id_ in result.all()}


async def update_subscribers(session: AsyncSession, rows: Sequence[Mapping[str, Any]]) -> None:
    """Store imported details of existing subscribers (``id``, ``name``, ``language``,
    ``municipality``, ``custom_values``), one executemany."""
    if not rows:
        return
    query = (
        sa.update(subscribers)
        .where(subscribers.c.id == sa.bindparam("subscriber_id"))
        .values(
            name=sa.bindparam("new_name"),
            language=sa.bindparam("new_language"),
            municipality=sa.bindparam("new_municipality"),
            custom_values=sa.bindparam("new_custom_values", type_=subscribers.c.custom_values.type),
            updated_at=sa.bindparam("now"),
        )
    )
    await _execute_many(session, query, rows)


async def _execute_many(
    session: AsyncSession, query: sa.Executable, rows: Sequence[Mapping[str, Any]]
) -> None:
    # Through the connection: a plain executemany, not the ORM session's bulk-by-primary-key.
    connection = await session.connection()
    await connection.execute(query, list(rows))


async def insert_subscriptions(
    session: AsyncSession,
    list_id: int,
    subscriber_ids: Collection[int],
    *,
    status: SubscriptionStatus,
    now: datetime,
    counted: Collection[int] = (),
) -> None:
    """Subscribe these subscribers to ``list_id`` in one statement.

    ``counted``: subscribers inserted in this batch whose ``confirmed_lists`` already counts
    this subscription, so they need no recount.
    """
    if not subscriber_ids:
        return
    confirmed_at = now if status == SubscriptionStatus.CONFIRMED else None
    rows = [
        {
            "subscriber_id": id_,
            "list_id": list_id,
            "status": status,
            "requested_at": now,
            "confirmed_at": confirmed_at,
        }
        for id_ in subscriber_ids
    ]
    await session.execute(sa.insert(subscriptions), rows)
    if status == SubscriptionStatus.CONFIRMED:
        already = set(counted)
        await recount_confirmed_lists(
            session, [id_ for id_ in subscriber_ids if id_ not in already]
        )


async def confirm_pending(
    session: AsyncSession, list_id: int, subscriber_ids: Collection[int], now: datetime
) -> None:
    """Confirm these subscribers' pending subscriptions to ``list_id``."""
    if not subscriber_ids:
        return
    await session.execute(
        sa.update(subscriptions)
        .where(
            subscriptions.c.list_id == list_id,
            subscriptions.c.subscriber_id.in_(list(subscriber_ids)),
            subscriptions.c.status == SubscriptionStatus.PENDING,
        )
        .values(status=SubscriptionStatus.CONFIRMED, confirmed_at=now)
    )
    await recount_confirmed_lists(session, subscriber_ids)


async def insert_import_consent(session: AsyncSession, rows: Sequence[Mapping[str, Any]]) -> None:
    """Append consent records of many subscribers in one statement."""
    if rows:
        await session.execute(sa.insert(consent_events), list(rows))
