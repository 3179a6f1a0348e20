"""Segment counts at volume: the number of lists a subscriber is confirmed on, kept on the
subscriber with a partial index of the eligible, and custom values as JSONB on PostgreSQL

Revision ID: 0023_segment_speed
Revises: 0022_ab_subjects
Create Date: 2026-11-29 21:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "0023_segment_speed"
down_revision: str | None = "0022_ab_subjects"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The backfill: the same count the subscriptions service keeps from now on.
_BACKFILL = """
UPDATE subscribers SET confirmed_lists = (
    SELECT count(*) FROM subscriptions
    WHERE subscriptions.subscriber_id = subscribers.id AND subscriptions.status = 'confirmed')
WHERE EXISTS (
    SELECT 1 FROM subscriptions
    WHERE subscriptions.subscriber_id = subscribers.id AND subscriptions.status = 'confirmed')
"""
_ELIGIBLE = "status = 'active' AND confirmed_lists > 0"


def upgrade() -> None:
    op.add_column(
        "subscribers",
        sa.Column("confirmed_lists", sa.Integer(), nullable=False, server_default="0"),
    )
    op.execute(_BACKFILL)
    op.create_index(
        "ix_subscribers_eligible",
        "subscribers",
        ["id"],
        postgresql_where=sa.text(_ELIGIBLE),
        postgresql_include=["language", "municipality"],
        sqlite_where=sa.text(_ELIGIBLE),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.alter_column(
            "subscribers",
            "custom_values",
            type_=JSONB(),
            existing_type=sa.JSON(),
            postgresql_using="custom_values::jsonb",
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.alter_column(
            "subscribers",
            "custom_values",
            type_=sa.JSON(),
            existing_type=JSONB(),
            postgresql_using="custom_values::json",
        )
    op.drop_index("ix_subscribers_eligible", table_name="subscribers")
    with op.batch_alter_table("subscribers") as batch:
        batch.drop_column("confirmed_lists")
