"""subject tests: a campaign's other subjects, its test settings and outcome, the ledger's subject

Revision ID: 0022_ab_subjects
Revises: 0021_webhooks
Create Date: 2026-11-29 21:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0022_ab_subjects"
down_revision: str | None = "0021_webhooks"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("campaigns") as batch:
        batch.add_column(sa.Column("test_sample_percent", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("test_wait_seconds", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("test_metric", sa.String(8), nullable=True))
        batch.add_column(sa.Column("test_winner", sa.SmallInteger(), nullable=True))
        batch.add_column(sa.Column("test_decided_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("test_reason", sa.Text(), nullable=True))
    with op.batch_alter_table("deliveries") as batch:
        batch.add_column(sa.Column("subject_variant", sa.SmallInteger(), nullable=True))
    op.create_table(
        "campaign_test_subjects",
        sa.Column(
            "campaign_id",
            Id,
            sa.ForeignKey(
                "campaigns.id",
                ondelete="CASCADE",
                name="fk_campaign_test_subjects_campaign_id_campaigns",
            ),
        ),
        sa.Column("position", sa.SmallInteger()),
        sa.Column("subject", sa.String(998), nullable=False),
        sa.PrimaryKeyConstraint("campaign_id", "position", name="pk_campaign_test_subjects"),
        comment="owner: campaigns",
    )


def downgrade() -> None:
    op.drop_table("campaign_test_subjects")
    with op.batch_alter_table("deliveries") as batch:
        batch.drop_column("subject_variant")
    with op.batch_alter_table("campaigns") as batch:
        for column in (
            "test_reason",
            "test_decided_at",
            "test_winner",
            "test_metric",
            "test_wait_seconds",
            "test_sample_percent",
        ):
            batch.drop_column(column)
