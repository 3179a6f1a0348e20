"""click and open tracking: a campaign's tracked links, clicks per (link, subscriber), opens

Revision ID: 0014_link_tracking
Revises: 0013_subscriber_search
Create Date: 2026-11-29 17:30:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014_link_tracking"
down_revision: str | None = "0013_subscriber_search"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.add_column(
        "campaigns",
        sa.Column("track_opens", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.create_table(
        "campaign_links",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column(
            "campaign_id",
            Id,
            sa.ForeignKey(
                "campaigns.id",
                ondelete="CASCADE",
                name="fk_campaign_links_campaign_id_campaigns",
            ),
            nullable=False,
        ),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_campaign_links"),
        sa.UniqueConstraint("campaign_id", "position", name="uq_campaign_links_campaign_id"),
        comment="owner: mailer",
    )
    op.create_table(
        "link_clicks",
        sa.Column(
            "link_id",
            Id,
            sa.ForeignKey(
                "campaign_links.id",
                ondelete="CASCADE",
                name="fk_link_clicks_link_id_campaign_links",
            ),
        ),
        sa.Column("subscriber_id", Id),
        sa.Column(
            "campaign_id",
            Id,
            sa.ForeignKey(
                "campaigns.id", ondelete="CASCADE", name="fk_link_clicks_campaign_id_campaigns"
            ),
            nullable=False,
        ),
        sa.Column("clicks", sa.Integer(), nullable=False),
        sa.Column("first_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("link_id", "subscriber_id", name="pk_link_clicks"),
        comment="owner: campaigns",
    )
    op.create_index(
        "ix_link_clicks_subscriber_campaign", "link_clicks", ["subscriber_id", "campaign_id"]
    )
    op.create_index("ix_link_clicks_campaign", "link_clicks", ["campaign_id"])
    op.create_table(
        "campaign_opens",
        sa.Column(
            "campaign_id",
            Id,
            sa.ForeignKey(
                "campaigns.id", ondelete="CASCADE", name="fk_campaign_opens_campaign_id_campaigns"
            ),
        ),
        sa.Column("subscriber_id", Id),
        sa.Column("opens", sa.Integer(), nullable=False),
        sa.Column("first_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("campaign_id", "subscriber_id", name="pk_campaign_opens"),
        comment="owner: campaigns",
    )


def downgrade() -> None:
    op.drop_table("campaign_opens")
    op.drop_index("ix_link_clicks_campaign", table_name="link_clicks")
    op.drop_index("ix_link_clicks_subscriber_campaign", table_name="link_clicks")
    op.drop_table("link_clicks")
    op.drop_table("campaign_links")
    with op.batch_alter_table("campaigns") as batch:
        batch.drop_column("track_opens")
