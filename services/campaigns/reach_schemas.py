"""Answer bodies of the reach figures: residents by where they live, small counts withheld.

A count of ``null`` is withheld: it is 1 to 4 residents, or withheld so that a shown total
cannot give a smaller count back (services/campaigns/reach_figures.py states the rule).
"""

from __future__ import annotations

from msgspec import Struct

from services.campaigns.reach import CampaignReach, SiteReach
from services.campaigns.reach_figures import THRESHOLD, Breakdown, Share, area_name


class AreaOut(Struct, kw_only=True):
    """A municipality (``dk-elsewhere``: elsewhere in Denmark) and its residents."""

    municipality: str
    name: str
    residents: int | None


class RegionOut(Struct, kw_only=True):
    """``dk``, ``skane``, ``se_other`` (elsewhere in Sweden), ``abroad`` or ``unknown`` (not
    said); Denmark and Skåne list their municipalities."""

    region: str
    residents: int | None
    municipalities: list[AreaOut]


class BreakdownOut(Struct, kw_only=True):
    """All residents of one figure, by region and municipality."""

    total: int | None
    regions: list[RegionOut]


class ShareOut(Struct, kw_only=True):
    """Residents of a part of the audience and their percentage of those who said where they
    live; both null when withheld or not known."""

    residents: int | None
    percent: float | None


class MonthOut(Struct, kw_only=True):
    """Residents who signed up in one UTC month (``YYYY-MM``), by region."""

    month: str
    total: int | None
    regions: dict[str, int | None]


class SiteReachOut(Struct, kw_only=True):
    """``GET /api/sites/{key}/reach``: where the residents a site brought in live.

    ``audience`` counts residents with a confirmed subscription through the site;
    ``other_municipality`` and ``other_country`` are the headline shares of that audience
    (``other_municipality`` is null when the site has no municipality); ``months`` counts
    sign-ups asked for through the site (any outcome) per month, last 24 months.
    """

    site: str
    name: str
    municipality: str | None
    country: str
    threshold: int
    audience: BreakdownOut
    other_municipality: ShareOut
    other_country: ShareOut
    months: list[MonthOut]


class CampaignReachOut(Struct, kw_only=True):
    """``GET /api/campaigns/{id}/reach``: recipients (mail accepted by the relay), residents who
    clicked a tracked link and residents who unsubscribed through the campaign's own
    unsubscribe link, each by where they live. Withdrawals made elsewhere (the preference
    center, a reply to staff) name no campaign and are not counted here."""

    campaign_id: int
    threshold: int
    recipients: BreakdownOut
    clickers: BreakdownOut
    unsubscribed: BreakdownOut


def breakdown_out(figures: Breakdown) -> BreakdownOut:
    """The API form of a breakdown."""
    return BreakdownOut(
        total=figures.total,
        regions=[
            RegionOut(
                region=region.id,
                residents=region.residents,
                municipalities=[
                    AreaOut(municipality=area.id, name=area_name(area.id), residents=area.residents)
                    for area in region.areas
                ],
            )
            for region in figures.regions
        ],
    )


def share_out(share: Share) -> ShareOut:
    """The API form of a share."""
    return ShareOut(residents=share.residents, percent=share.percent)


def site_reach_out(reach: SiteReach) -> SiteReachOut:
    """The API form of a site's reach figures."""
    return SiteReachOut(
        site=reach.site.key,
        name=reach.site.name,
        municipality=reach.site.municipality,
        country=reach.site.country,
        threshold=THRESHOLD,
        audience=breakdown_out(reach.audience),
        other_municipality=share_out(reach.other_municipality),
        other_country=share_out(reach.other_country),
        months=[
            MonthOut(month=month.month, total=month.total, regions=month.regions)
            for month in reach.months
        ],
    )


def campaign_reach_out(reach: CampaignReach) -> CampaignReachOut:
    """The API form of a campaign's reach figures."""
    return CampaignReachOut(
        campaign_id=reach.campaign_id,
        threshold=THRESHOLD,
        recipients=breakdown_out(reach.recipients),
        clickers=breakdown_out(reach.clickers),
        unsubscribed=breakdown_out(reach.unsubscribed),
    )
