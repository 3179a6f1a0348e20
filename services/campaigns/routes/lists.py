"""HTTP routes for mailing lists."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery
from litestar.response import Stream
from sqlalchemy.ext.asyncio import AsyncSession

from services.campaigns import list_export, list_stats, lists, permissions
from services.campaigns.audience_schemas import ListStatsOut
from services.campaigns.openapi import json_body
from services.campaigns.render_pool import RenderPool
from services.campaigns.routes.security import requires
from services.campaigns.schemas import ListCreate, ListOut, ListPatch, ListsOut, decode_json


class ListsController(Controller):
    """``/api/lists``."""

    path = "/lists"
    tags = ("lists",)

    @get("/")
    async def get_lists(self, db: NamedDependency[AsyncSession]) -> ListsOut:
        """Every mailing list."""
        return await lists.get_lists(db)

    @post(
        "/",
        guards=[requires("admin")],
        status_code=201,
        audit="list.create",
        operation_class=json_body(ListCreate),
    )
    async def create_list(
        self, request: Request[Any, Any, Any], db: NamedDependency[AsyncSession]
    ) -> ListOut:
        """Create a mailing list (admin)."""
        data = decode_json(await request.body(), ListCreate)
        return await lists.create_list(db, data)

    @get("/{slug:str}")
    async def get_list(self, db: NamedDependency[AsyncSession], slug: FromPath[str]) -> ListOut:
        """One mailing list."""
        return await lists.get_list(db, slug)

    @patch(
        "/{slug:str}",
        guards=[requires("admin")],
        audit="list.update",
        operation_class=json_body(ListPatch),
    )
    async def update_list(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[AsyncSession],
        renderer: NamedDependency[RenderPool],
        slug: FromPath[str],
    ) -> ListOut:
        """Change names, descriptions, is_public or double_optin of a list (admin)."""
        data = decode_json(await request.body(), ListPatch)
        return await lists.update_list(db, renderer, slug, data)

    @get("/{slug:str}/stats")
    async def get_list_stats(
        self, db: NamedDependency[AsyncSession], slug: FromPath[str]
    ) -> ListStatsOut:
        """Subscriptions by state and confirmations/unsubscriptions per UTC day (90 days)."""
        return await list_stats.get_list_stats(db, slug)

    @get("/{slug:str}/export.csv", guards=[requires("admin")])
    async def export_list(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[AsyncSession],
        slug: FromPath[str],
        status: FromQuery[list[str] | None] = None,
    ) -> Stream:
        """The list's subscribers as CSV (admin; confirmed ones unless ``status`` says which),
        streamed page by page. Audited as ``list.export`` before the first row is sent."""
        actor = permissions.actor(permissions.check(request.user, "admin"))
        selection = await list_export.start_list_export(db, slug, status or [], actor=actor)
        return Stream(
            list_export.export_lines(request.app.state.sessionmaker, selection),
            media_type="text/csv; charset=utf-8",
            headers={
                "Content-Disposition": f'attachment; filename="{selection.slug}.csv"',
                "Cache-Control": "no-store",
            },
        )
