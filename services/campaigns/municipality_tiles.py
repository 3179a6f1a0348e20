"""A map-like view of the region: one square tile per municipality on a fixed grid, coloured by
the share of an audience living there, drawn as SVG on the server (no map tiles, no network).

The grid keeps each municipality near its neighbours (Jutland and Funen to the west, Zealand
and the Copenhagen area in the middle, Skåne across the Øresund, Bornholm to the east); it is
a sketch, not a map. A tile grid alone says nothing to a screen reader, so the page shows the
same figures as a table.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from markupsafe import Markup, escape

from shared.municipalities import BY_ID

# (column, row) of every municipality's tile.
_ROWS: Final[tuple[tuple[tuple[int, str], ...], ...]] = (
    # row 0
    ((2, "dk-hjoerring"), (3, "dk-frederikshavn"), (4, "dk-laesoe"), (11, "dk-halsnaes"),
     (12, "dk-gribskov"), (13, "dk-helsingoer"), (17, "se-baastad"), (18, "se-orkelljunga"),
     (20, "se-osby")),
    # row 1
    ((0, "dk-thisted"), (1, "dk-jammerbugt"), (2, "dk-broenderslev"), (3, "dk-aalborg"),
     (10, "dk-frederikssund"), (11, "dk-hilleroed"), (12, "dk-fredensborg"),
     (13, "dk-hoersholm"), (16, "se-hoganas"), (17, "se-angelholm"), (18, "se-klippan"),
     (19, "se-perstorp"), (20, "se-hassleholm"), (21, "se-ostra-goinge")),
    # row 2
    ((0, "dk-morsoe"), (1, "dk-vesthimmerland"), (2, "dk-rebild"), (3, "dk-mariagerfjord"),
     (7, "dk-odsherred"), (9, "dk-egedal"), (10, "dk-furesoe"), (11, "dk-alleroed"),
     (12, "dk-rudersdal"), (13, "dk-lyngby-taarbaek"), (16, "se-helsingborg"), (17, "se-bjuv"),
     (18, "se-aastorp"), (20, "se-kristianstad"), (21, "se-bromolla")),
    # row 3
    ((0, "dk-struer"), (1, "dk-skive"), (2, "dk-viborg"), (3, "dk-randers"),
     (4, "dk-norddjurs"), (6, "dk-kalundborg"), (7, "dk-holbaek"), (10, "dk-ballerup"),
     (11, "dk-herlev"), (12, "dk-gladsaxe"), (13, "dk-gentofte"), (16, "se-landskrona"),
     (17, "se-svalov"), (18, "se-eslov"), (19, "se-hoor"), (20, "se-horby")),
    # row 4
    ((0, "dk-lemvig"), (1, "dk-holstebro"), (2, "dk-silkeborg"), (3, "dk-favrskov"),
     (4, "dk-syddjurs"), (7, "dk-lejre"), (8, "dk-roskilde"), (9, "dk-hoeje-taastrup"),
     (10, "dk-albertslund"), (11, "dk-glostrup"), (12, "dk-roedovre"),
     (13, "dk-frederiksberg"), (14, "dk-koebenhavn"), (16, "se-kavlinge"), (17, "se-lund"),
     (19, "se-sjobo"), (20, "se-tomelilla"), (21, "se-simrishamn")),
    # row 5
    ((0, "dk-ringkoebing-skjern"), (1, "dk-herning"), (2, "dk-ikast-brande"),
     (3, "dk-skanderborg"), (4, "dk-aarhus"), (5, "dk-samsoe"), (6, "dk-slagelse"),
     (7, "dk-soroe"), (8, "dk-ringsted"), (9, "dk-ishoej"), (10, "dk-vallensbaek"),
     (11, "dk-broendby"), (12, "dk-hvidovre"), (13, "dk-taarnby"), (14, "dk-dragoer"),
     (16, "se-lomma"), (17, "se-burlov"), (18, "se-staffanstorp")),
    # row 6
    ((0, "dk-varde"), (1, "dk-billund"), (2, "dk-hedensted"), (3, "dk-horsens"),
     (4, "dk-odder"), (6, "dk-naestved"), (7, "dk-faxe"), (8, "dk-koege"), (9, "dk-greve"),
     (10, "dk-solroed"), (16, "se-malmo"), (17, "se-svedala"), (18, "se-skurup"),
     (19, "se-ystad")),
    # row 7
    ((0, "dk-esbjerg"), (1, "dk-vejen"), (2, "dk-vejle"), (3, "dk-fredericia"),
     (7, "dk-vordingborg"), (8, "dk-stevns"), (16, "se-vellinge"), (17, "se-trelleborg"),
     (21, "dk-bornholm")),
    # row 8
    ((0, "dk-fanoe"), (1, "dk-haderslev"), (2, "dk-kolding"), (3, "dk-middelfart"),
     (4, "dk-nordfyns"), (5, "dk-kerteminde"), (6, "dk-lolland"), (7, "dk-guldborgsund")),
    # row 9
    ((0, "dk-toender"), (1, "dk-aabenraa"), (2, "dk-soenderborg"), (3, "dk-assens"),
     (4, "dk-odense"), (5, "dk-nyborg")),
    # row 10
    ((3, "dk-faaborg-midtfyn"), (4, "dk-svendborg"), (5, "dk-langeland")),
    # row 11
    ((4, "dk-aeroe"),),
)  # fmt: skip

PLACES: Final[Mapping[str, tuple[int, int]]] = {
    municipality: (column, row) for row, tiles in enumerate(_ROWS) for column, municipality in tiles
}
COLUMNS: Final = 1 + max(column for column, _ in PLACES.values())
ROWS: Final = len(_ROWS)
TILE: Final = 44
GAP: Final = 3


def _labels() -> dict[str, str]:
    # Three letters per tile, unique: the name's first two and the first later letter that no
    # other tile uses with them (the Frederik… towns get "Frd", "Fri", "Frk", …).
    labels: dict[str, str] = {}
    taken: set[str] = set()
    for municipality in sorted(PLACES, key=lambda key: BY_ID[key].name):
        name = BY_ID[municipality].name.replace(" ", "").replace("-", "")
        label = next(
            (name[:2] + char for char in name[2:] if (name[:2] + char).casefold() not in taken),
            name[:3],
        )
        taken.add(label.casefold())
        labels[municipality] = label
    return labels


LABELS: Final[Mapping[str, str]] = _labels()


@dataclass(frozen=True)
class Shade:
    """One class of the colour scale: fill, text colour and its legend text."""

    key: str
    fill: str
    text: str


# Light to dark blue; the text colour on each keeps 4.5:1 (WCAG 1.4.3). Withheld tiles are grey.
SHADES: Final = (
    Shade("none", "#ffffff", "#1b1b1b"),
    Shade("withheld", "#d9d9d9", "#1b1b1b"),
    Shade("low", "#deebf7", "#1b1b1b"),
    Shade("some", "#9ecae1", "#1b1b1b"),
    Shade("many", "#2f6fae", "#ffffff"),
    Shade("most", "#08306b", "#ffffff"),
)
_BY_KEY: Final = {shade.key: shade for shade in SHADES}
# Upper bounds (percent of the audience) of "low", "some" and "many".
BOUNDS: Final = (2.0, 10.0, 25.0)


def shade_of(residents: int | None, said: int | None) -> Shade:
    """The colour class of a tile: its residents' share of those who said where they live."""
    if residents is None:
        return _BY_KEY["withheld"]
    if residents == 0 or not said:
        return _BY_KEY["none"]
    percent = 100.0 * residents / said
    for key, bound in zip(("low", "some", "many"), BOUNDS, strict=True):
        if percent <= bound:
            return _BY_KEY[key]
    return _BY_KEY["most"]


def tile_grid(
    caption: str,
    residents: Mapping[str, int | None],
    said: int | None,
    *,
    highlight: str | None = None,
    withheld_text: str = "<5",
) -> Markup:
    """The tile grid as an SVG image named by ``caption``; ``highlight`` gets a thick border
    (the site's own municipality)."""
    width = COLUMNS * (TILE + GAP)
    height = ROWS * (TILE + GAP)
    parts = []
    for municipality, (column, row) in PLACES.items():
        count = residents.get(municipality, 0)
        shade = shade_of(count, said)
        x, y = column * (TILE + GAP), row * (TILE + GAP)
        border = 4 if municipality == highlight else 1
        value = withheld_text if count is None else str(count)
        name = BY_ID[municipality].name
        parts.append(
            f"<g><title>{escape(name)}: {escape(value)}</title>"
            f'<rect x="{x + border / 2}" y="{y + border / 2}" width="{TILE - border}" '
            f'height="{TILE - border}" fill="{shade.fill}" stroke="#1b1b1b" '
            f'stroke-width="{border}"/>'
            f'<text x="{x + TILE / 2}" y="{y + 18}" fill="{shade.text}" font-size="13" '
            f'text-anchor="middle" font-weight="600">{escape(LABELS[municipality])}</text>'
            f'<text x="{x + TILE / 2}" y="{y + 35}" fill="{shade.text}" font-size="12" '
            f'text-anchor="middle">{escape(value) if count else ""}</text></g>'
        )
    # Every text in here is escaped; the rest is fixed markup.
    return Markup(  # noqa: S704
        f'<svg class="tiles" role="img" aria-label="{escape(caption)}" focusable="false" '
        f'viewBox="0 0 {width} {height}" xmlns="http://www.w3.org/2000/svg" '
        f'font-family="system-ui, sans-serif">{"".join(parts)}</svg>'
    )
