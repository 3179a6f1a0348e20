"""campaigns: why a campaign is paused, so the one pause state carries the mailer's reason;
campaign_runs: when the mailer asked for that pause

Revision ID: 0010_one_pause_state
Revises: 0009_staff_accounts
Create Date: 2026-11-29 11:50:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0010_one_pause_state"
down_revision: str | None = "0009_staff_accounts"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# What a run the failure threshold paused before this revision says to staff.
_EARLIER_REASON = "Too much of its mail failed; sending stopped. Check the failures, then resume."


def upgrade() -> None:
    # A nullable column is added in place on SQLite too; no batch mode needed.
    op.add_column("campaigns", sa.Column("pause_reason", sa.Text(), nullable=True))
    op.add_column(
        "campaign_runs",
        sa.Column("pause_requested_at", sa.DateTime(timezone=True), nullable=True),
    )
    # Runs the mailer paused become campaigns paused with a reason, and the run keeps only its
    # request (claims stay stopped until a resume clears it).
    op.execute(
        sa.text(
            "UPDATE campaigns SET status = 'paused', pause_reason = :reason "
            "WHERE status = 'sending' AND id IN (SELECT campaign_id FROM campaign_runs "
            "WHERE state = 'paused' AND finished_at IS NULL)"
        ).bindparams(reason=_EARLIER_REASON)
    )
    op.execute(
        sa.text(
            "UPDATE campaign_runs SET state = 'pause_requested', pause_requested_at = :now "
            "WHERE state = 'paused'"
        ).bindparams(sa.bindparam("now", datetime.now(UTC), type_=sa.DateTime(timezone=True)))
    )


def downgrade() -> None:
    op.execute("UPDATE campaign_runs SET state = 'paused' WHERE state = 'pause_requested'")
    # Before this revision a pause by the mailer lived in the run alone.
    op.execute(
        "UPDATE campaigns SET status = 'sending' WHERE status = 'paused' "
        "AND pause_reason IS NOT NULL"
    )
    with op.batch_alter_table("campaign_runs") as batch:
        batch.drop_column("pause_requested_at")
    with op.batch_alter_table("campaigns") as batch:
        batch.drop_column("pause_reason")
