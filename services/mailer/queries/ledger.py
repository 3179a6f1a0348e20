"""The delivery ledger (deliveries): one row per campaign and subscriber."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from services.mailer.campaign_types import Recipient
from services.mailer.queries.audience import suppressed_addresses
from services.mailer.queries.common import insert_ignoring
from shared.addresses import address_identity
from shared.schema import campaign_runs, campaigns, deliveries, subscribers
from shared.statuses import CampaignStatus, DeliveryStatus, RunState


def _hard_bounced() -> sa.Exists:
    """The subscriber's address bounced hard (or drew a complaint) in an earlier campaign."""
    earlier = deliveries.alias("earlier")
    return (
        sa.exists()
        .where(earlier.c.subscriber_id == subscribers.c.id)
        .where(
            sa.or_(
                earlier.c.status == DeliveryStatus.BOUNCED,
                # Refused at RCPT as an unknown address: as good as a bounce.
                sa.and_(
                    earlier.c.status == DeliveryStatus.FAILED, earlier.c.last_response.like("5.1.%")
                ),
            )
        )
    )


def _unindexed_status() -> sa.ColumnElement[str]:
    """The row's status in an expression no index matches: for statements that name their
    rows by id (a batch, a chunk), which must reach them through the primary key.

    Statistics gathered before a campaign's fan-out say 'queued' (or 'sending') is rare; with
    ``status = 'queued'`` in reach of the status indexes, PostgreSQL read every queued row of
    every campaign for each chunk of 100 (14 ms per claim with 40,000 queued, and growing with
    the audience) instead of the chunk's 100 rows by id.
    """
    return deliveries.c.status.concat("")


def _unindexed_campaign() -> sa.ColumnElement[int]:
    """The row's campaign, out of reach of the (campaign_id, …) indexes: see above."""
    return deliveries.c.campaign_id + 0


@dataclass(frozen=True, slots=True)
class Outcome:
    """What happened to one claimed ledger row."""

    delivery_id: int
    status: str
    code: int | None
    response: str | None
    sent_at: datetime | None = None
    # The language variant the message was made from (None: the campaign has none).
    variant: str | None = None


async def insert_deliveries(
    conn: AsyncConnection,
    campaign_id: int,
    rows: Sequence[tuple[int, str]],
    now: datetime,
    subject_variants: Mapping[int, int | None] | None = None,
) -> None:
    """Insert queued rows for (subscriber id, Message-ID) pairs; existing ones are kept.

    ``subject_variants``: a subject test's sample, the subject of each subscriber.
    """
    if not rows:
        return
    chosen = subject_variants or {}
    values = [
        {
            "campaign_id": campaign_id,
            "subscriber_id": subscriber_id,
            "status": DeliveryStatus.QUEUED,
            "attempts": 0,
            "message_id": message_id,
            "queued_at": now,
            "updated_at": now,
            "subject_variant": chosen.get(subscriber_id),
        }
        for subscriber_id, message_id in rows
    ]
    # executemany: compiled once, batched by the driver (a multi-VALUES literal of 500 rows
    # costs more to compile than to run).
    statement = insert_ignoring(conn, deliveries).on_conflict_do_nothing(
        index_elements=["campaign_id", "subscriber_id"]
    )
    await conn.execute(statement, values)


def _message_id(conn: AsyncConnection, campaign_id: int, domain: str) -> sa.ColumnElement[str]:
    """``mime.campaign_message_id`` computed by the database, for each subscriber selected.

    The bounce handler recomputes it to check a Message-ID it is shown, so it must be the
    same text: ``<c{campaign}.s{subscriber}.{sha256 of "campaign:subscriber", 16 hex}@domain>``.
    """
    # TEXT, not VARCHAR: no cast at every concatenation (a tenth of the statement's CPU).
    subscriber = sa.cast(subscribers.c.id, sa.Text)
    key = sa.literal(f"{campaign_id}:", sa.Text) + subscriber
    if conn.dialect.name == "postgresql":
        raw = sa.func.sha256(sa.func.convert_to(key, sa.literal_column("'UTF8'")))
        digest = sa.func.encode(raw, sa.literal_column("'hex'"), type_=sa.Text)
    else:
        digest = sa.func.sha256_hex(key, type_=sa.Text)  # registered by shared.db
    return (
        sa.literal(f"<c{campaign_id}.s", sa.Text)
        + subscriber
        + sa.literal_column("'.'", sa.Text)
        + sa.func.substr(digest, 1, 16, type_=sa.Text)
        + sa.literal(f"@{domain}>", sa.Text)
    )


async def write_audience_window(
    conn: AsyncConnection,
    campaign_id: int,
    in_audience: sa.ColumnElement[bool],
    window: tuple[int, int],
    *,
    domain: str,
    now: datetime,
) -> list[int]:
    """Queued rows for the audience's subscribers with ids in ``window`` (above the first,
    up to the last), written by one INSERT … SELECT; the ids of the rows it added, ascending.

    Rows already there (a re-run, the sample of a subject test) are kept as they are.
    """
    first, last = window
    columns = ("campaign_id", "subscriber_id", "status", "attempts", "message_id")
    rows = (
        sa.select(
            sa.literal(campaign_id, deliveries.c.campaign_id.type),
            subscribers.c.id,
            sa.literal(DeliveryStatus.QUEUED.value, deliveries.c.status.type),
            sa.literal(0, deliveries.c.attempts.type),
            _message_id(conn, campaign_id, domain),
            sa.literal(now, deliveries.c.queued_at.type),
            sa.literal(now, deliveries.c.updated_at.type),
        )
        .where(subscribers.c.id > first, subscribers.c.id <= last, in_audience)
        .order_by(subscribers.c.id)
    )
    statement = (
        insert_ignoring(conn, deliveries)
        .from_select([*columns, "queued_at", "updated_at"], rows)
        .on_conflict_do_nothing(index_elements=["campaign_id", "subscriber_id"])
        .returning(deliveries.c.id)
    )
    return sorted(int(value) for value in (await conn.execute(statement)).scalars())


async def queued_ids_between(
    conn: AsyncConnection, campaign_id: int, first_subscriber: int, last_subscriber: int
) -> list[int]:
    """Ids of still-queued rows for a range of subscriber ids (a fan-out window), in id order.

    The status is read, not asked in SQL: with it in the WHERE clause PostgreSQL took the
    (campaign, status) index and filtered the range out of every queued row of the campaign,
    550 ms a call at a million rows (once per page, the old fan-out's quadratic cost); over
    the (campaign, subscriber) key it is a range of the window's rows.
    """
    result = await conn.execute(
        sa.select(deliveries.c.id, deliveries.c.status)
        .where(deliveries.c.campaign_id == campaign_id)
        .where(deliveries.c.subscriber_id.between(first_subscriber, last_subscriber))
    )
    return sorted(int(row.id) for row in result if row.status == DeliveryStatus.QUEUED)


async def load_queued(
    conn: AsyncConnection,
    campaign_id: int,
    delivery_ids: Sequence[int],
    in_audience: sa.ColumnElement[bool],
) -> list[tuple[Recipient, bool]]:
    """Queued rows of a batch with their subscriber and whether they may still be mailed:
    active, still in the audience (``in_audience``: on a list, in a segment), never bounced,
    and not erased under any spelling since fan-out."""
    eligible = sa.and_(subscribers.c.status == "active", in_audience, ~_hard_bounced())
    result = await conn.execute(
        sa.select(
            deliveries.c.id,
            deliveries.c.subscriber_id,
            deliveries.c.message_id,
            deliveries.c.attempts,
            deliveries.c.subject_variant,
            subscribers.c.key,
            subscribers.c.email,
            subscribers.c.name,
            subscribers.c.language,
            subscribers.c.municipality,
            subscribers.c.minor,
            sa.case((eligible, True), else_=False).label("eligible"),
        )
        .select_from(
            deliveries.outerjoin(subscribers, subscribers.c.id == deliveries.c.subscriber_id)
        )
        .where(_unindexed_campaign() == campaign_id)
        .where(deliveries.c.id.in_(delivery_ids))
        .where(_unindexed_status() == DeliveryStatus.QUEUED)
        .order_by(deliveries.c.id)
    )
    found = result.all()
    suppressed = await suppressed_addresses(conn, [row.email for row in found if row.email])
    rows: list[tuple[Recipient, bool]] = []
    for row in found:
        recipient = Recipient(
            delivery_id=int(row.id),
            subscriber_id=int(row.subscriber_id),
            key=row.key or "",
            email=row.email or "",
            name=row.name,
            language=row.language or "da",
            message_id=row.message_id,
            attempts=int(row.attempts),
            municipality=row.municipality,
            subject_variant=None if row.subject_variant is None else int(row.subject_variant),
            minor=bool(row.minor),
        )
        may_send = bool(row.eligible) and row.key is not None and row.email not in suppressed
        rows.append((recipient, may_send))
    return rows


async def mark_skipped(
    conn: AsyncConnection, delivery_ids: Sequence[int], now: datetime, reason: str | None = None
) -> None:
    """Rows whose subscriber left (or whose campaign was cancelled) before their turn."""
    if delivery_ids:
        await conn.execute(
            sa.update(deliveries)
            .where(deliveries.c.id.in_(delivery_ids))
            .where(_unindexed_status() == DeliveryStatus.QUEUED)
            .values(
                status=DeliveryStatus.SKIPPED,
                updated_at=now,
                **({"last_response": reason} if reason else {}),
            )
        )


async def skip_queued(conn: AsyncConnection, campaign_id: int, now: datetime, reason: str) -> int:
    """Every still-queued row of a campaign becomes skipped (it was cancelled); return how many."""
    result = await conn.execute(
        sa.update(deliveries)
        .where(deliveries.c.campaign_id == campaign_id)
        .where(deliveries.c.status == DeliveryStatus.QUEUED)
        .values(status=DeliveryStatus.SKIPPED, last_response=reason, updated_at=now)
    )
    return int(result.rowcount)


async def requeue_failed(conn: AsyncConnection, campaign_id: int, now: datetime) -> int:
    """A campaign's failed rows (not bounced or skipped) go back to the queue; return how many."""
    # A fresh attempt count gives them the whole retry horizon again; the last code and reply
    # stay until the next attempt replaces them.
    result = await conn.execute(
        sa.update(deliveries)
        .where(deliveries.c.campaign_id == campaign_id)
        .where(deliveries.c.status == DeliveryStatus.FAILED)
        .values(status=DeliveryStatus.QUEUED, attempts=0, queued_at=now, updated_at=now)
    )
    return int(result.rowcount)


def _still_wanted(in_audience: sa.ColumnElement[bool]) -> sa.Exists:
    """The row's subscriber is active and still in the campaign's audience (``in_audience``:
    confirmed on one of its lists, in one of its segments), correlated on deliveries."""
    return (
        sa.exists()
        .where(subscribers.c.id == deliveries.c.subscriber_id)
        .where(subscribers.c.status == "active")
        .where(in_audience)
    )


async def skip_departed(
    conn: AsyncConnection,
    delivery_ids: Sequence[int],
    in_audience: sa.ColumnElement[bool],
    now: datetime,
    *,
    status: DeliveryStatus = DeliveryStatus.QUEUED,
) -> set[int]:
    """Rows in ``status`` whose subscriber left the campaign's audience (or stopped being
    active) since their batch started: 'skipped'; returns their ids.

    With ``status`` 'sending' it takes back rows this process has just claimed and not yet
    handed to the relay (see ``campaign_delivery._deliver_chunk``)."""
    if not delivery_ids:
        return set()
    result = await conn.execute(_skip_departed(delivery_ids, in_audience, now, status))
    return {int(value) for value in result.scalars().all()}


def _skip_departed(
    delivery_ids: Sequence[int],
    in_audience: sa.ColumnElement[bool],
    now: datetime,
    status: DeliveryStatus,
) -> sa.UpdateBase:
    return (
        sa.update(deliveries)
        .where(deliveries.c.id.in_(delivery_ids))
        .where(_unindexed_status() == status)
        .where(~_still_wanted(in_audience))
        .values(status=DeliveryStatus.SKIPPED, updated_at=now)
        .returning(deliveries.c.id)
    )


async def claim(
    conn: AsyncConnection,
    delivery_ids: Sequence[int],
    now: datetime,
    in_audience: sa.ColumnElement[bool] | None = None,
) -> set[int]:
    """Move queued rows to 'sending' and return those this call moved (and may now send).

    Rows of a campaign that is paused or cancelled, or whose run asked for a pause, are not
    claimed: both rows are read in the same statement, so a pause takes effect at the next
    chunk of every running batch. With ``in_audience``, neither are rows whose subscriber has
    left the campaign's audience: an unsubscribe committed before the claim stops the mail,
    however long ago the batch started.
    """
    if not delivery_ids:
        return set()
    result = await conn.execute(_claim(delivery_ids, now, in_audience))
    return {int(value) for value in result.scalars().all()}


def _claim(
    delivery_ids: Sequence[int], now: datetime, in_audience: sa.ColumnElement[bool] | None
) -> sa.UpdateBase:
    halted = (
        sa.exists()
        .where(campaigns.c.id == deliveries.c.campaign_id)
        .where(campaigns.c.status.in_((CampaignStatus.PAUSED, CampaignStatus.CANCELLED)))
    )
    pause_requested = (
        sa.exists()
        .where(campaign_runs.c.campaign_id == deliveries.c.campaign_id)
        .where(campaign_runs.c.state == RunState.PAUSE_REQUESTED)
    )
    return (
        sa.update(deliveries)
        .where(deliveries.c.id.in_(delivery_ids))
        .where(_unindexed_status() == DeliveryStatus.QUEUED)
        .where(~halted)
        .where(~pause_requested)
        .where(_still_wanted(in_audience) if in_audience is not None else sa.true())
        .values(status=DeliveryStatus.SENDING, attempts=deliveries.c.attempts + 1, updated_at=now)
        .returning(deliveries.c.id)
    )


async def record_outcomes(
    conn: AsyncConnection, outcomes: Sequence[Outcome], now: datetime
) -> None:
    """Write what happened to claimed rows, in one executemany."""
    if outcomes:
        await conn.execute(_record_outcome(now), _outcome_values(outcomes))


def _record_outcome(now: datetime) -> sa.UpdateBase:
    return (
        sa.update(deliveries)
        .where(deliveries.c.id == sa.bindparam("b_id"))
        .where(_unindexed_status() == DeliveryStatus.SENDING)
        .values(
            status=sa.bindparam("b_status"),
            last_code=sa.bindparam("b_code"),
            last_response=sa.bindparam("b_response"),
            sent_at=sa.bindparam("b_sent_at"),
            variant=sa.bindparam("b_variant"),
            updated_at=now,
        )
    )


def _outcome_values(outcomes: Sequence[Outcome]) -> list[dict[str, object]]:
    return [
        {
            "b_id": outcome.delivery_id,
            "b_status": outcome.status,
            "b_code": outcome.code,
            "b_response": (outcome.response or "")[:500] or None,
            "b_sent_at": outcome.sent_at,
            "b_variant": outcome.variant,
        }
        for outcome in outcomes
    ]


async def release(conn: AsyncConnection, delivery_ids: Sequence[int], now: datetime) -> None:
    """Give claimed rows that were never attempted back to the queue."""
    if delivery_ids:
        await conn.execute(_release(delivery_ids, now))


def _release(delivery_ids: Sequence[int], now: datetime) -> sa.UpdateBase:
    return (
        sa.update(deliveries)
        .where(deliveries.c.id.in_(delivery_ids))
        .where(_unindexed_status() == DeliveryStatus.SENDING)
        .values(status=DeliveryStatus.QUEUED, attempts=deliveries.c.attempts - 1, updated_at=now)
    )


def claim_chunk(
    conn: sa.Connection,
    delivery_ids: Sequence[int],
    now: datetime,
    in_audience: sa.ColumnElement[bool],
) -> tuple[set[int], set[int]]:
    """``claim`` a chunk's rows and ``skip_departed`` those it left, on a blocking connection
    (SQLite's writer thread, ``shared.db.SqliteWriter``); returns (claimed, skipped) ids."""
    if not delivery_ids:
        return set(), set()
    result = conn.execute(_claim(delivery_ids, now, in_audience))
    claimed = {int(value) for value in result.scalars().all()}
    unclaimed = [i for i in delivery_ids if i not in claimed]  # usually none
    if not unclaimed:
        return claimed, set()
    result = conn.execute(_skip_departed(unclaimed, in_audience, now, DeliveryStatus.QUEUED))
    return claimed, {int(value) for value in result.scalars().all()}


def settle_chunk(
    conn: sa.Connection, outcomes: Sequence[Outcome], untouched: Sequence[int], now: datetime
) -> None:
    """``record_outcomes`` and ``release`` on a blocking connection (SQLite's writer thread)."""
    if outcomes and conn.dialect.name == "sqlite" and sqlite3.sqlite_version_info >= (3, 38):
        conn.execute(_record_outcomes_from_json(now), {"outcomes": _outcomes_json(conn, outcomes)})
    elif outcomes:
        conn.execute(_record_outcome(now), _outcome_values(outcomes))
    if untouched:
        conn.execute(_release(untouched, now))


# A chunk's outcomes as one JSON array, one [id, status, code, response, sent_at, variant] each.
_OUTCOME = sa.func.json_each(sa.bindparam("outcomes", type_=sa.Text)).table_valued("value")


def _outcome_field(index: int, type_: sa.types.TypeEngine[Any]) -> sa.ColumnElement[Any]:
    return sa.func.json_extract(_OUTCOME.c.value, f"$[{index}]", type_=type_)


def _record_outcomes_from_json(now: datetime) -> sa.UpdateBase:
    """``record_outcomes`` as one UPDATE … FROM json_each (SQLite 3.38+): the executemany ran
    the statement once per row, with SQLAlchemy's parameter processing per row in Python and
    the GIL given up and taken back at each step (0.9 of 2.1 ms of CPU per chunk of 100)."""
    return (
        sa.update(deliveries)
        .where(deliveries.c.id == _outcome_field(0, sa.Integer()))
        .where(_unindexed_status() == DeliveryStatus.SENDING)
        .values(
            status=_outcome_field(1, sa.Text()),
            last_code=_outcome_field(2, sa.Integer()),
            last_response=_outcome_field(3, sa.Text()),
            sent_at=_outcome_field(4, sa.Text()),
            variant=_outcome_field(5, sa.Text()),
            updated_at=now,
        )
    )


def _outcomes_json(conn: sa.Connection, outcomes: Sequence[Outcome]) -> str:
    # The executemany's values, in _OUTCOME's order; sent_at as the dialect stores a DateTime,
    # so that it reads back like any other.
    stored = deliveries.c.sent_at.type.dialect_impl(conn.dialect).bind_processor(conn.dialect)

    def sent_at(value: Any) -> Any:
        if value is None:
            return None
        return stored(value) if stored else value.isoformat(" ")

    return json.dumps(
        [
            [
                values["b_id"],
                values["b_status"],
                values["b_code"],
                values["b_response"],
                sent_at(values["b_sent_at"]),
                values["b_variant"],
            ]
            for values in _outcome_values(outcomes)
        ]
    )


async def requeue_stuck_sending(conn: AsyncConnection, before: datetime, now: datetime) -> int:
    """Rows left in 'sending' by a job that died go back to the queue; return how many."""
    result = await conn.execute(
        sa.update(deliveries)
        .where(deliveries.c.status == DeliveryStatus.SENDING)
        .where(deliveries.c.updated_at < before)
        .values(
            status=DeliveryStatus.QUEUED,
            updated_at=now,
            last_response="re-queued: sender stopped mid-send",
        )
    )
    return int(result.rowcount)


async def queued_page(
    conn: AsyncConnection, campaign_id: int, after_id: int, limit: int
) -> list[int]:
    """Next page (keyset on id) of a campaign's queued rows."""
    result = await conn.execute(
        sa.select(deliveries.c.id)
        .where(deliveries.c.campaign_id == campaign_id)
        .where(deliveries.c.status == DeliveryStatus.QUEUED)
        .where(deliveries.c.id > after_id)
        .order_by(deliveries.c.id)
        .limit(limit)
    )
    return [int(value) for value in result.scalars().all()]


async def outcome_counts(conn: AsyncConnection, campaign_id: int) -> tuple[int, int]:
    """(sent, failed) rows of a campaign so far."""
    result = await conn.execute(
        sa.select(deliveries.c.status, sa.func.count())
        .where(deliveries.c.campaign_id == campaign_id)
        .where(deliveries.c.status.in_([DeliveryStatus.SENT, DeliveryStatus.FAILED]))
        .group_by(deliveries.c.status)
    )
    counts = {status: int(number) for status, number in result.all()}
    return counts.get(DeliveryStatus.SENT, 0), counts.get(DeliveryStatus.FAILED, 0)


async def record_bounce(
    conn: AsyncConnection,
    *,
    campaign_id: int,
    subscriber_id: int,
    code: int | None,
    response: str,
    now: datetime,
) -> bool:
    """Mark a delivered row bounced (a DSN or complaint came back); True if a row changed."""
    result = await conn.execute(
        sa.update(deliveries)
        .where(deliveries.c.campaign_id == campaign_id)
        .where(deliveries.c.subscriber_id == subscriber_id)
        .where(
            deliveries.c.status.in_(
                [DeliveryStatus.SENT, DeliveryStatus.FAILED, DeliveryStatus.BOUNCED]
            )
        )
        .values(
            status=DeliveryStatus.BOUNCED,
            last_code=code,
            last_response=response[:500],
            updated_at=now,
        )
    )
    return bool(result.rowcount)


async def highest_subscriber(
    conn: AsyncConnection, campaign_id: int, *, outside_sample: bool = False
) -> int:
    """The highest subscriber id with a row in the campaign's ledger (0 when none); with
    ``outside_sample``, among rows not in a subject test's sample (the rest's fan-out)."""
    query = sa.select(sa.func.max(deliveries.c.subscriber_id)).where(
        deliveries.c.campaign_id == campaign_id
    )
    if outside_sample:
        query = query.where(deliveries.c.subject_variant.is_(None))
    result = await conn.execute(query)
    return int(result.scalar() or 0)


async def latest_delivery_to(conn: AsyncConnection, address: str) -> tuple[int, int] | None:
    """(campaign id, subscriber id) of the latest campaign mail that left for ``address``.

    For provider reports that name only the recipient, in whatever spelling: the look-up goes
    through the address's identity key (shared/addresses.py).
    """
    result = await conn.execute(
        sa.select(deliveries.c.campaign_id, deliveries.c.subscriber_id)
        .join(subscribers, subscribers.c.id == deliveries.c.subscriber_id)
        .where(subscribers.c.email_key == address_identity(address))
        .where(
            deliveries.c.status.in_(
                [DeliveryStatus.SENT, DeliveryStatus.FAILED, DeliveryStatus.BOUNCED]
            )
        )
        .order_by(sa.func.coalesce(deliveries.c.sent_at, deliveries.c.updated_at).desc())
        .order_by(deliveries.c.id.desc())
        .limit(1)
    )
    row = result.first()
    return (int(row.campaign_id), int(row.subscriber_id)) if row else None


async def subscriber_key(conn: AsyncConnection, subscriber_id: int) -> str | None:
    """The pseudonymous key of a subscriber (events name residents by it), or None."""
    result = await conn.execute(
        sa.select(subscribers.c.key).where(subscribers.c.id == subscriber_id)
    )
    key = result.scalar_one_or_none()
    return str(key) if key is not None else None
