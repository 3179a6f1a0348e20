"""campaign_runs: why a campaign could not be sent (state 'failed'), for staff to read

Revision ID: 0008_campaign_failure
Revises: 0006_deliveries_subscriber
Create Date: 2026-11-29 11:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008_campaign_failure"
down_revision: str | None = "0007_address_identity"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A nullable column is added in place on SQLite too; no batch mode needed.
    op.add_column("campaign_runs", sa.Column("failure", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("campaign_runs") as batch:
        batch.drop_column("failure")
