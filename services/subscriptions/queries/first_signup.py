"""The first sign-up of an address on PostgreSQL, in two statements on the driver connection.

Most sign-ups are an address's first. Through the ORM session they cost eight round trips
(BEGIN, six statements, COMMIT) and most of a millisecond of CPU in SQLAlchemy's execution
layer per statement; here the same rows are written by one read (``probe``) and one insert of
every row (``insert``, one statement and so one transaction), in SQL text run by asyncpg
directly.

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
from services.subscriptions.queries.lists import ListRow, list_row
from shared.statuses import SubscriberStatus, SubscriptionStatus

# One row whatever is found: whether the address is erased or known, the site's id, and the
# public lists among the slugs (one row each; none found: one row of NULLs).
_PROBE = """
SELECT
    EXISTS (SELECT 1 FROM suppressions WHERE email_hash = $1) AS suppressed,
    EXISTS (SELECT 1 FROM subscribers WHERE email_key = $2) AS known,
    (SELECT id FROM member_sites WHERE key = $3) AS site_id,
    l.id, l.slug, l.name_da, l.name_sv, l.name_en, l.double_optin, l.youth, l.youth_fields
FROM (SELECT 1) AS probe
LEFT JOIN mailing_lists AS l ON l.is_public AND l.slug = ANY($4::text[])
ORDER BY l.slug
"""

# $1 key, $2 email, $3 email_key, $4 name, $5 language, $6 source_site_id, $7 custom_values
# (JSON), $8 municipality, $9 now; $10 the pending subscriptions' list ids; $11..$19 the
# consent records' columns, one array element per record; $20 the kept mail's job id, $21 the
# mail; $22 and $23 the statuses of the subscriber (active) and of its subscriptions (pending).
_INSERT = """
WITH subscriber AS (
    INSERT INTO subscribers (
        key, email, email_key, name, language, status, source_site_id, custom_values,
        municipality, created_at, updated_at
    )
    VALUES ($1, $2, $3, $4, $5, $22, $6, $7::jsonb, $8, $9, $9)
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
class AddressProbe:
    """What a first sign-up needs to know before it writes."""

    suppressed: bool
    known: bool
    site_id: int | None
    lists: tuple[ListRow, ...]


async def probe(
    driver: Any, *, email_hash: str, email_key: str, site_key: str | None, slugs: Sequence[str]
) -> AddressProbe:
    """The address's standing, the site's id and the public lists among ``slugs``."""
    rows = await driver.fetch(_PROBE, email_hash, email_key, site_key, list(slugs))
    first = rows[0]
    lists = tuple(list_row(row) for row in rows if row["id"] is not None)
    site_id = first["site_id"]
    return AddressProbe(
        bool(first["suppressed"]),
        bool(first["known"]),
        int(site_id) if site_id is not None else None,
        lists,
    )


@dataclass(frozen=True, slots=True)
class NewSubscriber:
    """The subscriber row of a first sign-up, as the general path's insert would write it."""

    key: str
    email: str
    email_key: str
    name: str | None
    language: str
    source_site_id: int | None
    custom_values: str | None  # JSON
    municipality: str | None


async def insert(
    driver: Any,
    subscriber: NewSubscriber,
    *,
    list_ids: Sequence[int],
    consent: Sequence[ConsentRecord],
    outbox_job_id: str,
    outbox_mail: str,
    now: datetime,
) -> int:
    """Insert the subscriber, its pending subscriptions, its consent records and the kept
    mail in one statement; the subscriber's id. Raise AddressTaken when a concurrent insert
    of any spelling of the address came first."""
    try:
        value: int = await driver.fetchval(
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
            list(list_ids),
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
        )
    except UniqueViolationError:
        raise AddressTaken from None
    return value


async def forget_mail(driver: Any, job_id: str) -> None:
    """Drop a kept mail that is not to be sent after all."""
    await driver.execute("DELETE FROM mail_outbox WHERE job_id = $1", job_id)
