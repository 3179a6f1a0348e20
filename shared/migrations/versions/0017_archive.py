"""campaigns: whether a sent campaign is shown in the public archive

Revision ID: 0017_archive
Revises: 0016_campaign_content
Create Date: 2026-11-29 18:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017_archive"
down_revision: str | None = "0016_campaign_content"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A NOT NULL column with a server default is added in place on SQLite too.
    op.add_column(
        "campaigns",
        sa.Column("archive_public", sa.Boolean(), nullable=False, server_default=sa.false()),
    )


def downgrade() -> None:
    with op.batch_alter_table("campaigns") as batch:
        batch.drop_column("archive_public")
