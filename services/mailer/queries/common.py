"""What the query modules share: short status names and the dialect's INSERT … ON CONFLICT."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from shared.statuses import CampaignStatus, DeliveryStatus, RunState

# Short names for the shared statuses, kept for the run and staff-command code that still uses
# them; new code uses the enums of shared.statuses directly.
QUEUED, SENDING, SENT = DeliveryStatus.QUEUED, DeliveryStatus.SENDING, DeliveryStatus.SENT
FAILED, SKIPPED, BOUNCED = DeliveryStatus.FAILED, DeliveryStatus.SKIPPED, DeliveryStatus.BOUNCED
RUN_FANNING_OUT, RUN_SENDING = RunState.FANNING_OUT, RunState.SENDING
RUN_PAUSED, RUN_DONE = RunState.PAUSED, RunState.DONE
RUN_FAILED = RunState.FAILED  # could not start at all; campaign_runs.failure says why
# Nothing is claimed (sent) while a campaign is paused; a cancelled campaign's remaining rows
# are skipped.
CAMPAIGN_PAUSED, CAMPAIGN_CANCELLED = CampaignStatus.PAUSED, CampaignStatus.CANCELLED
HALTED = (CampaignStatus.PAUSED, CampaignStatus.CANCELLED)


def insert_ignoring(conn: AsyncConnection, table: sa.Table) -> Any:
    """An INSERT that can take ON CONFLICT DO NOTHING (dialect-specific in SQLAlchemy Core)."""
    if conn.dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)
