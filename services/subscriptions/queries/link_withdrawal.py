"""The unsubscribe link (and RFC 8058 one-click) on PostgreSQL, in one statement on the
driver connection.

Through the ORM session a withdrawal costs nine round trips (BEGIN, seven statements, COMMIT)
and most of a millisecond of CPU in SQLAlchemy per statement. Here one statement (``leave``)
finds the subscriber by the link's key, ends the subscriptions, keeps the subscriber's count of
confirmed lists, touches it, appends the consent records (in the subscriber's language) and the
audit entry, and reads the subscriber and the lists the page names; one statement is one
transaction. The audit entry names the address by its salted digest (shared.addresses.
address_digest), computed from the stored identity key, which is the address's identity
(every write of ``email`` writes ``email_key = address_identity(email)``).

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
from shared.addresses import ADDRESS_HASH_SALT
from shared.statuses import SubscriptionStatus

# $1 the link's subscriber key, $2 the lists to leave (NULL: every list), $3 now, $4
# unsubscribed, $5 confirmed; the consent records' columns but the list and the language (the
# subscriber's): $6 event, $7 site, $8 form, $9 text version, $10 IP, $11 consented by; the
# audit entry: $12 actor, $13 action, $14 the address digest's salt, $15 via, $16 campaign id
# (NULL: none); $17 the lists the page names. One row per list read (none: one row of NULLs
# but the subscriber's); no row when no subscriber has the key.
_LEAVE = """
WITH subscriber AS (
    SELECT id, key, email, email_key, name, language, status FROM subscribers WHERE key = $1
), target AS (
    SELECT list_id, status FROM subscriptions
    WHERE subscriber_id = (SELECT id FROM subscriber)
        AND status <> $4
        AND ($2::bigint[] IS NULL OR list_id = ANY($2::bigint[]))
    FOR UPDATE
), left_lists AS (
    UPDATE subscriptions AS s SET status = $4, unsubscribed_at = $3
    FROM target
    WHERE s.subscriber_id = (SELECT id FROM subscriber) AND s.list_id = target.list_id
    RETURNING s.list_id, target.status AS was
), counted AS (
    UPDATE subscribers SET
        confirmed_lists = confirmed_lists - (SELECT count(*) FROM left_lists WHERE was = $5),
        updated_at = $3
    WHERE id = (SELECT id FROM subscriber) AND EXISTS (SELECT 1 FROM left_lists)
), consented AS (
    INSERT INTO consent_events (
        subscriber_id, list_id, event, at, source_site_id, form, consent_text_version,
        language, ip, consented_by
    )
    SELECT subscriber.id, left_lists.list_id, $6, $3, $7, $8, $9, subscriber.language, $10, $11
    FROM subscriber, left_lists ORDER BY left_lists.list_id
), audited AS (
    INSERT INTO audit_log (at, actor, action, subscriber_ref, details)
    SELECT $3, $12, $13,
        encode(sha256(convert_to($14::text || subscriber.email_key, 'UTF8')), 'hex'),
        CASE
            WHEN $16::bigint IS NULL
                THEN json_build_object('via', $15::text, 'lists', count(*))
            ELSE json_build_object('via', $15::text, 'lists', count(*), 'campaign_id', $16::bigint)
        END
    FROM subscriber, left_lists GROUP BY subscriber.email_key HAVING count(*) > 0
), named AS (
    SELECT l.id, l.slug, l.name_da, l.name_sv, l.name_en, l.double_optin, l.youth,
        l.youth_fields, left_lists.list_id IS NOT NULL AS left_now
    FROM mailing_lists AS l LEFT JOIN left_lists ON left_lists.list_id = l.id
    WHERE l.id = ANY($17::bigint[]) OR left_lists.list_id IS NOT NULL
)
SELECT subscriber.id AS subscriber_id, subscriber.key AS subscriber_key,
    subscriber.email AS subscriber_email, subscriber.name AS subscriber_name,
    subscriber.language AS subscriber_language, subscriber.status AS subscriber_status, named.*
FROM subscriber LEFT JOIN named ON true
ORDER BY named.slug
"""


@dataclass(frozen=True, slots=True)
class Withdrawal:
    """The consent records and the audit entry of a withdrawal, as every record of it is
    alike but for its list and language (``enrolment.withdrawal_consent``,
    ``withdrawal_details``)."""

    consent: ConsentRecord  # its list_id and language are not used
    actor: str
    action: str
    via: str
    campaign_id: int | None


async def leave(
    driver: Any,
    subscriber_key: str,
    list_ids: Collection[int] | None,
    *,
    withdrawal: Withdrawal,
    named: Collection[int],
    now: datetime,
) -> tuple[SubscriberRow | None, list[int], list[ListRow]]:
    """End the subscriptions among ``list_ids`` (None: every list) of the subscriber with this
    key and record it; the subscriber (None: nobody has the key, nothing changed), the ids of
    the lists this statement ended, and the rows of those and of ``named``, in slug order."""
    record = withdrawal.consent
    rows = await driver.fetch(
        _LEAVE,
        subscriber_key,
        None if list_ids is None else sorted(list_ids),
        now,
        str(SubscriptionStatus.UNSUBSCRIBED),
        str(SubscriptionStatus.CONFIRMED),
        str(record.event),
        record.source_site_id,
        record.form,
        record.consent_text_version,
        record.ip,
        record.consented_by,
        withdrawal.actor,
        withdrawal.action,
        ADDRESS_HASH_SALT,
        withdrawal.via,
        withdrawal.campaign_id,
        sorted(named),
    )
    if not rows:
        return None, [], []
    first = rows[0]
    subscriber = SubscriberRow(
        int(first["subscriber_id"]),
        first["subscriber_key"],
        first["subscriber_email"],
        first["subscriber_name"],
        first["subscriber_language"],
        first["subscriber_status"],
    )
    lists = [row for row in rows if row["id"] is not None]
    changed = sorted(int(row["id"]) for row in lists if row["left_now"])
    return subscriber, changed, [list_row(row) for row in lists]
