"""rule-based segments: saved segments, the segments a campaign targets, indexes for the rules

Revision ID: 0015_segments
Revises: 0014_link_tracking
Create Date: 2026-11-29 18:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015_segments"
down_revision: str | None = "0014_link_tracking"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "segments",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("rules", sa.JSON(), nullable=False),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(64), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_segments"),
        sa.UniqueConstraint("name", name="uq_segments_name"),
        comment="owner: campaigns",
    )
    op.create_table(
        "campaign_segments",
        sa.Column(
            "campaign_id",
            Id,
            sa.ForeignKey(
                "campaigns.id",
                ondelete="CASCADE",
                name="fk_campaign_segments_campaign_id_campaigns",
            ),
        ),
        sa.Column(
            "segment_id",
            Id,
            sa.ForeignKey(
                "segments.id", ondelete="CASCADE", name="fk_campaign_segments_segment_id_segments"
            ),
        ),
        sa.PrimaryKeyConstraint("campaign_id", "segment_id", name="pk_campaign_segments"),
        comment="owner: campaigns",
    )
    op.create_index("ix_campaign_segments_segment", "campaign_segments", ["segment_id"])
    op.create_index("ix_subscribers_municipality", "subscribers", ["municipality"])
    op.create_index("ix_subscribers_source_site", "subscribers", ["source_site_id"])
    op.create_index("ix_subscribers_created_at", "subscribers", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_subscribers_created_at", table_name="subscribers")
    op.drop_index("ix_subscribers_source_site", table_name="subscribers")
    op.drop_index("ix_subscribers_municipality", table_name="subscribers")
    op.drop_index("ix_campaign_segments_segment", table_name="campaign_segments")
    op.drop_table("campaign_segments")
    op.drop_table("segments")
