"""HTTP routes for campaigns."""

from __future__ import annotations

from typing import Annotated, Any

from arq.connections import ArqRedis
from litestar import Controller, Request, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath, QueryParameter
from sqlalchemy.ext.asyncio import AsyncSession

from services.campaigns import campaigns
from services.campaigns.routes.security import requires
from services.campaigns.schemas import (
    CampaignCreate,
    CampaignOut,
    CampaignPage,
    CampaignPatch,
    PreviewOut,
    PreviewRequest,
    decode_json,
)


class CampaignsController(Controller):
    """``/api/campaigns``."""

    path = "/campaigns"
    tags = ("campaigns",)

    @post("/", guards=[requires("editor")], status_code=201)
    async def create_campaign(
        self, request: Request[Any, Any, Any], db: NamedDependency[AsyncSession]
    ) -> CampaignOut:
        """Create a draft; templates must compile and render with sample data (editor)."""
        data = decode_json(await request.body(), CampaignCreate)
        return await campaigns.create_campaign(db, data)

    @get("/")
    async def list_campaigns(
        self,
        db: NamedDependency[AsyncSession],
        page: Annotated[int, QueryParameter(ge=1, le=1_000_000)] = 1,
        per_page: Annotated[int, QueryParameter(ge=1, le=100)] = 20,
    ) -> CampaignPage:
        """Campaigns, newest first."""
        return await campaigns.list_campaigns(db, page, per_page)

    @get("/{campaign_id:int}")
    async def get_campaign(
        self, db: NamedDependency[AsyncSession], campaign_id: FromPath[int]
    ) -> CampaignOut:
        """One campaign with status and delivery counts."""
        return await campaigns.get_campaign(db, campaign_id)

    @patch("/{campaign_id:int}", guards=[requires("editor")])
    async def update_campaign(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[AsyncSession],
        campaign_id: FromPath[int],
    ) -> CampaignOut:
        """Change a draft (editor); 409 once it is no longer a draft."""
        data = decode_json(await request.body(), CampaignPatch)
        return await campaigns.update_campaign(db, campaign_id, data)

    @post("/{campaign_id:int}/send", guards=[requires("editor")], status_code=202)
    async def send_campaign(
        self,
        db: NamedDependency[AsyncSession],
        jobs: NamedDependency[ArqRedis],
        campaign_id: FromPath[int],
    ) -> CampaignOut:
        """Hand a draft to the mailer (editor); 409 unless it is a draft."""
        return await campaigns.send_campaign(db, jobs, campaign_id)

    @post("/{campaign_id:int}/preview", status_code=200)
    async def preview_campaign(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[AsyncSession],
        campaign_id: FromPath[int],
    ) -> PreviewOut:
        """Render a campaign with sample data; the body may set language and name."""
        reader = decode_json(await request.body(), PreviewRequest, empty_ok=True)
        return await campaigns.preview_campaign(db, campaign_id, reader)
