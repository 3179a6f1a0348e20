"""campaigns: why a campaign is paused, so the one pause state carries the mailer's reason

Revision ID: 0010_one_pause_state
Revises: 0009_staff_accounts
Create Date: 2026-11-29 11:50:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010_one_pause_state"
down_revision: str | None = "0009_staff_accounts"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A nullable column is added in place on SQLite too; no batch mode needed.
    op.add_column("campaigns", sa.Column("pause_reason", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("campaigns") as batch:
        batch.drop_column("pause_reason")
