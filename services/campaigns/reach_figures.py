"""Residents by where they live, grouped into regions, with small counts withheld.

No SQL here: the counts come from queries/reach.py, keyed by the stored municipality value.

The rule that keeps anyone from being singled out (every figure the reach page, API and CSV
show goes through it):

1. A count of 1 to 4 residents is withheld (shown as "<5"; ``None`` in the API). 0 is shown.
2. Whenever a total is shown, the counts withheld beneath it must add up to 0 or to at least 5:
   otherwise the next smallest shown counts beneath it are withheld too, until they do. So no
   shown total minus shown parts gives back a count below 5.
3. Totals are of every resident, withheld ones included, and are themselves subject to 1.
   A withheld region withholds every municipality in it.
4. A share (of residents in another municipality or country) is shown only when every figure it
   is made of is shown.

The hierarchy is: all residents → region (Denmark, Skåne, elsewhere in Sweden, abroad, not
said) → municipality (in Denmark and Skåne).
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from typing import Final, TypeVar

from shared.municipalities import BY_ID, MUNICIPALITIES

THRESHOLD: Final = 5

DENMARK: Final = "dk"
SKANE: Final = "skane"
SWEDEN_ELSEWHERE: Final = "se_other"
ABROAD: Final = "abroad"
NOT_SAID: Final = "unknown"
REGIONS: Final = (DENMARK, SKANE, SWEDEN_ELSEWHERE, ABROAD, NOT_SAID)
# A Danish value that names no municipality of the list ("elsewhere in Denmark").
DENMARK_ELSEWHERE: Final = "dk-elsewhere"
# The regions a site's "other country" is, by the site's country.
OTHER_COUNTRY: Final[Mapping[str, tuple[str, ...]]] = {
    "DK": (SKANE, SWEDEN_ELSEWHERE),
    "SE": (DENMARK,),
}
_AREAS_OF: Final[Mapping[str, tuple[str, ...]]] = {
    DENMARK: (*(m.id for m in MUNICIPALITIES if m.country == "DK"), DENMARK_ELSEWHERE),
    SKANE: tuple(m.id for m in MUNICIPALITIES if m.country == "SE"),
}

K = TypeVar("K", bound=Hashable)


def place_of(value: str | None) -> tuple[str, str | None]:
    """The region and municipality (or None) a stored municipality value stands for."""
    if not value:
        return NOT_SAID, None
    found = BY_ID.get(value)
    if found is not None:
        return (DENMARK if found.country == "DK" else SKANE), found.id
    # Values outside the list keep the list's country prefix ("dk-…", "se-…").
    if value.startswith("dk-"):
        return DENMARK, DENMARK_ELSEWHERE
    if value.startswith("se-"):
        return SWEDEN_ELSEWHERE, None
    return ABROAD, None


def area_name(area_id: str) -> str:
    """The display name of a municipality id, or "Elsewhere in Denmark" (English; pages
    translate it)."""
    found = BY_ID.get(area_id)
    return found.name if found is not None else "Elsewhere in Denmark"


def shown(count: int) -> bool:
    """True when a count may be shown on its own (rule 1)."""
    return count == 0 or count >= THRESHOLD


def withhold(parts: Mapping[K, int]) -> dict[K, int | None]:
    """The parts of a shown total with rules 1 and 2 applied: ``None`` for each withheld."""
    hidden = {key for key, count in parts.items() if not shown(count)}
    while 0 < sum(parts[key] for key in hidden) < THRESHOLD:
        candidates = [(count, str(key), key) for key, count in parts.items() if key not in hidden]
        candidates = [item for item in candidates if item[0] > 0]
        if not candidates:
            break
        hidden.add(min(candidates)[2])
    return {key: None if key in hidden else count for key, count in parts.items()}


@dataclass(frozen=True)
class Area:
    """A municipality (or "elsewhere in Denmark") and its residents, None when withheld."""

    id: str
    residents: int | None


@dataclass(frozen=True)
class Region:
    """A region, its residents (None when withheld) and, for Denmark and Skåne, its areas."""

    id: str
    residents: int | None
    areas: tuple[Area, ...]


@dataclass(frozen=True)
class Breakdown:
    """All residents of one figure, by region and municipality, rules applied."""

    total: int | None
    regions: tuple[Region, ...]

    def region(self, region_id: str) -> Region:
        """The region with this id."""
        return next(region for region in self.regions if region.id == region_id)

    def area(self, area_id: str) -> Area | None:
        """The municipality with this id, if the breakdown has it."""
        for region in self.regions:
            for area in region.areas:
                if area.id == area_id:
                    return area
        return None


def breakdown(counts: Mapping[str | None, int]) -> Breakdown:
    """Residents by stored municipality value, grouped and with small counts withheld."""
    per_region = dict.fromkeys(REGIONS, 0)
    per_area: dict[str, dict[str, int]] = {
        region: dict.fromkeys(areas, 0) for region, areas in _AREAS_OF.items()
    }
    for value, count in counts.items():
        region, area = place_of(value)
        per_region[region] += count
        if area is not None:
            per_area[region][area] += count
    total = sum(per_region.values())
    regions = withhold(per_region)
    return Breakdown(
        total=total if shown(total) else None,
        regions=tuple(
            Region(
                id=region,
                residents=regions[region],
                areas=_areas(per_area.get(region, {}), regions[region] is None),
            )
            for region in REGIONS
        ),
    )


def _areas(counts: Mapping[str, int], region_withheld: bool) -> tuple[Area, ...]:
    if region_withheld:
        shown_counts: dict[str, int | None] = {
            key: 0 if count == 0 else None for key, count in counts.items()
        }
    else:
        shown_counts = withhold(counts)
    return tuple(Area(key, count) for key, count in shown_counts.items())


@dataclass(frozen=True)
class Share:
    """Residents of a part of an audience and their share (percent of those who said where
    they live); both None when withheld (rule 4)."""

    residents: int | None
    percent: float | None


WITHHELD: Final = Share(None, None)


def _share(part: int | None, said: int | None) -> Share:
    if part is None or said is None:
        return WITHHELD
    return Share(part, round(100.0 * part / said, 1) if said else None)


def said_total(figures: Breakdown) -> int | None:
    """Residents who said where they live, when the figures it is made of are shown."""
    not_said = figures.region(NOT_SAID).residents
    if figures.total is None or not_said is None:
        return None
    return figures.total - not_said


def other_municipality(figures: Breakdown, municipality: str | None) -> Share:
    """Residents who live in another municipality than ``municipality`` (None: not known)."""
    said = said_total(figures)
    own = figures.area(municipality) if municipality else None
    if own is None or own.residents is None or said is None:
        return WITHHELD
    return _share(said - own.residents, said)


def other_country(figures: Breakdown, country: str) -> Share:
    """Residents who live in the other country than ``country`` (DK or SE)."""
    said = said_total(figures)
    parts = [figures.region(region).residents for region in OTHER_COUNTRY.get(country, ())]
    if said is None or not parts or any(part is None for part in parts):
        return WITHHELD
    return _share(sum(part or 0 for part in parts), said)
