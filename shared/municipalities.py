"""Reference list of the municipalities KulturMetropolØresund serves: Denmark's 98 and Skåne's 33.

Residents pick one (optional); staff segment by it. Ids are stable ASCII slugs prefixed with the
country, so a stored value never depends on spelling or letter case.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

_DK: Final = (
    "Albertslund", "Allerød", "Assens", "Ballerup", "Billund", "Bornholm", "Brøndby",
    "Brønderslev", "Dragør", "Egedal", "Esbjerg", "Fanø", "Favrskov", "Faxe", "Fredensborg",
    "Fredericia", "Frederiksberg", "Frederikshavn", "Frederikssund", "Furesø", "Faaborg-Midtfyn",
    "Gentofte", "Gladsaxe", "Glostrup", "Greve", "Gribskov", "Guldborgsund", "Haderslev",
    "Halsnæs", "Hedensted", "Helsingør", "Herlev", "Herning", "Hillerød", "Hjørring", "Holbæk",
    "Holstebro", "Horsens", "Hvidovre", "Høje-Taastrup", "Hørsholm", "Ikast-Brande", "Ishøj",
    "Jammerbugt", "Kalundborg", "Kerteminde", "Kolding", "København", "Køge", "Langeland",
    "Lejre", "Lemvig", "Lolland", "Lyngby-Taarbæk", "Læsø", "Mariagerfjord", "Middelfart",
    "Morsø", "Norddjurs", "Nordfyns", "Nyborg", "Næstved", "Odder", "Odense", "Odsherred",
    "Randers", "Rebild", "Ringkøbing-Skjern", "Ringsted", "Roskilde", "Rudersdal", "Rødovre",
    "Samsø", "Silkeborg", "Skanderborg", "Skive", "Slagelse", "Solrød", "Sorø", "Stevns",
    "Struer", "Svendborg", "Syddjurs", "Sønderborg", "Thisted", "Tønder", "Tårnby",
    "Vallensbæk", "Varde", "Vejen", "Vejle", "Vesthimmerland", "Viborg", "Vordingborg", "Ærø",
    "Aabenraa", "Aalborg", "Aarhus",
)  # fmt: skip

_SKANE: Final = (
    "Bjuv", "Bromölla", "Burlöv", "Båstad", "Eslöv", "Helsingborg", "Hässleholm", "Höganäs",
    "Hörby", "Höör", "Klippan", "Kristianstad", "Kävlinge", "Landskrona", "Lomma", "Lund",
    "Malmö", "Osby", "Perstorp", "Simrishamn", "Sjöbo", "Skurup", "Staffanstorp", "Svalöv",
    "Svedala", "Tomelilla", "Trelleborg", "Vellinge", "Ystad", "Åstorp", "Ängelholm",
    "Örkelljunga", "Östra Göinge",
)  # fmt: skip

_ASCII: Final = str.maketrans(
    {"æ": "ae", "ø": "oe", "å": "aa", "ä": "a", "ö": "o", " ": "-", "é": "e"}
)


@dataclass(frozen=True)
class Municipality:
    """One municipality: stable id, display name and country (DK or SE)."""

    id: str
    name: str
    country: str


def _slug(country: str, name: str) -> str:
    return f"{country.lower()}-{name.lower().translate(_ASCII)}"


MUNICIPALITIES: Final[tuple[Municipality, ...]] = tuple(
    [Municipality(_slug("DK", name), name, "DK") for name in _DK]
    + [Municipality(_slug("SE", name), name, "SE") for name in _SKANE]
)

BY_ID: Final[dict[str, Municipality]] = {m.id: m for m in MUNICIPALITIES}


def find_municipality(value: str) -> Municipality | None:
    """Look a municipality up by id or by name (case-insensitive)."""
    found = BY_ID.get(value.strip().lower())
    if found is not None:
        return found
    wanted = value.strip().casefold()
    return next((m for m in MUNICIPALITIES if m.name.casefold() == wanted), None)


# Places a resident may give instead of one of the municipalities above: the rest of each
# country, and abroad. The country prefix lets figures that classify ids by ``dk-``/``se-``
# count them with their country; "abroad" has none.
DK_ELSEWHERE: Final = "dk-elsewhere"
SE_ELSEWHERE: Final = "se-elsewhere"
ABROAD: Final = "abroad"
ELSEWHERE: Final[tuple[str, ...]] = (DK_ELSEWHERE, SE_ELSEWHERE, ABROAD)
