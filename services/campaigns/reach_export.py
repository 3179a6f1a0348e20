"""The reach figures of member sites as CSV, for the region's annual report.

One row per figure; a withheld count is written ``<5`` (the rule:
services/campaigns/reach_figures.py), so the file never holds more than the pages show.
"""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator, Iterator
from typing import Final

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.campaigns import queries
from services.campaigns.reach import SiteReach, site_reach
from services.campaigns.reach_figures import Share, area_name

COLUMNS: Final = (
    "site",
    "site_name",
    "figure",
    "month",
    "region",
    "municipality",
    "municipality_name",
    "residents",
    "percent",
)
WITHHELD: Final = "<5"


def _count(value: int | None) -> str:
    return WITHHELD if value is None else str(value)


def _share(value: Share) -> tuple[str, str]:
    if value.residents is None:
        return WITHHELD, ""
    return str(value.residents), "" if value.percent is None else f"{value.percent:.1f}"


def site_rows(reach: SiteReach) -> Iterator[tuple[str, ...]]:
    """The CSV rows of one site's reach figures."""
    site = (reach.site.key, reach.site.name)
    audience = reach.audience
    yield (*site, "audience", "", "", "", "", _count(audience.total), "")
    for region in audience.regions:
        yield (*site, "audience", "", region.id, "", "", _count(region.residents), "")
        for area in region.areas:
            name = area_name(area.id)
            yield (*site, "audience", "", region.id, area.id, name, _count(area.residents), "")
    yield (*site, "other_municipality", "", "", "", "", *_share(reach.other_municipality))
    yield (*site, "other_country", "", "", "", "", *_share(reach.other_country))
    for month in reach.months:
        yield (*site, "signups", month.month, "", "", "", _count(month.total), "")
        for region_id, residents in month.regions.items():
            yield (*site, "signups", month.month, region_id, "", "", _count(residents), "")


def _line(row: tuple[str, ...]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerow(row)
    return buffer.getvalue()


async def sites_csv(
    sessionmaker: async_sessionmaker[AsyncSession], key: str | None = None
) -> AsyncIterator[str]:
    """Every site's reach figures (or only the site ``key``'s) as CSV lines, a site at a time."""
    yield _line(COLUMNS)
    async with sessionmaker() as session:
        keys = [key] if key is not None else [site.key for site in await queries.all_sites(session)]
        for site_key in keys:
            for row in site_rows(await site_reach(session, site_key)):
                yield _line(row)
