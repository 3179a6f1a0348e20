"""Names every service agrees on: arq queues, Redis key prefixes and one spec per job."""

from __future__ import annotations

import hashlib
from typing import Final

from shared.contracts import (
    BatchResult,
    CancelCampaign,
    DeliverBatch,
    DeliveryProblem,
    ErasureReport,
    ImportSubscribers,
    OutboundMail,
    RetryFailed,
    StartCampaign,
    SubscriberExport,
    SubscriberRequest,
)
from shared.job_spec import CronSpec, JobSpec

KEY_PREFIX: Final = "brevdue:"

# Transactional mail (confirmations, welcome, exports) has its own queue so that a running
# campaign never starves it.
TRANSACTIONAL_QUEUE: Final = KEY_PREFIX + "queue:transactional"
BULK_QUEUE: Final = KEY_PREFIX + "queue:bulk"
# Jobs the subscriptions service runs on its own data (scheduled purges, staff GDPR requests).
SUBSCRIPTIONS_QUEUE: Final = KEY_PREFIX + "queue:subscriptions"

# Uploaded import files, in chunks, until the subscriptions worker has imported them.
IMPORT_UPLOAD_PREFIX: Final = KEY_PREFIX + "import:"

# Set by the mailer right after the relay took a transactional mail (the key is the mail's
# message_key), kept as long as arq keeps a job's result. The mailer reads it so that a job
# re-run after a crash sends nothing twice; the subscriptions service's outbox sweep reads it to
# know the mail is out.
TRANSACTIONAL_SENT_MARK_PREFIX: Final = KEY_PREFIX + "mailer:tx-sent:"
TRANSACTIONAL_SENT_MARK_SECONDS: Final = 3600

HEALTH_CHECK_KEY_TRANSACTIONAL: Final = TRANSACTIONAL_QUEUE + ":health-check"
HEALTH_CHECK_KEY_BULK: Final = BULK_QUEUE + ":health-check"
HEALTH_CHECK_KEY_SUBSCRIPTIONS: Final = SUBSCRIPTIONS_QUEUE + ":health-check"


def _batch_fields(batch: DeliverBatch) -> dict[str, object]:
    # The first row's id plus a digest of them all. Two fan-outs of one campaign (a re-run, or
    # one restarted by the reconciler while the first still runs) can cut a batch starting at
    # the same row with different rows in it. With the first id alone, arq would drop the
    # second as a duplicate and strand its extra rows; with the digest, the same rows give the
    # same id and different rows a new job (the claim keeps a row from being sent twice).
    ids = ",".join(map(str, batch.delivery_ids)).encode()
    digest = hashlib.blake2s(ids, digest_size=5).hexdigest()
    return {"campaign_id": batch.campaign_id, "first": batch.delivery_ids[0], "digest": digest}


# --- the mailer's jobs ---------------------------------------------------------------------

# A rendered mail from the subscriptions service; the same message_key is sent once.
SEND_TRANSACTIONAL: Final = JobSpec(
    name="send_transactional",
    queue=TRANSACTIONAL_QUEUE,
    payload=OutboundMail,
    result=str,
    id_template="tx:{message_key}",
)
# From the campaigns service: fan the campaign out. The reconciler tags a restart.
START_CAMPAIGN: Final = JobSpec(
    name="start_campaign",
    queue=BULK_QUEUE,
    payload=StartCampaign,
    result=int,
    id_template="campaign:{campaign_id}:start",
    tag="optional",
)
# From the fan-out; enqueued again (tagged) on resume, retry and by the reconciler.
DELIVER_BATCH: Final = JobSpec(
    name="deliver_batch",
    queue=BULK_QUEUE,
    payload=DeliverBatch,
    result=BatchResult,
    id_template="campaign:{campaign_id}:batch:{first}:{digest}",
    id_fields=_batch_fields,
    tag="optional",
)
# Staff commands about a running campaign, from the campaigns service. Pausing needs no job:
# the mailer reads campaigns.status before it claims each chunk.
RESUME_CAMPAIGN: Final = JobSpec(
    name="resume_campaign",
    queue=BULK_QUEUE,
    payload=StartCampaign,
    result=int,
    id_template="campaign:{campaign_id}:resume",
    tag="required",  # when it was resumed, in milliseconds
)
CANCEL_CAMPAIGN: Final = JobSpec(
    name="cancel_campaign",
    queue=BULK_QUEUE,
    payload=CancelCampaign,
    result=int,
    id_template="campaign:{campaign_id}:cancel",  # a campaign is cancelled once
)
RETRY_FAILED: Final = JobSpec(
    name="retry_failed",
    queue=BULK_QUEUE,
    payload=RetryFailed,
    result=int,
    id_template="campaign:{campaign_id}:retry-failed",
    # <count>.<latest failure in ms>: a double click enqueues one job, new failures another.
    tag="required",
)
# The bulk worker's scheduled repair of lost jobs (services/mailer/reconcile.py).
RECONCILE_LEDGER: Final = CronSpec(name="mailer:reconcile", queue=BULK_QUEUE)

# Every job on the bulk queue whose id names a campaign (the reconciler reads them back).
CAMPAIGN_JOBS: Final = (
    START_CAMPAIGN,
    DELIVER_BATCH,
    RESUME_CAMPAIGN,
    CANCEL_CAMPAIGN,
    RETRY_FAILED,
)


# --- the subscriptions worker's jobs -------------------------------------------------------

# Staff requests from the campaigns service; the export's result is read back, then deleted.
EXPORT_SUBSCRIBER: Final = JobSpec(
    name="export_subscriber",
    queue=SUBSCRIPTIONS_QUEUE,
    payload=SubscriberRequest,
    result=SubscriberExport,
    id_template="gdpr:export:{request_id}",
)
ERASE_SUBSCRIBER: Final = JobSpec(
    name="erase_subscriber",
    queue=SUBSCRIPTIONS_QUEUE,
    payload=SubscriberRequest,
    result=ErasureReport,
    id_template="gdpr:erase:{request_id}",
)
# From the mailer's bounces process: the subscriptions service owns what a hard bounce or a
# complaint means for the subscriber. The same report over SMTP and a webhook runs once.
RECORD_DELIVERY_PROBLEM: Final = JobSpec(
    name="record_delivery_problem",
    queue=SUBSCRIPTIONS_QUEUE,
    payload=DeliveryProblem,
    result=int,
    id_template="problem:{kind}:c{campaign_id}:s{subscriber_id}",
)
# From the campaigns service (the staff app's import): import an uploaded CSV file. Its key
# names the import; the job runs again after a crash and continues where the import stopped.
IMPORT_SUBSCRIBERS: Final = JobSpec(
    name="import_subscribers",
    queue=SUBSCRIPTIONS_QUEUE,
    payload=ImportSubscribers,
    result=str,
    id_template="import:{key}",
)
# Scheduled upkeep: unconfirmed sign-ups are deleted when old.
PURGE_UNCONFIRMED: Final = CronSpec(name="purge_unconfirmed", queue=SUBSCRIPTIONS_QUEUE)
# Scheduled upkeep: minors who have passed the age of digital consent are asked to confirm
# their own consent.
SEND_AGE_REVIEWS: Final = CronSpec(name="send_age_reviews", queue=SUBSCRIPTIONS_QUEUE)
