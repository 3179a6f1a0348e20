"""Every SQL statement of the mailer (SQLAlchemy Core over shared.schema), in one package.

The mailer writes only its own tables (deliveries, campaign_runs) and reads the campaigns and
subscriptions services' tables. Callers use ``queries.<function>``.
"""

from services.mailer.queries.audience import (
    audience_page,
    campaign_list_ids,
    get_campaign,
    member_of,
)
from services.mailer.queries.common import (
    FAILED,
    QUEUED,
    RUN_DONE,
    RUN_FANNING_OUT,
    RUN_PAUSED,
    RUN_SENDING,
    SENDING,
    SENT,
    SKIPPED,
)
from services.mailer.queries.ledger import (
    Outcome,
    claim,
    insert_deliveries,
    load_queued,
    mark_skipped,
    outcome_counts,
    queued_ids_between,
    queued_page,
    record_outcomes,
    release,
    requeue_stuck_sending,
)
from services.mailer.queries.runs import (
    ActiveRun,
    Run,
    active_runs,
    ensure_run,
    finish_if_done,
    get_run,
    mark_fanned_out,
    pause_run,
    resume_run,
    run_state,
    unstarted_campaigns,
)

__all__ = [
    "FAILED",
    "QUEUED",
    "RUN_DONE",
    "RUN_FANNING_OUT",
    "RUN_PAUSED",
    "RUN_SENDING",
    "SENDING",
    "SENT",
    "SKIPPED",
    "ActiveRun",
    "Outcome",
    "Run",
    "active_runs",
    "audience_page",
    "campaign_list_ids",
    "claim",
    "ensure_run",
    "finish_if_done",
    "get_campaign",
    "get_run",
    "insert_deliveries",
    "load_queued",
    "mark_fanned_out",
    "mark_skipped",
    "member_of",
    "outcome_counts",
    "pause_run",
    "queued_ids_between",
    "queued_page",
    "record_outcomes",
    "release",
    "requeue_stuck_sending",
    "resume_run",
    "run_state",
    "unstarted_campaigns",
]
