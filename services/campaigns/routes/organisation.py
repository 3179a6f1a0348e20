"""HTTP routes for the organisation layout every campaign layout shows."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, put
from litestar.di import NamedDependency
from sqlalchemy.ext.asyncio import AsyncSession

from services.campaigns import organisation
from services.campaigns.openapi import json_body
from services.campaigns.routes.security import requires
from services.campaigns.schemas import OrganisationLayout, decode_json


class OrganisationController(Controller):
    """``/api/organisation``."""

    path = "/organisation"
    tags = ("organisation",)

    @get("/")
    async def get_layout(self, db: NamedDependency[AsyncSession]) -> OrganisationLayout:
        """Name, logo, postal address, colours and footer text of the campaign layouts."""
        return await organisation.get_organisation(db)

    @put(
        "/",
        guards=[requires("admin")],
        audit="organisation.update",
        operation_class=json_body(OrganisationLayout),
    )
    async def put_layout(
        self, request: Request[Any, Any, Any], db: NamedDependency[AsyncSession]
    ) -> OrganisationLayout:
        """Replace the organisation layout (admin); drafts use it from their next save."""
        data = decode_json(await request.body(), OrganisationLayout)
        return await organisation.update_organisation(db, data)
