"""Rows for the audience tests: subscribers in every state, consent events, deliveries."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from secrets import token_hex

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.schema import (
    campaigns,
    consent_events,
    deliveries,
    mailing_lists,
    member_sites,
    subscribers,
    subscriptions,
)


async def list_id(db: AsyncEngine, slug: str) -> int:
    async with db.connect() as conn:
        found = await conn.scalar(sa.select(mailing_lists.c.id).where(mailing_lists.c.slug == slug))
    assert found is not None
    return int(found)


async def add_subscriber(
    db: AsyncEngine,
    email: str,
    *,
    name: str | None = None,
    lists: dict[int, str] | None = None,
    bounced: bool = False,
    at: datetime | None = None,
    municipality: str | None = None,
    custom_values: dict[str, object] | None = None,
) -> int:
    """A subscriber with a subscription per ``lists`` entry (list id: state) and the consent
    events that state implies, at ``at``; its id."""
    at = at or datetime.now(UTC)
    async with db.begin() as conn:
        site = await conn.scalar(sa.select(sa.func.min(member_sites.c.id)))
        subscriber_id = int(
            (
                await conn.execute(
                    sa.insert(subscribers)
                    .values(
                        key=token_hex(16),
                        email=email,
                        name=name,
                        language="da",
                        status="bounced" if bounced else "active",
                        source_site_id=site,
                        created_at=at,
                        updated_at=at,
                        municipality=municipality,
                        custom_values=custom_values,
                        # As the subscriptions service keeps it with the subscriptions.
                        confirmed_lists=sum(
                            state == "confirmed" for state in (lists or {}).values()
                        ),
                    )
                    .returning(subscribers.c.id)
                )
            ).scalar_one()
        )
        for found_list, state in (lists or {}).items():
            await conn.execute(
                sa.insert(subscriptions).values(
                    subscriber_id=subscriber_id,
                    list_id=found_list,
                    status=state,
                    source_site_id=site,
                    requested_at=at,
                    confirmed_at=at if state != "pending" else None,
                    unsubscribed_at=at if state == "unsubscribed" else None,
                )
            )
            events = ["requested"]
            if state != "pending":
                events.append("confirmed")
            if state == "unsubscribed":
                events.append("withdrawn")
            for offset, event in enumerate(events):
                await conn.execute(
                    sa.insert(consent_events).values(
                        subscriber_id=subscriber_id,
                        list_id=found_list,
                        event=event,
                        at=at + timedelta(seconds=offset),
                        source_site_id=site,
                        form="embed",
                        language="da",
                    )
                )
    return subscriber_id


async def add_delivery(
    db: AsyncEngine, subscriber_id: int, subject: str, status: str, response: str | None = None
) -> int:
    """A campaign and this subscriber's copy of it; the campaign id."""
    now = datetime.now(UTC)
    async with db.begin() as conn:
        campaign_id = int(
            (
                await conn.execute(
                    sa.insert(campaigns)
                    .values(
                        subject=subject,
                        body="<p>x</p>",
                        status="sent",
                        created_at=now,
                        updated_at=now,
                    )
                    .returning(campaigns.c.id)
                )
            ).scalar_one()
        )
        await conn.execute(
            sa.insert(deliveries).values(
                campaign_id=campaign_id,
                subscriber_id=subscriber_id,
                status=status,
                attempts=1,
                last_code=550 if response else 250,
                last_response=response or "2.0.0 OK",
                message_id=f"<{token_hex(8)}@test>",
                queued_at=now,
                updated_at=now,
                sent_at=now if status == "sent" else None,
            )
        )
    return campaign_id
