"""subscribers: email_key, one subscriber per mailbox; merge spellings of one address

Revision ID: 0007_address_identity
Revises: 0006_deliveries_subscriber
Create Date: 2026-11-29 11:00:00.000000

Until now ``Case.Test@example.dk`` and ``case.test@example.dk`` could be two subscribers of one
mailbox. This revision stores each address's identity key (shared/addresses.py) and merges the
subscribers that share one: the earliest row survives with the address as it was typed there,
lists are united, consent records and ledger rows move to it. A subscriber whose address was
erased under another spelling is erased now, as that request asked.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op

from shared.addresses import ADDRESS_HASH_SALT, address_digest, address_identity

revision: str = '0007_address_identity'
down_revision: str | None = '0006_deliveries_subscriber'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TS = sa.DateTime(timezone=True)

# The tables as this revision finds them (not shared.schema, which moves on).
_subscribers = sa.table(
    'subscribers',
    sa.column('id'), sa.column('email'), sa.column('email_key'), sa.column('name'),
    sa.column('language'), sa.column('status'), sa.column('source_site_id'),
    sa.column('created_at', _TS), sa.column('updated_at', _TS), sa.column('municipality'),
    sa.column('custom_values', sa.JSON()),
)
_subscriptions = sa.table(
    'subscriptions',
    sa.column('subscriber_id'), sa.column('list_id'), sa.column('status'),
    sa.column('source_site_id'), sa.column('requested_at', _TS), sa.column('confirmed_at', _TS),
    sa.column('unsubscribed_at', _TS),
)
_consent_events = sa.table('consent_events', sa.column('subscriber_id'))
_deliveries = sa.table('deliveries', sa.column('campaign_id'), sa.column('subscriber_id'))
_suppressions = sa.table('suppressions', sa.column('email_hash'))
_audit_log = sa.table(
    'audit_log', sa.column('at', _TS), sa.column('actor'), sa.column('action'),
    sa.column('subscriber_ref'), sa.column('details', sa.JSON()),
)


def upgrade() -> None:
    op.add_column('subscribers', sa.Column('email_key', sa.String(length=320), nullable=True))
    _merge_and_fill(op.get_bind())
    # SQLite needs a table copy to make a column NOT NULL; env.py turns foreign keys off for
    # migrations so the copy's DROP TABLE cascades nowhere.
    with op.batch_alter_table('subscribers') as batch:
        batch.alter_column('email_key', existing_type=sa.String(length=320), nullable=False)
    op.create_index('ix_subscribers_email_key', 'subscribers', ['email_key'], unique=True)


def downgrade() -> None:
    # Merged subscribers stay merged: their rows are gone and nothing says how they were spelt.
    op.drop_index('ix_subscribers_email_key', table_name='subscribers')
    with op.batch_alter_table('subscribers') as batch:
        batch.drop_column('email_key')


def _merge_and_fill(conn: sa.Connection) -> None:
    now = datetime.now(UTC)
    rows = conn.execute(
        sa.select(_subscribers).order_by(_subscribers.c.created_at, _subscribers.c.id)
    ).mappings().all()
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        groups[address_identity(row['email'])].append(dict(row))
    suppressed = set(conn.execute(sa.select(_suppressions.c.email_hash)).scalars())
    for key, members in groups.items():
        survivor, losers = members[0], members[1:]
        if losers:
            _merge(conn, survivor, losers, now)
        _repoint_legacy_audit(conn, members)
        if address_digest(survivor['email']) in suppressed:
            _complete_erasure(conn, survivor['id'], address_digest(survivor['email']), now)
            continue
        conn.execute(
            sa.update(_subscribers)
            .where(_subscribers.c.id == survivor['id'])
            .values(email_key=key)
        )


def _merge(
    conn: sa.Connection, survivor: dict[str, Any], losers: list[dict[str, Any]], now: datetime
) -> None:
    """Fold the later rows of one mailbox into the earliest."""
    members = [survivor, *losers]
    loser_ids = [row['id'] for row in losers]
    values: dict[str, Any] = {'updated_at': now}
    # A bounce or block of one spelling is a bounce or block of the mailbox.
    stopped = [row['status'] for row in members if row['status'] != 'active']
    if stopped:
        values['status'] = 'bounced' if 'bounced' in stopped else stopped[0]
    for column in ('name', 'municipality', 'source_site_id'):
        if survivor[column] is None:
            values[column] = next((r[column] for r in losers if r[column] is not None), None)
    custom: dict[str, Any] = {}
    for row in reversed(members):  # the earliest row's values win
        custom.update(row['custom_values'] or {})
    values['custom_values'] = custom or None
    conn.execute(
        sa.update(_subscribers).where(_subscribers.c.id == survivor['id']).values(**values)
    )
    _merge_subscriptions(conn, survivor['id'], [row['id'] for row in members])
    conn.execute(
        sa.update(_consent_events)
        .where(_consent_events.c.subscriber_id.in_(loser_ids))
        .values(subscriber_id=survivor['id'])
    )
    # Ledger rows follow unless the survivor has its own for that campaign; those stay as
    # they are after an erasure: a number and a status that lead to nobody.
    taken = sa.select(_deliveries.c.campaign_id).where(
        _deliveries.c.subscriber_id == survivor['id']
    ).scalar_subquery()
    conn.execute(
        sa.update(_deliveries)
        .where(_deliveries.c.subscriber_id.in_(loser_ids), _deliveries.c.campaign_id.not_in(taken))
        .values(subscriber_id=survivor['id'])
    )
    conn.execute(sa.delete(_subscribers).where(_subscribers.c.id.in_(loser_ids)))
    conn.execute(
        sa.insert(_audit_log).values(
            at=now,
            actor='system',
            action='merged',
            subscriber_ref=address_digest(survivor['email']),
            details={'subscribers': len(members)},
        )
    )


def _merge_subscriptions(conn: sa.Connection, survivor_id: int, member_ids: list[int]) -> None:
    """One subscription per list: the mailbox owner's latest decision, earliest consent kept."""
    by_list: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for row in conn.execute(
        sa.select(_subscriptions).where(_subscriptions.c.subscriber_id.in_(member_ids))
    ).mappings():
        by_list[row['list_id']].append(dict(row))
    for list_id, candidates in by_list.items():
        chosen = dict(_decide(candidates))
        chosen['subscriber_id'] = survivor_id
        conn.execute(
            sa.delete(_subscriptions).where(
                _subscriptions.c.subscriber_id.in_(member_ids),
                _subscriptions.c.list_id == list_id,
            )
        )
        conn.execute(sa.insert(_subscriptions).values(**chosen))
    # Anything left (there should be nothing) must not block deleting the merged rows.
    conn.execute(
        sa.delete(_subscriptions).where(
            _subscriptions.c.subscriber_id.in_([i for i in member_ids if i != survivor_id])
        )
    )


def _decide(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Of several subscriptions to one list: the latest unsubscribe when it came after every
    confirmation, else the earliest confirmation since the last unsubscribe, else the earliest
    request."""
    unsubscribed = [r for r in rows if r['status'] == 'unsubscribed']
    confirmed = [r for r in rows if r['status'] == 'confirmed']
    last_out = max(
        unsubscribed, key=lambda r: _aware(r['unsubscribed_at'] or r['requested_at']), default=None
    )
    out_at = _aware(last_out['unsubscribed_at'] or last_out['requested_at']) if last_out else None
    standing = [
        r for r in confirmed
        if out_at is None or _aware(r['confirmed_at'] or r['requested_at']) > out_at
    ]
    if standing:
        return min(standing, key=lambda r: _aware(r['confirmed_at'] or r['requested_at']))
    if last_out is not None:
        return last_out
    return min(rows, key=lambda r: _aware(r['requested_at']))


def _aware(value: datetime) -> datetime:
    # SQLite hands back naive datetimes; they were written in UTC.
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _repoint_legacy_audit(conn: sa.Connection, members: list[dict[str, Any]]) -> None:
    """Audit entries written under the old digest (the lower-cased address) move to the new one.

    The two differ only for local parts where lower-casing and case-folding disagree.
    """
    for row in members:
        legacy = hashlib.sha256(
            (ADDRESS_HASH_SALT + row['email'].strip().lower()).encode()
        ).hexdigest()
        current = address_digest(row['email'])
        if legacy != current:
            conn.execute(
                sa.update(_audit_log)
                .where(_audit_log.c.subscriber_ref == legacy)
                .values(subscriber_ref=current)
            )


def _complete_erasure(conn: sa.Connection, subscriber_id: int, digest: str, now: datetime) -> None:
    """The address was erased under another spelling: this row is erased too."""
    conn.execute(sa.delete(_consent_events).where(_consent_events.c.subscriber_id == subscriber_id))
    conn.execute(sa.delete(_subscriptions).where(_subscriptions.c.subscriber_id == subscriber_id))
    conn.execute(sa.delete(_subscribers).where(_subscribers.c.id == subscriber_id))
    conn.execute(
        sa.insert(_audit_log).values(
            at=now, actor='system', action='erased', subscriber_ref=digest,
            details={'reason': 'earlier_erasure_of_another_spelling'},
        )
    )
