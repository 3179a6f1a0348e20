"""HTTP routes for custom subscriber fields."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, delete, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from sqlalchemy.ext.asyncio import AsyncSession

from services.campaigns import fields
from services.campaigns.openapi import json_body
from services.campaigns.routes.security import requires
from services.campaigns.schemas import FieldCreate, FieldOut, FieldPatch, FieldsOut, decode_json


class FieldsController(Controller):
    """``/api/fields``."""

    path = "/fields"
    tags = ("fields",)

    @get("/")
    async def get_fields(self, db: NamedDependency[AsyncSession]) -> FieldsOut:
        """Every custom field, in creation order."""
        return await fields.get_fields(db)

    @post(
        "/",
        guards=[requires("admin")],
        status_code=201,
        audit="field.create",
        operation_class=json_body(FieldCreate),
    )
    async def create_field(
        self, request: Request[Any, Any, Any], db: NamedDependency[AsyncSession]
    ) -> FieldOut:
        """Define a custom field (admin)."""
        data = decode_json(await request.body(), FieldCreate)
        return await fields.create_field(db, data)

    @get("/{key:str}")
    async def get_field(self, db: NamedDependency[AsyncSession], key: FromPath[str]) -> FieldOut:
        """One custom field."""
        return await fields.get_field(db, key)

    @patch(
        "/{key:str}",
        guards=[requires("admin")],
        audit="field.update",
        operation_class=json_body(FieldPatch),
    )
    async def update_field(
        self, request: Request[Any, Any, Any], db: NamedDependency[AsyncSession], key: FromPath[str]
    ) -> FieldOut:
        """Change labels, choices, required, public or max_length (admin)."""
        data = decode_json(await request.body(), FieldPatch)
        return await fields.update_field(db, key, data)

    @delete("/{key:str}", guards=[requires("admin")], status_code=204, audit="field.delete")
    async def delete_field(self, db: NamedDependency[AsyncSession], key: FromPath[str]) -> None:
        """Remove a custom field (admin)."""
        await fields.delete_field(db, key)
