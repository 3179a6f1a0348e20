"""Answer body of a campaign's engagement: clicks per link, click rate, opens."""

from __future__ import annotations

from msgspec import Struct


class LinkClicksOut(Struct, kw_only=True):
    """One tracked link of the campaign: residents who clicked it, and all its clicks."""

    url: str
    position: int
    unique_clicks: int
    total_clicks: int


class OpensOut(Struct, kw_only=True):
    """Opens as counted by the tracking image (only for campaigns that track opens)."""

    unique_opens: int
    total_opens: int
    open_rate: float
    note: str


class EngagementOut(Struct, kw_only=True):
    """``GET /api/campaigns/{id}/engagement``.

    ``click_rate`` is residents who clicked at least one link over messages delivered (sent),
    as a percentage. ``opens`` is null unless the campaign tracks opens; its figures are lower
    bounds at best and inflated at worst (see its ``note``).
    """

    campaign_id: int
    delivered: int
    unique_clickers: int
    click_rate: float
    links: list[LinkClicksOut]
    track_opens: bool
    opens: OpensOut | None = None
