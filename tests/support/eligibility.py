"""For fixtures that write subscriptions directly: what the subscriptions service keeps on each
subscriber with every confirmation and withdrawal (``subscribers.confirmed_lists``)."""

from __future__ import annotations

import sqlalchemy as sa

from shared.schema import subscribers, subscriptions
from shared.statuses import SubscriptionStatus


def recount_confirmed_lists() -> sa.Update:
    """Every subscriber's count of confirmed subscriptions, as the service would have kept it."""
    confirmed = (
        sa.select(sa.func.count())
        .where(
            subscriptions.c.subscriber_id == subscribers.c.id,
            subscriptions.c.status == SubscriptionStatus.CONFIRMED,
        )
        .scalar_subquery()
    )
    return sa.update(subscribers).values(confirmed_lists=confirmed)
