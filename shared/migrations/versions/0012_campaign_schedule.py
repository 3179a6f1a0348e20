"""campaigns: when a scheduled campaign starts (UTC) and the time zone staff chose it in

Revision ID: 0012_campaign_schedule
Revises: 0011_staff_language
Create Date: 2026-11-29 15:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012_campaign_schedule"
down_revision: str | None = "0011_staff_language"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Nullable columns are added in place on SQLite too; no batch mode needed.
    op.add_column("campaigns", sa.Column("scheduled_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("campaigns", sa.Column("schedule_zone", sa.String(64), nullable=True))
    # The scheduler looks for due campaigns every few seconds.
    op.create_index("ix_campaigns_status_scheduled_at", "campaigns", ["status", "scheduled_at"])


def downgrade() -> None:
    op.drop_index("ix_campaigns_status_scheduled_at", table_name="campaigns")
    with op.batch_alter_table("campaigns") as batch:
        batch.drop_column("schedule_zone")
        batch.drop_column("scheduled_at")
