"""HTTP routes for sending campaigns: schedule, unschedule, test send, progress."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from sqlalchemy.ext.asyncio import AsyncSession

from services.campaigns import (
    campaign_test_send,
    engagement_report,
    permissions,
    progress,
    reach,
    scheduling,
)
from services.campaigns.engagement_schemas import EngagementOut
from services.campaigns.openapi import json_body
from services.campaigns.reach_schemas import CampaignReachOut, campaign_reach_out
from services.campaigns.render_pool import RenderPool
from services.campaigns.routes.security import requires
from services.campaigns.schemas import CampaignOut, decode_json
from services.campaigns.sending_schemas import (
    ProgressOut,
    ScheduleRequest,
    TestSendOut,
    TestSendRequest,
)


class CampaignSendingController(Controller):
    """``/api/campaigns/{id}/schedule``, ``…/unschedule``, ``…/test``, ``…/progress`` and
    ``…/engagement`` and ``…/reach``."""

    path = "/campaigns"
    tags = ("campaigns",)

    @post(
        "/{campaign_id:int}/schedule",
        operation_class=json_body(ScheduleRequest),
        guards=[requires("editor")],
        status_code=200,
        audit="campaign.schedule",
    )
    async def schedule_campaign(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[AsyncSession],
        renderer: NamedDependency[RenderPool],
        campaign_id: FromPath[int],
    ) -> CampaignOut:
        """Start a draft at a time in Europe/Copenhagen or Europe/Stockholm (editor).

        422 for a past, nonexistent or ambiguous time or a campaign that cannot be sent.
        """
        data = decode_json(await request.body(), ScheduleRequest)
        return await scheduling.schedule_campaign(db, renderer, campaign_id, data)

    @post(
        "/{campaign_id:int}/unschedule",
        guards=[requires("editor")],
        status_code=200,
        audit="campaign.unschedule",
    )
    async def unschedule_campaign(
        self, db: NamedDependency[AsyncSession], campaign_id: FromPath[int]
    ) -> CampaignOut:
        """Turn a scheduled campaign back into a draft while it waits (editor); 409 after."""
        return await scheduling.unschedule_campaign(db, campaign_id)

    @post(
        "/{campaign_id:int}/test",
        operation_class=json_body(TestSendRequest),
        guards=[requires("editor")],
        status_code=202,
        audit="campaign.test_send",
    )
    async def send_test(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[AsyncSession],
        renderer: NamedDependency[RenderPool],
        campaign_id: FromPath[int],
    ) -> TestSendOut:
        """Mail a test of the campaign to up to five addresses (editor), marked as a test and
        not counted; 422 with line and message when a template fails, 429 past 20 an hour."""
        data = decode_json(await request.body(), TestSendRequest)
        state = request.app.state
        return await campaign_test_send.send_test(
            db,
            renderer,
            jobs=state.jobs,
            limits=state.jobs,
            settings=state.settings,
            actor=permissions.actor(request.user),
            campaign_id=campaign_id,
            request=data,
        )

    @get("/{campaign_id:int}/progress")
    async def campaign_progress(
        self, db: NamedDependency[AsyncSession], campaign_id: FromPath[int]
    ) -> ProgressOut:
        """Recipients, sent, failed, bounced, skipped, unsubscribed, messages per minute and
        the estimated finish."""
        return await progress.campaign_progress(db, campaign_id)

    @get("/{campaign_id:int}/engagement")
    async def campaign_engagement(
        self, db: NamedDependency[AsyncSession], campaign_id: FromPath[int]
    ) -> EngagementOut:
        """Clicks per tracked link (unique and total), click rate (residents who clicked over
        messages delivered) and, when the campaign tracks them, opens with why they mislead."""
        return await engagement_report.campaign_engagement(db, campaign_id)

    @get("/{campaign_id:int}/reach")
    async def campaign_reach(
        self, db: NamedDependency[AsyncSession], campaign_id: FromPath[int]
    ) -> CampaignReachOut:
        """Recipients, clickers and unsubscribers (through this campaign's link) by where they
        live; counts below 5 are withheld."""
        return campaign_reach_out(await reach.campaign_reach(db, campaign_id))
