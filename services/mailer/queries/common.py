"""What the query modules share: row statuses and the dialect's INSERT … ON CONFLICT."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

QUEUED, SENDING, SENT, FAILED, SKIPPED = "queued", "sending", "sent", "failed", "skipped"
BOUNCED = "bounced"
RUN_FANNING_OUT, RUN_SENDING, RUN_PAUSED, RUN_DONE = "fanning_out", "sending", "paused", "done"
RUN_FAILED = "failed"  # could not start at all; campaign_runs.failure says why
# campaigns.status values staff set through the campaigns service: nothing is claimed (sent)
# while a campaign is paused; a cancelled campaign's remaining rows are skipped.
CAMPAIGN_PAUSED, CAMPAIGN_CANCELLED = "paused", "cancelled"
HALTED = (CAMPAIGN_PAUSED, CAMPAIGN_CANCELLED)


def insert_ignoring(conn: AsyncConnection, table: sa.Table) -> Any:
    """An INSERT that can take ON CONFLICT DO NOTHING (dialect-specific in SQLAlchemy Core)."""
    if conn.dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)
