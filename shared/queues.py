"""Names every service agrees on: arq queues, job functions and Redis key prefixes."""

from __future__ import annotations

from typing import Final

KEY_PREFIX: Final = "brevdue:"

# Transactional mail (confirmations, welcome, exports) has its own queue so that a running
# campaign never starves it.
TRANSACTIONAL_QUEUE: Final = KEY_PREFIX + "queue:transactional"
BULK_QUEUE: Final = KEY_PREFIX + "queue:bulk"
# Jobs the subscriptions service runs on its own data (scheduled purges, staff GDPR requests).
SUBSCRIPTIONS_QUEUE: Final = KEY_PREFIX + "queue:subscriptions"

# Jobs the mailer runs.
JOB_SEND_TRANSACTIONAL: Final = "send_transactional"
JOB_START_CAMPAIGN: Final = "start_campaign"
JOB_DELIVER_BATCH: Final = "deliver_batch"
# Staff commands about a running campaign, enqueued by the campaigns service on BULK_QUEUE.
# Pausing needs no job: the mailer reads campaigns.status before it claims each chunk.
JOB_RESUME_CAMPAIGN: Final = "resume_campaign"  # StartCampaign payload
JOB_CANCEL_CAMPAIGN: Final = "cancel_campaign"  # CancelCampaign payload
JOB_RETRY_FAILED: Final = "retry_failed"  # RetryFailed payload

# Jobs the subscriptions worker runs for staff (enqueued by the campaigns service).
JOB_EXPORT_SUBSCRIBER: Final = "export_subscriber"
JOB_ERASE_SUBSCRIBER: Final = "erase_subscriber"

# The subscriptions worker's scheduled upkeep: unconfirmed sign-ups are deleted when old.
JOB_PURGE_UNCONFIRMED: Final = "purge_unconfirmed"
HEALTH_CHECK_KEY_SUBSCRIPTIONS: Final = SUBSCRIPTIONS_QUEUE + ":health-check"

# Enqueued by the mailer on SUBSCRIPTIONS_QUEUE when a hard bounce or a complaint comes back
# (DeliveryProblem payload): the subscriptions service owns what it means for the subscriber.
JOB_RECORD_DELIVERY_PROBLEM: Final = "record_delivery_problem"

HEALTH_CHECK_KEY_TRANSACTIONAL: Final = TRANSACTIONAL_QUEUE + ":health-check"
HEALTH_CHECK_KEY_BULK: Final = BULK_QUEUE + ":health-check"


def transactional_job_id(message_key: str) -> str:
    """Deterministic job id: enqueueing the same transactional mail twice sends it once."""
    return f"tx:{message_key}"


def start_campaign_job_id(campaign_id: int) -> str:
    """Deterministic job id for a campaign's fan-out."""
    return f"campaign:{campaign_id}:start"


def deliver_batch_job_id(campaign_id: int, first_delivery_id: int) -> str:
    """Deterministic job id for one batch of a campaign's deliveries."""
    return f"campaign:{campaign_id}:batch:{first_delivery_id}"


def resume_campaign_job_id(campaign_id: int, request_id: str) -> str:
    """Deterministic job id for one resume of a campaign (request_id: when it was resumed)."""
    return f"campaign:{campaign_id}:resume:{request_id}"


def cancel_campaign_job_id(campaign_id: int) -> str:
    """Deterministic job id for a campaign's cancellation (a campaign is cancelled once)."""
    return f"campaign:{campaign_id}:cancel"


def retry_failed_job_id(campaign_id: int, request_id: str) -> str:
    """Deterministic job id for one retry of a campaign's failed sends.

    ``request_id`` names the set of failed rows (count and latest failure), so a double click
    enqueues one job and a retry after new failures another.
    """
    return f"campaign:{campaign_id}:retry-failed:{request_id}"


def erase_subscriber_job_id(request_id: str) -> str:
    """Deterministic job id for one staff erasure request."""
    return f"gdpr:erase:{request_id}"


def export_subscriber_job_id(request_id: str) -> str:
    """Deterministic job id for one staff export request."""
    return f"gdpr:export:{request_id}"


def delivery_problem_job_id(campaign_id: int, subscriber_id: int, kind: str) -> str:
    """Deterministic job id: the same bounce reported twice (SMTP and a webhook) runs once."""
    return f"problem:{kind}:c{campaign_id}:s{subscriber_id}"
