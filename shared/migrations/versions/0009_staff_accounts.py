"""staff accounts: passwords, active flag; token last use; staff audit trail

Revision ID: 0009_staff_accounts
Revises: 0008_campaign_failure
Create Date: 2026-11-29 11:30:00.000000

Staff sign in to the staff app with a password (argon2id) and may be deactivated (login
throttling lives in Redis, so it treats unknown addresses exactly like known ones). API tokens record when they were last used. Staff
actions are recorded in ``staff_audit``, owned by campaigns (``audit_log`` is the residents'
GDPR trail, owned by subscriptions).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0009_staff_accounts'
down_revision: str | None = '0008_campaign_failure'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TS = sa.DateTime(timezone=True)
_Id = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    with op.batch_alter_table('staff_users') as batch:
        batch.add_column(sa.Column('password_hash', sa.String(255), nullable=True))
        batch.add_column(
            sa.Column('active', sa.Boolean(), nullable=False, server_default=sa.true())
        )
        batch.add_column(
            sa.Column(
                'must_change_password', sa.Boolean(), nullable=False, server_default=sa.false()
            )
        )
        batch.add_column(sa.Column('last_login_at', _TS, nullable=True))
    with op.batch_alter_table('api_tokens') as batch:
        batch.add_column(sa.Column('last_used_at', _TS, nullable=True))
    op.create_table(
        'staff_audit',
        sa.Column('id', _Id, primary_key=True, autoincrement=True),
        sa.Column('at', _TS, nullable=False),
        sa.Column('actor', sa.String(64), nullable=False),
        sa.Column('action', sa.String(64), nullable=False),
        sa.Column('object', sa.String(128), nullable=False, server_default=''),
        sa.Column('details', sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_staff_audit')),
        comment='owner: campaigns',
    )
    op.create_index('ix_staff_audit_at', 'staff_audit', ['at'])
    op.create_index('ix_staff_audit_actor', 'staff_audit', ['actor'])


def downgrade() -> None:
    op.drop_index('ix_staff_audit_actor', table_name='staff_audit')
    op.drop_index('ix_staff_audit_at', table_name='staff_audit')
    op.drop_table('staff_audit')
    with op.batch_alter_table('api_tokens') as batch:
        batch.drop_column('last_used_at')
    with op.batch_alter_table('staff_users') as batch:
        for column in (
            'last_login_at', 'must_change_password',
            'active', 'password_hash',
        ):
            batch.drop_column(column)
