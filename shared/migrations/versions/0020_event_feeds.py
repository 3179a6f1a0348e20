"""Event feeds of member institutions, their events, and digest campaigns' choices and blocks

Revision ID: 0020_event_feeds
Revises: 0019_mail_outbox
Create Date: 2026-11-29 21:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020_event_feeds"
down_revision: str | None = "0019_mail_outbox"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_TS = sa.DateTime(timezone=True)


def _campaign_fk(table: str) -> sa.ForeignKey:
    return sa.ForeignKey(
        "campaigns.id", ondelete="CASCADE", name=f"fk_{table}_campaign_id_campaigns"
    )


def upgrade() -> None:
    op.create_table(
        "event_feeds",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column(
            "site_id",
            Id,
            sa.ForeignKey(
                "member_sites.id", ondelete="CASCADE", name="fk_event_feeds_site_id_member_sites"
            ),
            nullable=False,
        ),
        sa.Column("url", sa.String(2000), nullable=False),
        sa.Column(
            "list_id",
            Id,
            sa.ForeignKey(
                "mailing_lists.id", ondelete="CASCADE", name="fk_event_feeds_list_id_mailing_lists"
            ),
            nullable=False,
        ),
        sa.Column("municipality", sa.String(64), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("etag", sa.String(500), nullable=True),
        sa.Column("last_modified", sa.String(100), nullable=True),
        sa.Column("fetched_at", _TS, nullable=True),
        sa.Column("next_fetch_at", _TS, nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.UniqueConstraint("site_id", "url", name="uq_event_feeds_site_id"),
        comment="owner: campaigns",
    )
    op.create_index("ix_event_feeds_next_fetch_at", "event_feeds", ["next_fetch_at"])
    op.create_table(
        "events",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column(
            "feed_id",
            Id,
            sa.ForeignKey(
                "event_feeds.id", ondelete="CASCADE", name="fk_events_feed_id_event_feeds"
            ),
            nullable=False,
        ),
        sa.Column("uid", sa.String(500), nullable=False),
        sa.Column("title", sa.String(500), nullable=False),
        sa.Column("starts_at", _TS, nullable=False),
        sa.Column("time_zone", sa.String(64), nullable=False),
        sa.Column("all_day", sa.Boolean(), nullable=False),
        sa.Column("place", sa.String(500), nullable=True),
        sa.Column("link", sa.String(2000), nullable=True),
        sa.Column("image_url", sa.String(2000), nullable=True),
        sa.Column(
            "list_id",
            Id,
            sa.ForeignKey(
                "mailing_lists.id", ondelete="CASCADE", name="fk_events_list_id_mailing_lists"
            ),
            nullable=False,
        ),
        sa.Column("municipality", sa.String(64), nullable=True),
        sa.Column("updated_at", _TS, nullable=False),
        sa.UniqueConstraint("feed_id", "uid", name="uq_events_feed_id"),
        comment="owner: campaigns",
    )
    op.create_index("ix_events_starts_at", "events", ["starts_at"])
    op.create_table(
        "campaign_digests",
        sa.Column("campaign_id", Id, _campaign_fk("campaign_digests"), primary_key=True),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("ends_on", sa.Date(), nullable=False),
        sa.Column("list_ids", sa.JSON(), nullable=False),
        sa.Column("pinned", sa.JSON(), nullable=False),
        sa.Column("dropped", sa.JSON(), nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
        comment="owner: campaigns",
    )
    op.create_table(
        "digest_blocks",
        sa.Column("campaign_id", Id, _campaign_fk("digest_blocks"), primary_key=True),
        sa.Column("language", sa.String(2), primary_key=True),
        sa.Column("municipality", sa.String(64), primary_key=True),
        sa.Column("html", sa.Text(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        comment="owner: campaigns",
    )


def downgrade() -> None:
    op.drop_table("digest_blocks")
    op.drop_table("campaign_digests")
    op.drop_index("ix_events_starts_at", table_name="events")
    op.drop_table("events")
    op.drop_index("ix_event_feeds_next_fetch_at", table_name="event_feeds")
    op.drop_table("event_feeds")
