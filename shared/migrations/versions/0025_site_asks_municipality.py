"""member sites: asks_municipality, whether the sign-up form offers the municipality field

Revision ID: 0025_site_asks_municipality
Revises: 0024_youth_lists
Create Date: 2026-11-29 21:40:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0025_site_asks_municipality"
down_revision: str | None = "0024_youth_lists"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Off for every existing site: its form keeps looking as it did until staff turn it on.
    op.add_column(
        "member_sites",
        sa.Column("asks_municipality", sa.Boolean(), server_default=sa.false(), nullable=False),
    )


def downgrade() -> None:
    op.drop_column("member_sites", "asks_municipality")
