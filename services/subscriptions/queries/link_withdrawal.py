"""The unsubscribe link (and RFC 8058 one-click) on PostgreSQL, in two statements on the
driver connection.

Through the ORM session a withdrawal costs nine round trips (BEGIN, seven statements, COMMIT)
and most of a millisecond of CPU in SQLAlchemy per statement. Here: the subscriber's look-up
(``get_subscriber``: the audit entry names the address by a salted digest computed here), then
one statement (``leave``) that ends the subscriptions, keeps the subscriber's count of
confirmed lists, touches it, appends the consent records and the audit entry, and reads the
lists the page names; one statement is one transaction.

The count: the general path locks the subscriber and counts again in a later statement
(``queries.eligibility``), since a count in the statement that ends the subscriptions cannot
see that statement's own changes. Here the count is lowered by the confirmed subscriptions
this statement ended, read under their row locks (``FOR UPDATE``), on the subscriber row as it
is once its lock is granted (PostgreSQL re-reads an updated row for a waiting UPDATE): the
same number as a recount, whether a concurrent change to another subscription of the same
subscriber commits before or after (test_confirmed_lists.py). Subscription rows are locked
before the subscriber row, as everywhere else.

tests/subscriptions/test_link_withdrawal.py compares the rows with the general path's
(``enrolment.withdraw``).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from services.subscriptions.queries.consent import ConsentRecord
from services.subscriptions.queries.lists import ListRow, list_row
from services.subscriptions.queries.subscribers import SubscriberRow
from shared.statuses import SubscriptionStatus

_SUBSCRIBER = "SELECT id, key, email, name, language, status FROM subscribers WHERE key = $1"

# $1 subscriber id, $2 the lists to leave (NULL: every list), $3 now, $4 unsubscribed,
# $5 confirmed; the consent records' columns but the list: $6 event, $7 site, $8 form,
# $9 text version, $10 language, $11 IP, $12 consented by; the audit entry: $13 actor,
# $14 action, $15 subscriber ref, $16 via, $17 campaign id (NULL: none); $18 the lists the
# page names.
_LEAVE = """
WITH target AS (
    SELECT list_id, status FROM subscriptions
    WHERE subscriber_id = $1
        AND status <> $4
        AND ($2::bigint[] IS NULL OR list_id = ANY($2::bigint[]))
    FOR UPDATE
), left_lists AS (
    UPDATE subscriptions AS s SET status = $4, unsubscribed_at = $3
    FROM target
    WHERE s.subscriber_id = $1 AND s.list_id = target.list_id
    RETURNING s.list_id, target.status AS was
), counted AS (
    UPDATE subscribers SET
        confirmed_lists = confirmed_lists - (SELECT count(*) FROM left_lists WHERE was = $5),
        updated_at = $3
    WHERE id = $1 AND EXISTS (SELECT 1 FROM left_lists)
), consented AS (
    INSERT INTO consent_events (
        subscriber_id, list_id, event, at, source_site_id, form, consent_text_version,
        language, ip, consented_by
    )
    SELECT $1, list_id, $6, $3, $7, $8, $9, $10, $11, $12
    FROM left_lists ORDER BY list_id
), audited AS (
    INSERT INTO audit_log (at, actor, action, subscriber_ref, details)
    SELECT $3, $13, $14, $15, CASE
        WHEN $17::bigint IS NULL
            THEN json_build_object('via', $16::text, 'lists', count(*))
        ELSE json_build_object('via', $16::text, 'lists', count(*), 'campaign_id', $17::bigint)
    END
    FROM left_lists HAVING count(*) > 0
)
SELECT l.id, l.slug, l.name_da, l.name_sv, l.name_en, l.double_optin, l.youth,
    l.youth_fields, left_lists.list_id IS NOT NULL AS left_now
FROM mailing_lists AS l LEFT JOIN left_lists ON left_lists.list_id = l.id
WHERE l.id = ANY($18::bigint[]) OR left_lists.list_id IS NOT NULL
ORDER BY l.slug
"""


@dataclass(frozen=True, slots=True)
class Withdrawal:
    """The consent records and the audit entry of a withdrawal, as every record of it is
    alike but for its list (``enrolment.withdrawal_consent``, ``withdrawal_details``)."""

    consent: ConsentRecord  # its list_id is not used
    actor: str
    action: str
    subscriber_ref: str | None
    via: str
    campaign_id: int | None


async def get_subscriber(driver: Any, key: str) -> SubscriberRow | None:
    """The subscriber with this opaque key."""
    row = await driver.fetchrow(_SUBSCRIBER, key)
    if row is None:
        return None
    return SubscriberRow(
        int(row["id"]), row["key"], row["email"], row["name"], row["language"], row["status"]
    )


async def leave(
    driver: Any,
    subscriber_id: int,
    list_ids: Collection[int] | None,
    *,
    withdrawal: Withdrawal,
    named: Collection[int],
    now: datetime,
) -> tuple[list[int], list[ListRow]]:
    """End the subscriptions among ``list_ids`` (None: every list) and record it; the ids of
    the lists this statement ended, and the rows of those and of ``named``, in slug order."""
    record = withdrawal.consent
    rows = await driver.fetch(
        _LEAVE,
        subscriber_id,
        None if list_ids is None else sorted(list_ids),
        now,
        str(SubscriptionStatus.UNSUBSCRIBED),
        str(SubscriptionStatus.CONFIRMED),
        str(record.event),
        record.source_site_id,
        record.form,
        record.consent_text_version,
        record.language,
        record.ip,
        record.consented_by,
        withdrawal.actor,
        withdrawal.action,
        withdrawal.subscriber_ref,
        withdrawal.via,
        withdrawal.campaign_id,
        sorted(named),
    )
    changed = sorted(int(row["id"]) for row in rows if row["left_now"])
    return changed, [list_row(row) for row in rows]
