"""The first sign-up of an address on PostgreSQL, in one statement on the driver connection.

Most sign-ups are an address's first. Through the ORM session they cost eight round trips
(BEGIN, six statements, COMMIT) and most of a millisecond of CPU in SQLAlchemy's execution
layer per statement; here the same rows are written by one statement (``insert``, and so one
transaction) in SQL text run by asyncpg directly. What it needs to know beforehand comes
from what the process already holds: the member site (the admission looked it up) and the
public lists (public_lists.py, as last read). The statement writes only while those lists
still are what the caller saw (public, double opt-in, no youth list, the same slugs and
names) and the address is not erased; otherwise it writes nothing and says so, and an address
already known fails on its unique identity key: the general path then records the sign-up.

The rows are exactly those the general path writes for a new address (``queries.subscribers.
insert_subscriber``, ``queries.subscriptions.insert_pending_subscriptions``, ``queries.consent.
insert_consent_events``, ``queries.outbox.insert_outbox_mail``); tests/subscriptions/
test_first_signup.py compares both, row by row. The column lists follow shared.schema: a new
column with a value of its own must be added here too (that test fails until it is).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from asyncpg.exceptions import UniqueViolationError

from services.subscriptions.queries.consent import ConsentRecord
from services.subscriptions.queries.lists import ListRow
from shared.statuses import SubscriberStatus, SubscriptionStatus

# $1 key, $2 email, $3 email_key, $4 name, $5 language, $6 source_site_id, $7 custom_values
# (JSON), $8 municipality, $9 now; $10 the pending subscriptions' list ids; $11..$19 the
# consent records' columns, one array element per record; $20 the kept mail's job id, $21 the
# mail; $22 and $23 the statuses of the subscriber (active) and of its subscriptions (pending);
# $24 the address's digest (erased addresses are suppressed by it); $25..$28 the slugs and
# Danish, Swedish and English names of the lists $10 names, as the caller saw them. The
# subscriber's id, or NULL when nothing was written.
_INSERT = """
WITH standing AS (
    SELECT NOT EXISTS (SELECT 1 FROM suppressions WHERE email_hash = $24)
        AND (
            SELECT count(*)
            FROM mailing_lists AS l,
                unnest($10::bigint[], $25::text[], $26::text[], $27::text[], $28::text[])
                    AS seen(id, slug, name_da, name_sv, name_en)
            WHERE l.id = seen.id AND l.slug = seen.slug AND l.name_da = seen.name_da
                AND l.name_sv = seen.name_sv AND l.name_en = seen.name_en
                AND l.is_public AND l.double_optin AND NOT l.youth
        ) = cardinality($10::bigint[]) AS writes
), subscriber AS (
    INSERT INTO subscribers (
        key, email, email_key, name, language, status, source_site_id, custom_values,
        municipality, created_at, updated_at
    )
    SELECT $1, $2, $3, $4, $5, $22, $6, $7::jsonb, $8, $9, $9 FROM standing WHERE writes
    RETURNING id
), subscribed AS (
    INSERT INTO subscriptions (subscriber_id, list_id, status, source_site_id, requested_at)
    SELECT subscriber.id, wanted.list_id, $23, $6, $9
    FROM subscriber, unnest($10::bigint[]) AS wanted(list_id)
), consented AS (
    INSERT INTO consent_events (
        subscriber_id, list_id, event, at, source_site_id, form, consent_text_version,
        language, ip, consented_by
    )
    SELECT subscriber.id, record.list_id, record.event, record.at, record.source_site_id,
        record.form, record.consent_text_version, record.language, record.ip,
        record.consented_by
    FROM subscriber, unnest(
        $11::bigint[], $12::text[], $13::timestamptz[], $14::bigint[], $15::text[],
        $16::text[], $17::text[], $18::text[], $19::text[]
    ) WITH ORDINALITY AS record(
        list_id, event, at, source_site_id, form, consent_text_version, language, ip,
        consented_by, position
    )
    ORDER BY record.position
), kept AS (
    INSERT INTO mail_outbox (job_id, subscriber_id, mail, created_at)
    SELECT $20, subscriber.id, $21, $9 FROM subscriber
    ON CONFLICT (job_id) DO NOTHING
)
SELECT id FROM subscriber
"""


class AddressTaken(Exception):
    """A concurrent sign-up inserted the address first."""


@dataclass(frozen=True, slots=True)
class NewSubscriber:
    """The subscriber row of a first sign-up, as the general path's insert would write it."""

    key: str
    email: str
    email_key: str
    email_hash: str  # the address's digest, as suppressions hold erased addresses
    name: str | None
    language: str
    source_site_id: int | None
    custom_values: str | None  # JSON
    municipality: str | None


async def insert(
    driver: Any,
    subscriber: NewSubscriber,
    *,
    lists: Sequence[ListRow],
    consent: Sequence[ConsentRecord],
    outbox_job_id: str,
    outbox_mail: str,
    now: datetime,
) -> int | None:
    """Insert the subscriber, its pending subscriptions to ``lists`` (in id order), its
    consent records and the kept mail in one statement; the subscriber's id. None, with
    nothing written, when the address is erased or ``lists`` are no longer as given (public
    double opt-in lists, not for youth, with these slugs and names). Raise AddressTaken when
    the address (any spelling of it) is known, or a concurrent insert of it came first."""
    ordered = sorted(lists, key=lambda row: row.id)
    try:
        value: int | None = await driver.fetchval(
            _INSERT,
            subscriber.key,
            subscriber.email,
            subscriber.email_key,
            subscriber.name,
            subscriber.language,
            subscriber.source_site_id,
            subscriber.custom_values,
            subscriber.municipality,
            now,
            [row.id for row in ordered],
            [record.list_id for record in consent],
            [str(record.event) for record in consent],
            [record.at for record in consent],
            [record.source_site_id for record in consent],
            [record.form for record in consent],
            [record.consent_text_version for record in consent],
            [record.language for record in consent],
            [record.ip for record in consent],
            [record.consented_by for record in consent],
            outbox_job_id,
            outbox_mail,
            str(SubscriberStatus.ACTIVE),
            str(SubscriptionStatus.PENDING),
            subscriber.email_hash,
            [row.slug for row in ordered],
            [row.name_da for row in ordered],
            [row.name_sv for row in ordered],
            [row.name_en for row in ordered],
        )
    except UniqueViolationError:
        raise AddressTaken from None
    return value


async def forget_mail(driver: Any, job_id: str) -> None:
    """Drop a kept mail that is not to be sent after all."""
    await driver.execute("DELETE FROM mail_outbox WHERE job_id = $1", job_id)
