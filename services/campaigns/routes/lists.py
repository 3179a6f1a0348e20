"""HTTP routes for mailing lists."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from sqlalchemy.ext.asyncio import AsyncSession

from services.campaigns import lists
from services.campaigns.routes.security import requires
from services.campaigns.schemas import ListCreate, ListOut, ListsOut, decode_json


class ListsController(Controller):
    """``/api/lists``."""

    path = "/lists"
    tags = ("lists",)

    @get("/")
    async def get_lists(self, db: NamedDependency[AsyncSession]) -> ListsOut:
        """Every mailing list."""
        return await lists.get_lists(db)

    @post("/", guards=[requires("admin")], status_code=201)
    async def create_list(
        self, request: Request[Any, Any, Any], db: NamedDependency[AsyncSession]
    ) -> ListOut:
        """Create a mailing list (admin)."""
        data = decode_json(await request.body(), ListCreate)
        return await lists.create_list(db, data)
