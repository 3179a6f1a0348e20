"""Staff look subscribers up: search by prefix of the address or the name, and one
subscriber's page (lists, consent history, recent deliveries).

Searches match prefixes only, through indexes (migration 0013), so they stay fast at a
million subscribers; the input is taken literally (``%`` and ``_`` are not wildcards).
"""

from __future__ import annotations

from typing import Final, Literal

from sqlalchemy.ext.asyncio import AsyncSession

from services.campaigns import queries
from services.campaigns.audience_schemas import (
    ConsentOut,
    CustomValueOut,
    DeliveryOut,
    MembershipOut,
    SubscriberOut,
    SubscriberPage,
    SubscriberSummary,
)
from services.campaigns.errors import N_, InvalidInput, NotFound
from services.campaigns.queries import audience
from services.campaigns.queries.common import MAX_ID
from services.campaigns.schemas import Names
from shared.addresses import address_identity
from shared.municipalities import BY_ID
from shared.statuses import DeliveryStatus

SearchBy = Literal["email", "name"]
SEARCH_FIELDS: Final = ("email", "name")
MAX_PAGE: Final = 50
MAX_QUERY: Final = 320
HISTORY_LIMIT: Final = 100
DELIVERIES_LIMIT: Final = 20
# The SMTP answer is shown for copies that did not arrive.
_FAILED: Final = frozenset({DeliveryStatus.FAILED, DeliveryStatus.BOUNCED})


def search_key(text: str, by: SearchBy) -> str:
    """The prefix to look for: the identity-key form of an address, or a lower-case name."""
    text = text.strip()
    return text.lower() if by == "name" else address_identity(text)


async def search(
    session: AsyncSession,
    q: str,
    *,
    by: str = "email",
    cursor: int | None = None,
    limit: int = MAX_PAGE,
) -> SubscriberPage:
    """One page of subscribers whose address (identity key) or name starts with ``q``."""
    errors = {}
    if by not in SEARCH_FIELDS:
        errors["by"] = "must be email or name"
    if len(q) > MAX_QUERY:
        errors["q"] = f"must be at most {MAX_QUERY} characters"
    elif "\x00" in q:  # no stored text holds one, and PostgreSQL refuses it in a parameter
        errors["q"] = "must not contain NUL characters"
    if not 1 <= limit <= MAX_PAGE:
        errors["limit"] = f"must be between 1 and {MAX_PAGE}"
    if cursor is not None and not 1 <= cursor <= MAX_ID:
        errors["cursor"] = "is not a valid cursor"
    if errors:
        raise InvalidInput(N_("the search is not valid"), errors)
    prefix = search_key(q, "name" if by == "name" else "email")
    if not prefix:
        return SubscriberPage(items=[], next_cursor=None)
    find = (
        audience.subscribers_by_name_prefix if by == "name" else audience.subscribers_by_key_prefix
    )
    hits = await find(session, prefix, cursor, limit + 1)
    items = [
        SubscriberSummary(
            id=hit.id,
            email=hit.email,
            name=hit.name,
            language=hit.language,
            status=hit.status,
            created_at=hit.created_at,
        )
        for hit in hits[:limit]
    ]
    return SubscriberPage(items=items, next_cursor=items[-1].id if len(hits) > limit else None)


async def get_subscriber(session: AsyncSession, subscriber_id: int) -> SubscriberOut:
    """Everything staff see about one subscriber."""
    row = (
        await audience.subscriber_by_id(session, subscriber_id)
        if 1 <= subscriber_id <= MAX_ID
        else None
    )
    if row is None:
        raise NotFound("subscriber", subscriber_id)
    fields = {field.key: field for field in await queries.all_fields(session)}
    municipality = BY_ID.get(row.municipality or "")
    return SubscriberOut(
        id=row.id,
        email=row.email,
        name=row.name,
        language=row.language,
        status=row.status,
        municipality=row.municipality,
        municipality_name=municipality.name if municipality else None,
        source_site=row.source_site,
        created_at=row.created_at,
        updated_at=row.updated_at,
        custom_fields=[
            CustomValueOut(
                key=key,
                labels=(
                    Names(da=fields[key].label_da, sv=fields[key].label_sv, en=fields[key].label_en)
                    if key in fields
                    else None
                ),
                value=value,
            )
            for key, value in sorted(row.custom_values.items())
        ],
        lists=[
            MembershipOut(
                list=item.slug,
                names=Names(da=item.name_da, sv=item.name_sv, en=item.name_en),
                state=item.state,
                requested_at=item.requested_at,
                confirmed_at=item.confirmed_at,
                unsubscribed_at=item.unsubscribed_at,
            )
            for item in await audience.memberships(session, row.id)
        ],
        consent=[
            ConsentOut(
                at=event.at,
                list=event.slug,
                event=event.event,
                form=event.form,
                language=event.language,
                source_site=event.source_site,
            )
            for event in await audience.consent_history(session, row.id, HISTORY_LIMIT)
        ],
        deliveries=[
            DeliveryOut(
                campaign_id=item.campaign_id,
                subject=item.subject,
                status=item.status,
                at=item.at,
                smtp_code=item.last_code if item.status in _FAILED else None,
                smtp_response=item.last_response if item.status in _FAILED else None,
            )
            for item in await audience.recent_deliveries(session, row.id, DELIVERIES_LIMIT)
        ],
    )


async def subscriber_address(session: AsyncSession, subscriber_id: int) -> str:
    """The address of a subscriber, for a GDPR request staff start from its page."""
    return (await get_subscriber(session, subscriber_id)).email
