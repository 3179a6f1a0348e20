"""Member sites as the public side sees them, looked up by key and cached briefly in-process.

Every widget page view and JSON sign-up asks for its site (origins, proof-of-work flag,
defaults); a short cache keeps that off the database. Staff changes show within ``ttl``
seconds.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.subscriptions import queries
from shared.languages import DEFAULT_LANGUAGE, LANGUAGES

DEFAULT_TTL: Final = 30.0
# Unknown keys are cached too (so a flood of made-up keys is cheap); the bound keeps that small.
MAX_ENTRIES: Final = 1024


@dataclass(frozen=True)
class Site:
    """A member site: where its forms may run from and what they default to."""

    id: int
    key: str
    name: str
    allowed_origins: frozenset[str]
    default_lists: tuple[str, ...]
    default_language: str
    thank_you_url: str | None
    require_proof_of_work: bool
    # Its forms offer the optional municipality field.
    asks_municipality: bool = False


def site_from_row(row: queries.SiteRow) -> Site:
    """A Site from its stored row; an unusable default language falls back to Danish."""
    language = row.default_language if row.default_language in LANGUAGES else DEFAULT_LANGUAGE
    return Site(
        id=row.id,
        key=row.key,
        name=row.name,
        allowed_origins=frozenset(row.allowed_origins),
        default_lists=tuple(row.default_lists),
        default_language=language,
        thank_you_url=row.thank_you_url or None,
        require_proof_of_work=row.require_proof_of_work,
        asks_municipality=row.asks_municipality,
    )


class SiteDirectory:
    """Sites by key, and the union of all allowed origins, each cached for ``ttl`` seconds."""

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        *,
        ttl: float = DEFAULT_TTL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._ttl = ttl
        self._clock = clock
        self._sites: dict[str, tuple[float, Site | None]] = {}
        self._origins: tuple[float, frozenset[str]] | None = None
        self._any_proof_of_work: tuple[float, bool] | None = None

    async def get(self, key: str) -> Site | None:
        """The site with this key, or None when there is none."""
        now = self._clock()
        cached = self._sites.get(key)
        if cached is not None and cached[0] > now:
            return cached[1]
        async with self._sessionmaker() as session, session.begin():
            row = await queries.get_site_by_key(session, key)
        site = site_from_row(row) if row else None
        if len(self._sites) >= MAX_ENTRIES:
            self._sites = {k: v for k, v in self._sites.items() if v[0] > now}
            if len(self._sites) >= MAX_ENTRIES:
                self._sites.clear()
        self._sites[key] = (now + self._ttl, site)
        return site

    async def any_site_allows(self, origin: str) -> bool:
        """Whether some member site lists ``origin`` (preflights do not say which site)."""
        now = self._clock()
        if self._origins is None or self._origins[0] <= now:
            async with self._sessionmaker() as session, session.begin():
                origins = frozenset(await queries.get_all_allowed_origins(session))
            self._origins = (now + self._ttl, origins)
        return origin in self._origins[1]

    async def any_site_requires_proof_of_work(self) -> bool:
        """Whether some member site asks its sign-ups for a proof of work."""
        now = self._clock()
        if self._any_proof_of_work is None or self._any_proof_of_work[0] <= now:
            async with self._sessionmaker() as session, session.begin():
                required = await queries.any_site_requires_proof_of_work(session)
            self._any_proof_of_work = (now + self._ttl, required)
        return self._any_proof_of_work[1]

    def forget(self) -> None:
        """Drop everything cached (tests and staff-triggered reloads)."""
        self._sites.clear()
        self._origins = None
        self._any_proof_of_work = None
