"""shared.statuses: enum members are the strings the database stores."""

from __future__ import annotations

import sqlalchemy as sa

from shared.schema import campaigns, subscribers
from shared.statuses import CampaignStatus, DeliveryStatus, SubscriberStatus, SubscriptionStatus


def test_members_compare_equal_to_stored_strings() -> None:
    assert CampaignStatus.DRAFT.value == "draft"
    assert DeliveryStatus("sent") is DeliveryStatus.SENT
    assert SubscriptionStatus.CONFIRMED.value == "confirmed"
    assert str(SubscriptionStatus.CONFIRMED) == "confirmed"
    assert f"{SubscriberStatus.BOUNCED}" == "bounced"


def test_members_bind_as_plain_strings_in_queries() -> None:
    query = sa.select(campaigns.c.id).where(campaigns.c.status == CampaignStatus.SENDING)
    compiled = query.compile(compile_kwargs={"literal_binds": True})
    assert "'sending'" in str(compiled)
    insert = subscribers.insert().values(status=SubscriberStatus.ACTIVE)
    assert insert.compile().params["status"] == "active"
