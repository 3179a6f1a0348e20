"""The failure threshold: the mailer stops a campaign whose mail fails too much.

The mailer owns only its run row, so it records a pause request there (claims stop at once)
and tells the campaigns service, owner of ``campaigns.status``, on the campaign events stream.
That service pauses the campaign with the reason; staff resume it with the one resume action,
whose job clears the request. If the event is lost (Redis away just then), the reconciler
publishes it again for every run that asked for a pause its campaign's row does not show yet.
"""

from __future__ import annotations

import structlog
from redis.exceptions import RedisError

from services.mailer import queries
from services.mailer.runtime import MailerRuntime
from shared.clock import utcnow
from shared.events import CampaignPaused, publish_campaign_paused

log = structlog.get_logger(__name__)


def pause_reason(sent: int, failed: int) -> str:
    """What staff are told about a campaign the mailer paused."""
    return (
        f"{failed} of {sent + failed} deliveries failed; sending stopped. "
        "Check the failures, fix the cause, then resume."
    )


async def pause_if_failing(
    runtime: MailerRuntime, campaign_id: int, sent: int, failed: int
) -> bool:
    """Ask for a pause when too much of the campaign's mail fails; True if this call asked.

    ``sent`` and ``failed`` are one batch's counts: the whole campaign is counted (a query)
    only when the batch itself looks bad.
    """
    rate = runtime.options.pause_failure_rate
    if not rate or not failed or failed < rate * (sent + failed):
        return False
    async with runtime.engine.begin() as conn:
        sent, failed = await queries.outcome_counts(conn, campaign_id)
        total = sent + failed
        if total < runtime.options.pause_min_sample or failed < rate * total:
            return False
        if not await queries.request_pause(conn, campaign_id, utcnow()):
            return False
    log.warning("campaign.pause_requested", campaign_id=campaign_id, sent=sent, failed=failed)
    runtime.metrics.ledger.labels("paused").inc()
    await announce_pause(runtime, campaign_id, pause_reason(sent, failed))
    return True


async def announce_pause(runtime: MailerRuntime, campaign_id: int, reason: str) -> bool:
    """Publish ``CampaignPaused``; False when Redis refused (the reconciler tries again)."""
    if runtime.events is None:
        return False
    try:
        await publish_campaign_paused(
            runtime.events, CampaignPaused(campaign_id=campaign_id, reason=reason)
        )
    except (RedisError, OSError) as exc:
        log.warning("campaign.pause_not_announced", campaign_id=campaign_id, error=repr(exc))
        return False
    return True


async def announce_unseen_pauses(runtime: MailerRuntime) -> int:
    """Publish again the pauses the campaigns service has not applied; return how many."""
    async with runtime.engine.begin() as conn:
        unseen = await queries.pause_requests_unseen(conn)
        counts = [(c, await queries.outcome_counts(conn, c)) for c in unseen]
    announced = 0
    for campaign_id, (sent, failed) in counts:
        announced += await announce_pause(runtime, campaign_id, pause_reason(sent, failed))
    return announced
