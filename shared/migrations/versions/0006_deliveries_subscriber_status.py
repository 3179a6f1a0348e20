"""deliveries: index on (subscriber_id, status) for the mailer's hard-bounce suppression

Revision ID: 0006_deliveries_subscriber
Revises: 0005_list_welcome
Create Date: 2026-11-27 11:15:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = '0006_deliveries_subscriber'
down_revision: str | None = '0005_list_welcome'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # CREATE INDEX needs no table copy on SQLite, so no batch mode here.
    op.create_index('ix_deliveries_subscriber_status', 'deliveries', ['subscriber_id', 'status'])


def downgrade() -> None:
    op.drop_index('ix_deliveries_subscriber_status', table_name='deliveries')
