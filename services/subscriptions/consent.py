"""Consent records: which consent text a resident agreed to, when, where, and its withdrawal.

Each list gets its own events: ``requested`` at sign-up, ``confirmed`` when the double opt-in
link is used, ``withdrawn`` on unsubscribing. Events of youth lists say who consented: the
resident, or a parent or guardian for a resident under the age of digital consent. The text
on the sign-up form is versioned: change ``CONSENT_TEXT`` and you must add a new version here
(the old msgid stays in the catalogs so an exported record can still show the words it stands
for).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from sqlalchemy.ext.asyncio import AsyncSession

from services.subscriptions import queries
from services.subscriptions.i18n import N_
from services.subscriptions.queries import ConsentRecord
from shared.statuses import ConsentEvent

CONSENT_TEXT_VERSION: Final = "2026-11-1"
CONSENT_TEXT: Final = N_(
    "Yes, I want to receive the newsletters I have chosen. I can unsubscribe at any time."
)
# The plain HTML form staff paste on member sites (the campaigns service's snippet) words
# consent its own way and sends this version with it.
SNIPPET_CONSENT_TEXT_VERSION: Final = "2026-11-snippet-1"
SNIPPET_CONSENT_TEXT: Final = N_(
    "Yes, please send me the selected newsletters by email. I can unsubscribe at any time."
)
# Every version ever shown, by version; translated per language with the catalogs.
CONSENT_TEXTS: Final[Mapping[str, str]] = {
    CONSENT_TEXT_VERSION: CONSENT_TEXT,
    SNIPPET_CONSENT_TEXT_VERSION: SNIPPET_CONSENT_TEXT,
}

# Where an event came from (consent_events.form).
FORMS: Final = (
    "form",  # the plain HTML form, ours or pasted on a member site
    "api",  # POST /subscribe with a JSON body from anything but the widget
    "json",  # what "api" and "widget" sign-ups were recorded as until they were told apart
    "widget",  # the script widget
    "embed",  # the iframe page
    "preferences",  # the preference center
    "import",  # a staff import
    "link",  # the confirm or unsubscribe link in a mail
    "staff",  # a staff request through the campaigns API
    "complaint",  # a spam complaint reported by a mailbox provider (withdrawal)
)
MAX_IP_LENGTH: Final = 45  # the longest textual IPv6 address
# Who gave a consent (consent_events.consented_by).
BY_RESIDENT: Final = "resident"
BY_GUARDIAN: Final = "guardian"


@dataclass(frozen=True)
class ConsentSource:
    """Where a consent event comes from: the form kind, the site and the client's IP."""

    form: str = "form"
    site_id: int | None = None
    ip: str | None = None
    # The consent text version the form showed; an unknown one is recorded as the current.
    text_version: str | None = None


def entry_point(*, is_json: bool, via: str | None) -> str:
    """The form a sign-up to POST /subscribe is recorded under: the plain HTML form, the
    widget (which says so in its JSON), or the API."""
    if not is_json:
        return "form"
    return "widget" if via == "widget" else "api"


async def record(
    session: AsyncSession,
    subscriber_id: int,
    event: ConsentEvent,
    list_ids: Collection[int],
    *,
    source: ConsentSource,
    language: str,
    now: datetime,
    record_ip: bool,
    consented_by: str | None = None,
) -> None:
    """Append one event per list; the IP is kept only when the setting asks for it.
    ``consented_by`` names who consented (youth lists say it)."""
    events = records(
        event,
        list_ids,
        source=source,
        language=language,
        now=now,
        record_ip=record_ip,
        consented_by=consented_by,
    )
    await queries.insert_consent_events(session, subscriber_id, events)


def records(
    event: ConsentEvent,
    list_ids: Collection[int],
    *,
    source: ConsentSource,
    language: str,
    now: datetime,
    record_ip: bool,
    consented_by: str | None = None,
) -> list[ConsentRecord]:
    """The records ``record`` appends, one per list in id order."""
    ip = _kept_ip(source.ip, record_ip)
    version = shown_version(source.text_version) if event == ConsentEvent.REQUESTED else None
    return [
        ConsentRecord(
            list_id=list_id,
            event=event,
            at=now,
            source_site_id=source.site_id,
            form=source.form if source.form in FORMS else "form",
            consent_text_version=version,
            language=language,
            ip=ip,
            consented_by=consented_by,
        )
        for list_id in sorted(set(list_ids))
    ]


async def record_confirmed(
    session: AsyncSession,
    subscriber_id: int,
    list_ids: Collection[int],
    *,
    language: str,
    now: datetime,
    ip: str | None,
    record_ip: bool,
    consented_by: str | None = None,
) -> None:
    """Record confirmations, each carrying the site, form and text version of its request;
    ``consented_by`` names who confirmed (else the request's)."""
    requests = await queries.get_latest_requests(session, subscriber_id, list_ids)
    kept_ip = _kept_ip(ip, record_ip)
    events = []
    for list_id in sorted(set(list_ids)):
        request = requests.get(list_id)
        events.append(
            ConsentRecord(
                list_id=list_id,
                event=ConsentEvent.CONFIRMED,
                at=now,
                source_site_id=request.source_site_id if request else None,
                form=request.form if request else "link",
                consent_text_version=request.consent_text_version if request else None,
                language=request.language if request else language,
                ip=kept_ip,
                consented_by=consented_by or (request.consented_by if request else None),
            )
        )
    await queries.insert_consent_events(session, subscriber_id, events)


def shown_version(version: str | None) -> str:
    """The version a form says it showed when it is one we know, else the current one."""
    if version is not None and version in CONSENT_TEXTS:
        return version
    return CONSENT_TEXT_VERSION


def _kept_ip(ip: str | None, record_ip: bool) -> str | None:
    # Off by default: an IP address is personal data and consent is provable without it.
    if not record_ip or not ip:
        return None
    return ip[:MAX_IP_LENGTH]
