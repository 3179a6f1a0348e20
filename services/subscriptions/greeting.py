"""The name a mail greets a resident by: only one the address's owner has stood behind.

A sign-up form takes any name with any address, so until the owner has confirmed a
subscription the stored name is whatever a stranger typed ("Your account will be deleted. Keep
it at https://…"). Mail to such an address, the confirmation and the welcome of a list without
double opt-in, greets without a name rather than carry a stranger's words to the victim.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from services.subscriptions import queries
from services.subscriptions.queries import SubscriberRow


async def greeting_name(session: AsyncSession, subscriber: SubscriberRow) -> str | None:
    """The subscriber's name once they have a confirmed subscription; None before."""
    if not subscriber.name:
        return None
    if not await queries.has_confirmed_subscription(session, subscriber.id):
        return None
    return subscriber.name
