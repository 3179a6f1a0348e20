"""Digest campaigns: staff choose a period and topics; the events of the member institutions'
feeds fill the campaign body's ``{{ digest }}`` block, grouped by municipality and date.

Readers see their own municipality's events first. That ordering is computed here once per
municipality with events (and reader language) when staff save the digest, and stored as
finished blocks: the mailer only picks a reader's block by their municipality, so the work per
message stays one look-up however many events and recipients there are. Readers of any other
municipality (or none) get the block without a section of their own first, which the public
archive shows too. Pinned events lead every block; dropped events are left out."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Final
from zoneinfo import ZoneInfo

import structlog
from babel.dates import format_date, format_time
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup
from sqlalchemy.ext.asyncio import AsyncSession

from services.campaigns import queries
from services.campaigns.campaigns import campaign_row
from services.campaigns.errors import N_, Conflict, InvalidInput
from services.campaigns.queries.digests import DigestChoice, EventRow
from shared.clock import utcnow
from shared.html_text import html_to_text
from shared.municipalities import BY_ID
from shared.statuses import CampaignStatus

log = structlog.get_logger(__name__)

# The period's days are Copenhagen days (the organisation's own; Stockholm's are the same).
PERIOD_ZONE: Final = ZoneInfo("Europe/Copenhagen")
MAX_PERIOD_DAYS: Final = 62
LANGUAGES: Final = ("da", "sv", "en")
# The block's own words, in each reader's language (as the mail footer's).
_WORDS: Final = {
    "da": {"pinned": "Fremhævet", "region": "Hele regionen", "all_day": "hele dagen"},
    "sv": {"pinned": "Utvalda", "region": "Hela regionen", "all_day": "hela dagen"},
    "en": {"pinned": "Highlights", "region": "Across the region", "all_day": "all day"},
}
_ENV = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates" / "digest"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    undefined=StrictUndefined,
    auto_reload=False,
)


@dataclass(frozen=True, slots=True)
class ShownEvent:
    """An event as a block shows it."""

    title: str
    when: str
    place: str | None
    institution: str
    link: str | None
    image_url: str | None


@dataclass(slots=True)
class Day:
    """A day's heading and its events."""

    heading: str
    events: list[ShownEvent] = field(default_factory=list)


@dataclass(slots=True)
class Section:
    """A block's section: the pinned events, or one municipality's, by day."""

    heading: str
    days: list[Day] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Digest:
    """A digest campaign's choice and the events on offer for it."""

    campaign_id: int
    choice: DigestChoice
    events: list[EventRow]
    blocks: int


def period_bounds(starts_on: date, ends_on: date) -> tuple[datetime, datetime]:
    """The period's first instant and the instant after its last day, in UTC."""
    start = datetime.combine(starts_on, time(0), tzinfo=PERIOD_ZONE)
    end = datetime.combine(ends_on + timedelta(days=1), time(0), tzinfo=PERIOD_ZONE)
    return start.astimezone(UTC), end.astimezone(UTC)


def check_choice(
    starts_on: date, ends_on: date, list_ids: Sequence[int], known_lists: Iterable[int]
) -> None:
    """InvalidInput naming each field of a choice that cannot make a digest."""
    errors: dict[str, str] = {}
    if ends_on < starts_on:
        errors["ends_on"] = N_("the period ends before it starts")
    elif (ends_on - starts_on).days >= MAX_PERIOD_DAYS:
        errors["ends_on"] = N_("a digest covers at most 62 days")
    if not list_ids:
        errors["lists"] = N_("choose at least one topic")
    elif set(list_ids) - set(known_lists):
        errors["lists"] = N_("no such list")
    if errors:
        raise InvalidInput(N_("the digest cannot be saved"), errors)


async def offered_events(session: AsyncSession, choice: DigestChoice) -> list[EventRow]:
    """The events of the chosen period and topics, by start."""
    start, end = period_bounds(choice.starts_on, choice.ends_on)
    return await queries.events_between(session, start, end, choice.list_ids)


async def get_digest(session: AsyncSession, campaign_id: int) -> Digest | None:
    """The campaign's digest with the events on offer, or None when it has none."""
    choice = await queries.digest_choice(session, campaign_id)
    if choice is None:
        return None
    found = await offered_events(session, choice)
    return Digest(campaign_id, choice, found, 0)


async def save_digest(session: AsyncSession, campaign_id: int, choice: DigestChoice) -> Digest:
    """Store a draft's digest choice and compute its blocks; Conflict once it is no draft,
    InvalidInput for a choice that cannot make a digest."""
    row = await campaign_row(session, campaign_id)
    if row.status != CampaignStatus.DRAFT:
        raise Conflict(N_("only a draft's digest can be changed"), {"status": row.status})
    check_choice(
        choice.starts_on,
        choice.ends_on,
        choice.list_ids,
        [item.id for item in await queries.all_lists(session)],
    )
    found = await offered_events(session, choice)
    blocks = render_blocks(found, choice.pinned, choice.dropped)
    await queries.save_digest(session, campaign_id, choice, blocks, utcnow())
    await session.commit()
    log.info("digest.saved", campaign_id=campaign_id, events=len(found), blocks=len(blocks))
    return Digest(campaign_id, choice, found, len(blocks))


def render_blocks(
    found: Sequence[EventRow], pinned: frozenset[int], dropped: frozenset[int]
) -> dict[tuple[str, str], tuple[str, str]]:
    """The blocks of a digest, (language, municipality) to (html, text): one per municipality
    that has events, and '' for every other reader."""
    shown = [event for event in found if event.id not in dropped]
    municipalities = sorted({event.municipality for event in shown if event.municipality})
    blocks: dict[tuple[str, str], tuple[str, str]] = {}
    for language in LANGUAGES:
        for municipality in ("", *municipalities):
            html = _ENV.get_template("block.html").render(
                sections=sections_for(shown, municipality, pinned, language)
            )
            blocks[(language, municipality)] = (html, html_to_text(html))
    return blocks


def sections_for(
    found: Sequence[EventRow], municipality: str, pinned: frozenset[int], language: str
) -> list[Section]:
    """A reader's sections: pinned events, their own municipality's, then the others' by
    name, then the events of no municipality; each section by day."""
    words = _WORDS[language]
    sections: list[Section] = []
    highlights = [event for event in found if event.id in pinned]
    if highlights:
        sections.append(_section(words["pinned"], highlights, language))
    rest = [event for event in found if event.id not in pinned]
    by_place: dict[str, list[EventRow]] = {}
    for event in rest:
        by_place.setdefault(event.municipality or "", []).append(event)

    def order(place: str) -> tuple[int, str]:
        if place == municipality and place:
            return (0, "")
        return (2, "") if not place else (1, _place_name(place))

    for place in sorted(by_place, key=order):
        heading = _place_name(place) if place else words["region"]
        sections.append(_section(heading, by_place[place], language))
    return sections


def _place_name(municipality: str) -> str:
    found = BY_ID.get(municipality)
    return found.name if found else municipality


def _section(heading: str, found: Sequence[EventRow], language: str) -> Section:
    section = Section(heading)
    days: dict[date, Day] = {}
    for event in sorted(found, key=lambda item: item.starts_at):
        local = event.starts_at.astimezone(ZoneInfo(event.time_zone))
        day = days.get(local.date())
        if day is None:
            day = days[local.date()] = Day(
                format_date(local.date(), "EEEE d. MMMM", locale=language).capitalize()
            )
            section.days.append(day)
        when = (
            _WORDS[language]["all_day"]
            if event.all_day
            else format_time(local, "HH:mm", locale=language)
        )
        day.events.append(
            ShownEvent(
                title=event.title,
                when=when,
                place=event.place,
                institution=event.institution,
                link=event.link,
                image_url=event.image_url,
            )
        )
    return section


def preview_block(
    found: Sequence[EventRow],
    municipality: str,
    pinned: frozenset[int],
    dropped: frozenset[int],
    language: str,
) -> Markup:
    """The block a reader of ``municipality`` and ``language`` would get, as HTML."""
    shown = [event for event in found if event.id not in dropped]
    # The block template escapes every value of the events.
    return Markup(  # noqa: S704
        _ENV.get_template("block.html").render(
            sections=sections_for(shown, municipality, pinned, language)
        )
    )


def has_digest_tag(body: str) -> bool:
    """Whether a campaign body places the digest (``{{ digest }}``)."""
    return _DIGEST_TAG.search(body) is not None


_DIGEST_TAG: Final = re.compile(r"\{\{-?\s*digest\s*-?\}\}")
