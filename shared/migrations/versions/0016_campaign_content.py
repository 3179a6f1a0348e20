"""campaign content: body source and format, layout, language variants, organisation layout

Revision ID: 0016_campaign_content
Revises: 0015_segments
Create Date: 2026-11-29 18:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016_campaign_content"
down_revision: str | None = "0015_segments"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("campaigns") as batch:
        batch.add_column(sa.Column("body_format", sa.String(16), nullable=True))
        batch.add_column(sa.Column("body_source", sa.Text(), nullable=True))
        batch.add_column(sa.Column("layout", sa.String(32), nullable=True))
        batch.add_column(sa.Column("fallback_language", sa.String(2), nullable=True))
    with op.batch_alter_table("deliveries") as batch:
        batch.add_column(sa.Column("variant", sa.String(2), nullable=True))
    op.create_table(
        "campaign_variants",
        sa.Column(
            "campaign_id",
            Id,
            sa.ForeignKey(
                "campaigns.id",
                ondelete="CASCADE",
                name="fk_campaign_variants_campaign_id_campaigns",
            ),
        ),
        sa.Column("language", sa.String(2)),
        sa.Column("subject", sa.String(998), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("body_source", sa.Text(), nullable=True),
        sa.Column("body_text", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("campaign_id", "language", name="pk_campaign_variants"),
        comment="owner: campaigns",
    )
    op.create_table(
        "organisation_layout",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("logo_url", sa.String(2000), nullable=False),
        sa.Column("postal_address", sa.String(500), nullable=False),
        sa.Column("accent_colour", sa.String(7), nullable=False),
        sa.Column("background_colour", sa.String(7), nullable=False),
        sa.Column("footer_text", sa.String(1000), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_organisation_layout"),
        comment="owner: campaigns",
    )


def downgrade() -> None:
    op.drop_table("organisation_layout")
    op.drop_table("campaign_variants")
    with op.batch_alter_table("deliveries") as batch:
        batch.drop_column("variant")
    with op.batch_alter_table("campaigns") as batch:
        batch.drop_column("fallback_language")
        batch.drop_column("layout")
        batch.drop_column("body_source")
        batch.drop_column("body_format")
