"""What residents did with a campaign's mail: clicks per link, click rate and (when tracked)
opens, read from link_clicks and campaign_opens and the mailer's ledger."""

from __future__ import annotations

from typing import Final

from sqlalchemy.ext.asyncio import AsyncSession

from services.campaigns import queries
from services.campaigns.campaigns import campaign_row
from services.campaigns.engagement_schemas import EngagementOut, LinkClicksOut, OpensOut
from services.campaigns.errors import N_
from shared.statuses import DeliveryStatus

OPENS_NOTE: Final = N_(
    "Opens are unreliable: Apple Mail Privacy Protection fetches the tracking image for every "
    "message, opened or not, and clients that block images never fetch it. Compare campaigns "
    "by clicks."
)


def _rate(part: int, whole: int) -> float:
    return round(100.0 * part / whole, 1) if whole else 0.0


async def campaign_engagement(session: AsyncSession, campaign_id: int) -> EngagementOut:
    """Clicks per link (unique and total), click rate and opens of a campaign; NotFound when
    there is no such campaign."""
    row = await campaign_row(session, campaign_id)
    counts = (await queries.delivery_counts(session, [campaign_id]))[campaign_id]
    # Delivered: accepted by the relay (a later bounce moves a row to 'bounced').
    delivered = counts.get(DeliveryStatus.SENT, 0)
    clickers = await queries.unique_clickers(session, campaign_id)
    opens = None
    if row.track_opens:
        unique, total = await queries.open_counts(session, campaign_id)
        opens = OpensOut(
            unique_opens=unique,
            total_opens=total,
            open_rate=_rate(unique, delivered),
            note=OPENS_NOTE,
        )
    return EngagementOut(
        campaign_id=campaign_id,
        delivered=delivered,
        unique_clickers=clickers,
        click_rate=_rate(clickers, delivered),
        links=[
            LinkClicksOut(
                url=link.url,
                position=link.position,
                unique_clicks=link.unique_clicks,
                total_clicks=link.total_clicks,
            )
            for link in await queries.link_stats(session, campaign_id)
        ],
        track_opens=row.track_opens,
        opens=opens,
    )
