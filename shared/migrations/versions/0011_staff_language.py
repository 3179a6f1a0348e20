"""staff_users: the language each staff user chose for the staff app (da, sv, en; NULL: the
browser's)

Revision ID: 0011_staff_language
Revises: 0010_one_pause_state
Create Date: 2026-11-29 14:20:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011_staff_language"
down_revision: str | None = "0010_one_pause_state"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A nullable column is added in place on SQLite too; no batch mode needed.
    op.add_column("staff_users", sa.Column("language", sa.String(5), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("staff_users") as batch:
        batch.drop_column("language")
