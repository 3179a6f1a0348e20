"""Youth lists: a list's youth flag and the custom fields minors may give; a subscriber's year
of birth, minor flag, guardian and age review; who gave a consent

Revision ID: 0024_youth_lists
Revises: 0023_segment_speed
Create Date: 2026-11-29 21:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0024_youth_lists"
down_revision: str | None = "0023_segment_speed"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ADD COLUMN, not batch mode: on SQLite a batch copies and drops the table, and with
    # foreign keys on that drop would cascade to the rows that point at it.
    op.add_column(
        "mailing_lists",
        sa.Column("youth", sa.Boolean(), server_default=sa.false(), nullable=False),
    )
    op.add_column("mailing_lists", sa.Column("youth_fields", sa.JSON(), nullable=True))
    op.add_column("subscribers", sa.Column("birth_year", sa.Integer(), nullable=True))
    op.add_column(
        "subscribers",
        sa.Column("minor", sa.Boolean(), server_default=sa.false(), nullable=False),
    )
    op.add_column("subscribers", sa.Column("guardian_email", sa.String(320), nullable=True))
    op.add_column(
        "subscribers",
        sa.Column("age_review_sent_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.add_column("consent_events", sa.Column("consented_by", sa.String(16), nullable=True))


def downgrade() -> None:
    # Plain DROP COLUMN (SQLite 3.35+) for the same reason.
    op.drop_column("consent_events", "consented_by")
    op.drop_column("subscribers", "age_review_sent_at")
    op.drop_column("subscribers", "guardian_email")
    op.drop_column("subscribers", "minor")
    op.drop_column("subscribers", "birth_year")
    op.drop_column("mailing_lists", "youth_fields")
    op.drop_column("mailing_lists", "youth")
