"""The unsubscribe link (and RFC 8058 one-click) on PostgreSQL, in three statements on the
driver connection inside one transaction.

Through the ORM session a withdrawal costs nine round trips (BEGIN, seven statements, COMMIT)
and most of a millisecond of CPU in SQLAlchemy per statement. Here the same statements run as
SQL text on asyncpg, the independent ones merged: the subscriber's look-up with the update of
its subscriptions (``leave``); the lock of the subscriber row (``lock_subscriber``), which as
in ``queries.eligibility.recount_confirmed_lists`` comes before the count, in a statement of
its own, so that the count's snapshot sees every concurrent change committed; then the count
with ``updated_at``, the consent records, the audit entry and the lists the page names
(``record``). tests/subscriptions/test_link_withdrawal.py compares the rows with the general
path's (``enrolment.withdraw``).
"""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from services.subscriptions.queries.consent import ConsentRecord
from services.subscriptions.queries.lists import ListRow
from services.subscriptions.queries.subscribers import SubscriberRow
from shared.statuses import SubscriptionStatus

# $1 the subscriber's key, $2 the lists to leave (NULL: every list), $3 now, $4 unsubscribed.
_LEAVE = """
WITH member AS (
    SELECT id, key, email, name, language, status FROM subscribers WHERE key = $1
), left_lists AS (
    UPDATE subscriptions AS s SET status = $4, unsubscribed_at = $3
    FROM member
    WHERE s.subscriber_id = member.id
        AND s.status <> $4
        AND ($2::bigint[] IS NULL OR s.list_id = ANY($2::bigint[]))
    RETURNING s.list_id
)
SELECT member.*, ARRAY(SELECT list_id FROM left_lists ORDER BY list_id) AS changed
FROM member
"""

_LOCK_SUBSCRIBER = "SELECT id FROM subscribers WHERE id = $1 FOR UPDATE"

_LISTS = """
SELECT id, slug, name_da, name_sv, name_en, double_optin, youth, youth_fields
FROM mailing_lists WHERE id = ANY($1::bigint[]) ORDER BY slug
"""

# $1 subscriber id, $2 confirmed, $3 now; $4..$12 the consent records' columns, one array
# element per record; $13..$16 the audit entry (actor, action, subscriber_ref, details); $17 the
# ids of the lists to read.
_RECORD = """
WITH recounted AS (
    UPDATE subscribers SET
        confirmed_lists = (
            SELECT count(*) FROM subscriptions WHERE subscriber_id = $1 AND status = $2
        ),
        updated_at = $3
    WHERE id = $1
), consented AS (
    INSERT INTO consent_events (
        subscriber_id, list_id, event, at, source_site_id, form, consent_text_version,
        language, ip, consented_by
    )
    SELECT $1, record.list_id, record.event, record.at, record.source_site_id, record.form,
        record.consent_text_version, record.language, record.ip, record.consented_by
    FROM unnest(
        $4::bigint[], $5::text[], $6::timestamptz[], $7::bigint[], $8::text[], $9::text[],
        $10::text[], $11::text[], $12::text[]
    ) WITH ORDINALITY AS record(
        list_id, event, at, source_site_id, form, consent_text_version, language, ip,
        consented_by, position
    )
    ORDER BY record.position
), audited AS (
    INSERT INTO audit_log (at, actor, action, subscriber_ref, details)
    VALUES ($3, $13, $14, $15, $16::json)
)
SELECT id, slug, name_da, name_sv, name_en, double_optin, youth, youth_fields
FROM mailing_lists WHERE id = ANY($17::bigint[]) ORDER BY slug
"""


@dataclass(frozen=True, slots=True)
class Left:
    """Whose link it was, and the lists this withdrawal ended."""

    subscriber: SubscriberRow
    changed: list[int]


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """The audit entry of a withdrawal, as ``audit.record`` would write it."""

    actor: str
    action: str
    subscriber_ref: str | None
    details: dict[str, Any]


async def leave(
    driver: Any, subscriber_key: str, list_ids: Collection[int] | None, now: datetime
) -> Left | None:
    """The subscriber with this key, and the subscriptions among ``list_ids`` (None: all) it
    ended; None when no subscriber has the key."""
    wanted = None if list_ids is None else sorted(list_ids)
    row = await driver.fetchrow(
        _LEAVE, subscriber_key, wanted, now, str(SubscriptionStatus.UNSUBSCRIBED)
    )
    if row is None:
        return None
    subscriber = SubscriberRow(
        int(row["id"]), row["key"], row["email"], row["name"], row["language"], row["status"]
    )
    return Left(subscriber, [int(list_id) for list_id in row["changed"]])


async def lock_subscriber(driver: Any, subscriber_id: int) -> None:
    """Lock the subscriber's row until the transaction ends."""
    await driver.execute(_LOCK_SUBSCRIBER, subscriber_id)


async def record(
    driver: Any,
    subscriber_id: int,
    *,
    consent: Sequence[ConsentRecord],
    audit: AuditEntry,
    list_ids: Collection[int],
    now: datetime,
) -> list[ListRow]:
    """Recount the subscriber's confirmed lists and touch it, append the consent records and
    the audit entry; the lists ``list_ids``, in slug order."""
    rows = await driver.fetch(
        _RECORD,
        subscriber_id,
        str(SubscriptionStatus.CONFIRMED),
        now,
        [record.list_id for record in consent],
        [str(record.event) for record in consent],
        [record.at for record in consent],
        [record.source_site_id for record in consent],
        [record.form for record in consent],
        [record.consent_text_version for record in consent],
        [record.language for record in consent],
        [record.ip for record in consent],
        [record.consented_by for record in consent],
        audit.actor,
        audit.action,
        audit.subscriber_ref,
        # As SQLAlchemy's JSON type writes it (json.dumps).
        json.dumps(audit.details),
        sorted(list_ids),
    )
    return [_list_row(row) for row in rows]


async def get_lists(driver: Any, list_ids: Collection[int]) -> list[ListRow]:
    """Lists by id, in slug order."""
    if not list_ids:
        return []
    return [_list_row(row) for row in await driver.fetch(_LISTS, sorted(list_ids))]


def _list_row(row: Any) -> ListRow:
    youth_fields = row["youth_fields"]
    return ListRow(
        int(row["id"]),
        row["slug"],
        row["name_da"],
        row["name_sv"],
        row["name_en"],
        bool(row["double_optin"]),
        bool(row["youth"]),
        json.loads(youth_fields) if youth_fields is not None else None,
    )
