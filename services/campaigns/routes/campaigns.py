"""HTTP routes for campaigns."""

from __future__ import annotations

from typing import Annotated, Any

from arq.connections import ArqRedis
from litestar import Controller, Request, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath, QueryParameter
from sqlalchemy.ext.asyncio import AsyncSession

from services.campaigns import campaign_actions, campaigns, preview
from services.campaigns.openapi import json_body
from services.campaigns.render_pool import RenderPool
from services.campaigns.routes.security import requires
from services.campaigns.schemas import (
    CampaignCreate,
    CampaignOut,
    CampaignPage,
    CampaignPatch,
    FailurePage,
    PreviewOut,
    PreviewRequest,
    RetryFailedOut,
    decode_json,
)
from shared.settings import Settings
from shared.statuses import CampaignStatus


class CampaignsController(Controller):
    """``/api/campaigns``."""

    path = "/campaigns"
    tags = ("campaigns",)

    @post(
        "/",
        guards=[requires("editor")],
        status_code=201,
        audit="campaign.create",
        operation_class=json_body(CampaignCreate),
    )
    async def create_campaign(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[AsyncSession],
        renderer: NamedDependency[RenderPool],
    ) -> CampaignOut:
        """Create a draft; templates must compile and render with sample data (editor)."""
        data = decode_json(await request.body(), CampaignCreate)
        return await campaigns.create_campaign(db, renderer, data)

    @get("/")
    async def list_campaigns(
        self,
        db: NamedDependency[AsyncSession],
        page: Annotated[int, QueryParameter(ge=1, le=1_000_000)] = 1,
        per_page: Annotated[int, QueryParameter(ge=1, le=100)] = 20,
        status: Annotated[
            CampaignStatus | None, QueryParameter(description="only campaigns in this status")
        ] = None,
    ) -> CampaignPage:
        """Campaigns, newest first, optionally only those in one status."""
        return await campaigns.list_campaigns(db, page, per_page, status)

    @get("/{campaign_id:int}")
    async def get_campaign(
        self, db: NamedDependency[AsyncSession], campaign_id: FromPath[int]
    ) -> CampaignOut:
        """One campaign with status and delivery counts."""
        return await campaigns.get_campaign(db, campaign_id)

    @patch(
        "/{campaign_id:int}",
        guards=[requires("editor")],
        audit="campaign.update",
        operation_class=json_body(CampaignPatch),
    )
    async def update_campaign(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[AsyncSession],
        renderer: NamedDependency[RenderPool],
        campaign_id: FromPath[int],
    ) -> CampaignOut:
        """Change a draft (editor); 409 once it is no longer a draft."""
        data = decode_json(await request.body(), CampaignPatch)
        return await campaigns.update_campaign(db, renderer, campaign_id, data)

    @post(
        "/{campaign_id:int}/send",
        guards=[requires("editor")],
        status_code=202,
        audit="campaign.send",
    )
    async def send_campaign(
        self,
        db: NamedDependency[AsyncSession],
        renderer: NamedDependency[RenderPool],
        jobs: NamedDependency[ArqRedis],
        campaign_id: FromPath[int],
    ) -> CampaignOut:
        """Hand a draft to the mailer (editor); 409 unless it is a draft, 422 when it has no
        lists or its templates no longer render."""
        return await campaigns.send_campaign(db, renderer, jobs, campaign_id)

    @post(
        "/{campaign_id:int}/preview",
        status_code=200,
        operation_class=json_body(PreviewRequest, required=False),
    )
    async def preview_campaign(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[AsyncSession],
        renderer: NamedDependency[RenderPool],
        settings: NamedDependency[Settings],
        campaign_id: FromPath[int],
    ) -> PreviewOut:
        """Render a campaign as a confirmed subscriber of its lists (``subscriber_id``) or a
        sample reader (``name``) gets it, in their language or the one given."""
        reader = decode_json(await request.body(), PreviewRequest, empty_ok=True)
        return await preview.preview_campaign(
            db,
            renderer,
            campaign_id,
            reader,
            mail_from=settings.mail_from,
            public_url=settings.subscriptions_public_url,
        )

    @post(
        "/{campaign_id:int}/pause",
        guards=[requires("editor")],
        status_code=200,
        audit="campaign.pause",
    )
    async def pause_campaign(
        self, db: NamedDependency[AsyncSession], campaign_id: FromPath[int]
    ) -> CampaignOut:
        """Stop sending until resumed (editor); 409 unless it is being sent."""
        return await campaign_actions.pause_campaign(db, campaign_id)

    @post(
        "/{campaign_id:int}/resume",
        guards=[requires("editor")],
        status_code=202,
        audit="campaign.resume",
    )
    async def resume_campaign(
        self,
        db: NamedDependency[AsyncSession],
        jobs: NamedDependency[ArqRedis],
        campaign_id: FromPath[int],
    ) -> CampaignOut:
        """Go on sending a paused campaign (editor); 409 unless it is paused."""
        return await campaign_actions.resume_campaign(db, jobs, campaign_id)

    @post(
        "/{campaign_id:int}/cancel",
        guards=[requires("editor")],
        status_code=202,
        audit="campaign.cancel",
    )
    async def cancel_campaign(
        self,
        db: NamedDependency[AsyncSession],
        jobs: NamedDependency[ArqRedis],
        campaign_id: FromPath[int],
    ) -> CampaignOut:
        """Send nothing more; the rest is skipped (editor). 409 once it is over."""
        return await campaign_actions.cancel_campaign(db, jobs, campaign_id)

    @get("/{campaign_id:int}/failures", guards=[requires("editor")])
    async def list_failures(
        self,
        db: NamedDependency[AsyncSession],
        campaign_id: FromPath[int],
        page: Annotated[int, QueryParameter(ge=1, le=1_000_000)] = 1,
        per_page: Annotated[int, QueryParameter(ge=1, le=500)] = 50,
    ) -> FailurePage:
        """Failed sends with address, attempts and the relay's last reply (editor)."""
        return await campaign_actions.list_failures(db, campaign_id, page, per_page)

    @post(
        "/{campaign_id:int}/retry-failed",
        guards=[requires("editor")],
        status_code=202,
        audit="campaign.retry_failed",
    )
    async def retry_failed(
        self,
        db: NamedDependency[AsyncSession],
        jobs: NamedDependency[ArqRedis],
        campaign_id: FromPath[int],
    ) -> RetryFailedOut:
        """Have the mailer send the failed rows again (editor); 409 when none failed."""
        return await campaign_actions.retry_failed(db, jobs, campaign_id)
