"""The reach pages' figures in the page's language: headline figures, charts, the tile grid
and the tables beside them. Counts withheld by services/campaigns/reach_figures.py's rule are
written "<5" everywhere."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from markupsafe import Markup

from services.campaigns import charts
from services.campaigns.errors import N_
from services.campaigns.municipality_tiles import tile_grid
from services.campaigns.reach import CampaignReach, SiteReach
from services.campaigns.reach_figures import (
    DENMARK_ELSEWHERE,
    SKANE,
    Breakdown,
    Share,
    area_name,
    said_total,
)

Gettext = Callable[[str], str]
WITHHELD: Final = "<5"
REGION_NAMES: Final = {
    "dk": N_("Denmark"),
    "skane": N_("Skåne"),
    "se_other": N_("Elsewhere in Sweden"),
    "abroad": N_("Abroad"),
    "unknown": N_("Not said"),
}


def count_text(value: int | None) -> str:
    """A count as the pages write it."""
    return WITHHELD if value is None else str(value)


def share_text(share: Share) -> str:
    """A share as the pages write it: "48.7 % (19)", or "<5" when withheld."""
    if share.residents is None:
        return WITHHELD
    if share.percent is None:
        return "–"
    return f"{share.percent:.1f} % ({share.residents})"


@dataclass(frozen=True)
class Row:
    """One line of a figures table: a place, its region, its residents as text."""

    name: str
    region: str
    residents: str


def region_rows(figures: Breakdown, _: Gettext) -> list[Row]:
    """The regions of a breakdown, total last."""
    rows = [
        Row(_(REGION_NAMES[region.id]), "", count_text(region.residents))
        for region in figures.regions
    ]
    return [*rows, Row(_(N_("All")), "", count_text(figures.total))]


def municipality_rows(figures: Breakdown, _: Gettext) -> list[Row]:
    """Municipalities with residents (or withheld ones), most first, withheld last."""
    found = []
    for region in figures.regions:
        for area in region.areas:
            if area.residents == 0:
                continue
            name = (
                _(N_("Elsewhere in Denmark"))
                if area.id == DENMARK_ELSEWHERE
                else area_name(area.id)
            )
            found.append((area.residents, name, _(REGION_NAMES[region.id])))
    found.sort(key=lambda item: (item[0] is None, -(item[0] or 0), item[1]))
    return [Row(name, region, count_text(count)) for count, name, region in found]


def _tiles(figures: Breakdown, _: Gettext, caption: str, highlight: str | None) -> Markup:
    residents = {area.id: area.residents for region in figures.regions for area in region.areas}
    return tile_grid(caption, residents, said_total(figures), highlight=highlight)


def _region_chart(figures: Breakdown, _: Gettext, caption: str) -> Markup:
    return charts.bars(
        caption,
        [
            (_(REGION_NAMES[region.id]), region.residents)
            for region in figures.regions
            if region.residents is not None
        ],
        value_label=_(N_("Residents")),
        name_label=_(N_("Where they live")),
        table_label=_(N_("Show the figures as a table")),
    )


def site_view(reach: SiteReach, _: Gettext) -> dict[str, object]:
    """What the site reach page shows."""
    audience = reach.audience
    months = reach.months
    return {
        "total": count_text(audience.total),
        "skane": count_text(audience.region(SKANE).residents),
        "other_municipality": share_text(reach.other_municipality),
        "other_country": share_text(reach.other_country),
        "region_chart": _region_chart(
            audience, _, _(N_("Subscribers by where they live (regions)"))
        ),
        "tiles": _tiles(
            audience,
            _,
            _(N_("Subscribers by municipality, as tiles placed like a map of the region")),
            reach.site.municipality,
        ),
        "regions": region_rows(audience, _),
        "municipalities": municipality_rows(audience, _),
        "months_chart": charts.stacked_bars(
            _(N_("Sign-ups through this site per month by where the residents live")),
            [month.month for month in months],
            [
                (_(name), [month.regions[region] for month in months])
                for region, name in REGION_NAMES.items()
            ],
            name_label=_(N_("Month")),
            table_label=_(N_("Show the figures as a table")),
            missing_text=WITHHELD,
        ),
    }


def campaign_view(reach: CampaignReach, _: Gettext) -> list[dict[str, object]]:
    """What the campaign reach page shows: recipients, clickers, unsubscribers."""
    figures = (
        ("recipients", N_("Recipients"), reach.recipients),
        ("clickers", N_("Residents who clicked a link"), reach.clickers),
        (
            "unsubscribed",
            N_("Residents who unsubscribed through this campaign"),
            reach.unsubscribed,
        ),
    )
    return [
        {
            "id": key,
            "title": _(title),
            "total": count_text(figures.total),
            "regions": region_rows(figures, _),
            "municipalities": municipality_rows(figures, _),
        }
        for key, title, figures in figures
    ]
