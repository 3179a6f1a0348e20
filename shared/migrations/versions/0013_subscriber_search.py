"""subscribers: indexes for the staff search by prefix of the address's identity key and of
the lower-case name; consent_events: by list and time, for a list's growth per day

Revision ID: 0013_subscriber_search
Revises: 0012_campaign_schedule
Create Date: 2026-11-29 15:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0013_subscriber_search"
down_revision: str | None = "0012_campaign_schedule"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        # A "C" collation orders by code point: a prefix is one contiguous range of the index,
        # and keyset pages follow the index order, whatever the database's own collation.
        op.execute(
            'CREATE INDEX ix_subscribers_email_key_prefix ON subscribers (email_key COLLATE "C")'
        )
        op.execute(
            "CREATE INDEX ix_subscribers_name_prefix "
            'ON subscribers ((lower(name)) COLLATE "C", id)'
        )
    else:
        # SQLite compares text by code point (BINARY) already.
        op.execute("CREATE INDEX ix_subscribers_email_key_prefix ON subscribers (email_key)")
        op.execute("CREATE INDEX ix_subscribers_name_prefix ON subscribers (lower(name), id)")
    op.create_index("ix_consent_events_list_at", "consent_events", ["list_id", "at"])


def downgrade() -> None:
    op.drop_index("ix_consent_events_list_at", table_name="consent_events")
    op.execute("DROP INDEX ix_subscribers_email_key_prefix")
    op.execute("DROP INDEX ix_subscribers_name_prefix")
