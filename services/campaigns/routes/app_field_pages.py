"""The staff app's custom field pages: every role reads them; admins create, edit and delete.
The same domain functions as ``/api/fields``."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from sqlalchemy.ext.asyncio import AsyncSession

from services.campaigns import fields, staff_forms
from services.campaigns.accounts import StaffAccount
from services.campaigns.errors import (
    N_,
    CampaignsError,
    NotAuthenticated,
    NotFound,
    PermissionDenied,
)
from services.campaigns.routes.app_guard import (
    allowed,
    forbidden,
    not_found,
    record_action,
    translated,
)
from services.campaigns.routes.app_pages import render_page, to_login
from services.campaigns.schemas import FieldOut
from shared.custom_fields import FIELD_TYPES

Req = Request[Any, Any, Any]


async def _fields_page(
    request: Req, db: AsyncSession, account: StaffAccount, status_code: int = 200, **context: Any
) -> Response[str]:
    return render_page(
        request,
        "app/fields.html",
        status_code=status_code,
        account=account,
        fields=(await fields.get_fields(db)).items,
        types=FIELD_TYPES,
        form=context.pop("form", None),
        errors=context.pop("errors", []),
        **context,
    )


def _field_page(
    request: Req, account: StaffAccount, field: FieldOut, status_code: int = 200, **context: Any
) -> Response[str]:
    return render_page(
        request,
        "app/field.html",
        status_code=status_code,
        account=account,
        field=field,
        types=FIELD_TYPES,
        form=context.pop("form", None),
        errors=context.pop("errors", []),
        **context,
    )


def _errors(
    request: Req, account: StaffAccount, exc: CampaignsError, choices: staff_forms.Lines
) -> list[staff_forms.FieldError]:
    return translated(request, account, staff_forms.field_errors(exc.errors, {"choices": choices}))


class FieldPages(Controller):
    """``/app/fields`` and ``/app/fields/{key}``."""

    path = "/app/fields"
    include_in_schema = False
    exception_handlers = {  # noqa: RUF012 - Litestar's own shape
        NotAuthenticated: to_login,
        PermissionDenied: forbidden,
        NotFound: not_found,
    }

    @get("/")
    async def list_fields(self, request: Req, db: NamedDependency[AsyncSession]) -> Response[str]:
        """Every custom field; the form for a new one (admin)."""
        return await _fields_page(request, db, await allowed(request, db, "viewer"))

    @post("/")
    async def create_field(self, request: Req, db: NamedDependency[AsyncSession]) -> Response[str]:
        """Define a custom field (admin)."""
        account = await allowed(request, db, "admin")
        form = await request.form()
        data, choices = staff_forms.field_create(staff_forms.form_data(form))
        try:
            field = await fields.create_field(db, data)
        except CampaignsError as exc:
            await db.rollback()
            return await _fields_page(
                request,
                db,
                account,
                422,
                form=form,
                errors=_errors(request, account, exc, choices),
                message=exc.message,
                error=True,
            )
        await record_action(db, account, "field.create", field.key, data)
        return await _fields_page(request, db, account, message=N_("the field is created"))

    @get("/{key:str}")
    async def field_page(
        self, request: Req, db: NamedDependency[AsyncSession], key: FromPath[str]
    ) -> Response[str]:
        """One custom field (editable by admins)."""
        account = await allowed(request, db, "viewer")
        return _field_page(request, account, await fields.get_field(db, key))

    @post("/{key:str}")
    async def update_field(
        self, request: Req, db: NamedDependency[AsyncSession], key: FromPath[str]
    ) -> Response[str]:
        """Save a field's labels, choices, flags and length limit (admin)."""
        account = await allowed(request, db, "admin")
        field = await fields.get_field(db, key)
        form = await request.form()
        patch, choices = staff_forms.field_patch(staff_forms.form_data(form))
        try:
            field = await fields.update_field(db, key, patch)
        except CampaignsError as exc:
            await db.rollback()
            return _field_page(
                request,
                account,
                field,
                422,
                form=form,
                errors=_errors(request, account, exc, choices),
                message=exc.message,
                error=True,
            )
        await record_action(db, account, "field.update", key, patch)
        return _field_page(request, account, field, message=N_("saved"))

    @get("/{key:str}/delete")
    async def confirm_delete(
        self, request: Req, db: NamedDependency[AsyncSession], key: FromPath[str]
    ) -> Response[str]:
        """Ask before deleting a field (admin)."""
        account = await allowed(request, db, "admin")
        field = await fields.get_field(db, key)
        return render_page(request, "app/field_delete.html", account=account, field=field)

    @post("/{key:str}/delete")
    async def delete_field(
        self, request: Req, db: NamedDependency[AsyncSession], key: FromPath[str]
    ) -> Response[str]:
        """Delete a field definition (admin)."""
        account = await allowed(request, db, "admin")
        await fields.delete_field(db, key)
        await record_action(db, account, "field.delete", key)
        return await _fields_page(request, db, account, message=N_("the field is deleted"))
