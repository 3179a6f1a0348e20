"""Cross-border reach: where the residents a member site brought in live, and where a
campaign's recipients, clickers and unsubscribers live, with small counts withheld
(the rule: services/campaigns/reach_figures.py)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

from sqlalchemy.ext.asyncio import AsyncSession

from services.campaigns import queries
from services.campaigns.campaigns import campaign_row
from services.campaigns.queries.reach import (
    campaign_clickers_by_municipality,
    campaign_recipient_places,
    campaign_recipients_by_municipality,
    campaign_unsubscribe_refs,
    site_audience_by_municipality,
    site_signups_by_month,
)
from services.campaigns.reach_figures import (
    REGIONS,
    Breakdown,
    Share,
    breakdown,
    other_country,
    other_municipality,
    place_of,
    shown,
    withhold,
)
from services.campaigns.sites import site_row
from shared.addresses import address_digest
from shared.clock import utcnow

MONTHS: Final = 24
# Recipients read per query while matching unsubscribes to where recipients live.
RECIPIENT_BATCH: Final = 5_000


@dataclass(frozen=True)
class Month:
    """Residents who signed up in one UTC month, by region (None: withheld)."""

    month: str
    total: int | None
    regions: dict[str, int | None]


@dataclass(frozen=True)
class SiteReach:
    """Where the residents a site brought in live, and the headline shares."""

    site: queries.SiteRow
    audience: Breakdown
    other_municipality: Share
    other_country: Share
    months: tuple[Month, ...]


@dataclass(frozen=True)
class CampaignReach:
    """Where a campaign's recipients, clickers and unsubscribers live."""

    campaign_id: int
    recipients: Breakdown
    clickers: Breakdown
    unsubscribed: Breakdown


def _months_back(now: datetime, months: int) -> datetime:
    index = now.year * 12 + now.month - 1 - (months - 1)
    return datetime(index // 12, index % 12 + 1, 1, tzinfo=UTC)


async def site_reach(session: AsyncSession, key: str) -> SiteReach:
    """Reach figures of the site with this key; NotFound when there is none."""
    site = await site_row(session, key)
    audience = breakdown(await site_audience_by_municipality(session, site.id))
    since = _months_back(utcnow(), MONTHS)
    per_month: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(REGIONS, 0))
    for row in await site_signups_by_month(session, site.id, since):
        per_month[row.month][place_of(row.municipality)[0]] += row.residents
    months = []
    for month, regions in sorted(per_month.items()):
        total = sum(regions.values())
        months.append(Month(month, total if shown(total) else None, withhold(regions)))
    return SiteReach(
        site=site,
        audience=audience,
        other_municipality=other_municipality(audience, site.municipality),
        other_country=other_country(audience, site.country),
        months=tuple(months),
    )


async def campaign_reach(session: AsyncSession, campaign_id: int) -> CampaignReach:
    """Reach figures of a campaign; NotFound when there is none."""
    await campaign_row(session, campaign_id)
    return CampaignReach(
        campaign_id=campaign_id,
        recipients=breakdown(await campaign_recipients_by_municipality(session, campaign_id)),
        clickers=breakdown(await campaign_clickers_by_municipality(session, campaign_id)),
        unsubscribed=breakdown(await _unsubscribed_by_municipality(session, campaign_id)),
    )


async def _unsubscribed_by_municipality(
    session: AsyncSession, campaign_id: int
) -> dict[str | None, int]:
    # The audit log names an unsubscriber only by the digest of their address, so the
    # campaign's recipients are read in batches and their digests matched against it.
    refs = await campaign_unsubscribe_refs(session, campaign_id)
    counts: dict[str | None, int] = defaultdict(int)
    after = 0
    while refs:
        batch = await campaign_recipient_places(session, campaign_id, after, RECIPIENT_BATCH)
        if not batch:
            break
        for place in batch:
            digest = address_digest(place.email)
            if digest in refs:
                refs.discard(digest)
                counts[place.municipality] += 1
        after = batch[-1].delivery_id
    return dict(counts)
