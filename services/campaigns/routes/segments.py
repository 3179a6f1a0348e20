"""HTTP routes for saved segments."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, delete, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from sqlalchemy.ext.asyncio import AsyncSession

from services.campaigns import permissions, segments
from services.campaigns.openapi import json_body
from services.campaigns.routes.security import requires
from services.campaigns.schemas import decode_json
from services.campaigns.segment_schemas import (
    CountRequest,
    SegmentCount,
    SegmentCreate,
    SegmentOut,
    SegmentPatch,
    SegmentsOut,
)


class SegmentsController(Controller):
    """``/api/segments``."""

    path = "/segments"
    tags = ("segments",)

    @get("/")
    async def get_segments(self, db: NamedDependency[AsyncSession]) -> SegmentsOut:
        """Every saved segment by name, with member counts."""
        return await segments.get_segments(db)

    @post("/count", status_code=200, operation_class=json_body(CountRequest))
    async def count_segment(
        self, request: Request[Any, Any, Any], db: NamedDependency[AsyncSession]
    ) -> SegmentCount:
        """How many residents unsaved rules reach now, and the lowest of their ids."""
        data = decode_json(await request.body(), CountRequest)
        return await segments.count_rules(db, data.rules)

    @post(
        "/",
        guards=[requires("editor")],
        status_code=201,
        audit="segment.create",
        operation_class=json_body(SegmentCreate),
    )
    async def create_segment(
        self, request: Request[Any, Any, Any], db: NamedDependency[AsyncSession]
    ) -> SegmentOut:
        """Save rules under a new name (editor)."""
        data = decode_json(await request.body(), SegmentCreate)
        return await segments.create_segment(db, data, permissions.actor(request.user))

    @get("/{segment_id:int}")
    async def get_segment(
        self, db: NamedDependency[AsyncSession], segment_id: FromPath[int]
    ) -> SegmentOut:
        """One saved segment with its member count."""
        return await segments.get_segment(db, segment_id)

    @patch(
        "/{segment_id:int}",
        guards=[requires("editor")],
        audit="segment.update",
        operation_class=json_body(SegmentPatch),
    )
    async def update_segment(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[AsyncSession],
        segment_id: FromPath[int],
    ) -> SegmentOut:
        """Rename a segment or change its rules (editor)."""
        data = decode_json(await request.body(), SegmentPatch)
        return await segments.update_segment(db, segment_id, data, permissions.actor(request.user))

    @delete(
        "/{segment_id:int}", guards=[requires("editor")], status_code=204, audit="segment.delete"
    )
    async def delete_segment(
        self, db: NamedDependency[AsyncSession], segment_id: FromPath[int]
    ) -> None:
        """Delete a segment (editor); 409 while a scheduled or sending campaign targets it."""
        await segments.delete_segment(db, segment_id)
