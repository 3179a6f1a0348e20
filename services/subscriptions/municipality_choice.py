"""The municipality a resident may give: one of the region's municipalities
(shared/municipalities.py) or a broader place outside them. Sign-up forms (when their site asks)
and the preference center offer the same choices and accept the same values.

The broader places are shared/municipalities.py's ``ELSEWHERE`` ids.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from services.subscriptions.i18n import N_
from shared.municipalities import ABROAD, BY_ID, DK_ELSEWHERE, MUNICIPALITIES, SE_ELSEWHERE

MAX_LENGTH: Final = 100
# Places outside the listed municipalities, in the order the form offers them.
ELSEWHERE: Final = (
    (DK_ELSEWHERE, N_("Elsewhere in Denmark")),
    (SE_ELSEWHERE, N_("Elsewhere in Sweden")),
    (ABROAD, N_("Abroad")),
)
ELSEWHERE_IDS: Final = frozenset(value for value, _ in ELSEWHERE)
COUNTRY_GROUPS: Final = (("DK", N_("Denmark")), ("SE", N_("Skåne")))
OTHER_GROUP: Final = N_("Other places")

if TYPE_CHECKING:
    from services.subscriptions.pages import Renderer

Groups = list[tuple[str, list[tuple[str, str]]]]


def is_known(value: str) -> bool:
    """Whether ``value`` is an id a resident may choose."""
    return value in BY_ID or value in ELSEWHERE_IDS


def groups(renderer: Renderer, lang: str) -> Groups:
    """The choices for a ``<select>`` in ``lang``: (group label, [(id, name)]), Denmark, then
    Skåne, then the broader places."""
    countries = [
        (
            renderer.gettext(lang, label),
            [(m.id, m.name) for m in MUNICIPALITIES if m.country == country],
        )
        for country, label in COUNTRY_GROUPS
    ]
    other = [(value, renderer.gettext(lang, label)) for value, label in ELSEWHERE]
    return [*countries, (renderer.gettext(lang, OTHER_GROUP), other)]
