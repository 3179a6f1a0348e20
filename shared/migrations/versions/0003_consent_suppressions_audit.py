"""subscribers: municipality and custom_values; consent_events, suppressions, audit_log tables

Revision ID: 0003_consent_audit
Revises: 0002_sites_custom_fields
Create Date: 2026-11-29 10:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0003_consent_audit'
down_revision: str | None = '0002_sites_custom_fields'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    # Plain ADD COLUMN, not batch mode: on SQLite a batch would copy and drop subscribers, and
    # with foreign keys on, that drop would cascade to every subscription.
    op.add_column('subscribers', sa.Column('municipality', sa.String(length=64), nullable=True))
    op.add_column('subscribers', sa.Column('custom_values', sa.JSON(), nullable=True))

    op.create_table('consent_events',
    sa.Column('id', _ID, autoincrement=True, nullable=False),
    sa.Column('subscriber_id', _ID, nullable=False),
    sa.Column('list_id', _ID, nullable=False),
    sa.Column('event', sa.String(length=16), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('source_site_id', _ID, nullable=True),
    sa.Column('form', sa.String(length=16), nullable=False),
    sa.Column('consent_text_version', sa.String(length=32), nullable=True),
    sa.Column('language', sa.String(length=2), nullable=False),
    sa.Column('ip', sa.String(length=45), nullable=True),
    sa.ForeignKeyConstraint(['list_id'], ['mailing_lists.id'], name=op.f('fk_consent_events_list_id_mailing_lists'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['source_site_id'], ['member_sites.id'], name=op.f('fk_consent_events_source_site_id_member_sites'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['subscriber_id'], ['subscribers.id'], name=op.f('fk_consent_events_subscriber_id_subscribers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_consent_events')),
    comment='owner: subscriptions'
    )
    op.create_index('ix_consent_events_subscriber', 'consent_events', ['subscriber_id', 'at'], unique=False)

    op.create_table('suppressions',
    sa.Column('email_hash', sa.String(length=64), nullable=False),
    sa.Column('reason', sa.String(length=32), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('email_hash', name=op.f('pk_suppressions')),
    comment='owner: subscriptions'
    )

    op.create_table('audit_log',
    sa.Column('id', _ID, autoincrement=True, nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('actor', sa.String(length=64), nullable=False),
    sa.Column('action', sa.String(length=32), nullable=False),
    sa.Column('subscriber_ref', sa.String(length=64), nullable=True),
    sa.Column('details', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_log')),
    comment='owner: subscriptions'
    )
    op.create_index('ix_audit_log_subscriber_ref', 'audit_log', ['subscriber_ref', 'at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_audit_log_subscriber_ref', table_name='audit_log')
    op.drop_table('audit_log')
    op.drop_table('suppressions')
    op.drop_index('ix_consent_events_subscriber', table_name='consent_events')
    op.drop_table('consent_events')
    # Plain DROP COLUMN (SQLite 3.35+) for the same reason as the plain ADD COLUMN above.
    op.drop_column('subscribers', 'custom_values')
    op.drop_column('subscribers', 'municipality')
