"""deliveries: index on (status, updated_at) for the mailer's reconciler

Revision ID: 0004_deliveries_status_updated
Revises: 0003_consent_audit
Create Date: 2026-11-27 10:50:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = '0004_deliveries_status_updated'
down_revision: str | None = '0003_consent_audit'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # CREATE INDEX needs no table copy on SQLite, so no batch mode here.
    op.create_index('ix_deliveries_status_updated', 'deliveries', ['status', 'updated_at'])


def downgrade() -> None:
    op.drop_index('ix_deliveries_status_updated', table_name='deliveries')
