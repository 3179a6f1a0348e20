"""The staff app's segment pages: every role reads them and counts rules; editors build, save
and delete segments. The same domain functions as ``/api/segments``."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from sqlalchemy.ext.asyncio import AsyncSession

from services.campaigns import permissions, queries, segment_builder, segments
from services.campaigns.accounts import StaffAccount
from services.campaigns.auth import role_allows
from services.campaigns.errors import (
    N_,
    CampaignsError,
    Conflict,
    InvalidInput,
    NotAuthenticated,
    NotFound,
    PermissionDenied,
)
from services.campaigns.routes.app_guard import allowed, forbidden, not_found, record_action
from services.campaigns.routes.app_pages import render_page, to_login
from services.campaigns.segment_builder import Builder
from services.campaigns.segment_schemas import SegmentCount, SegmentCreate, SegmentPatch
from services.campaigns.staff_forms import form_data, text
from shared.languages import LANGUAGES
from shared.municipalities import MUNICIPALITIES
from shared.segments import COUNTRIES

Req = Request[Any, Any, Any]


async def _builder_page(
    request: Req,
    db: AsyncSession,
    account: StaffAccount,
    builder: Builder,
    *,
    segment_id: int | None = None,
    status_code: int = 200,
    count: bool = True,
    message: str | None = None,
    error: bool = False,
) -> Response[str]:
    """The builder with the count of its rules now, or the problems that keep it from one."""
    catalog = await queries.segment_catalog(db)
    rules, paths = builder.rules({key: str(d["type"]) for key, d in catalog.fields.items()})
    counted: SegmentCount | None = None
    problems: dict[str, str] = {}
    if count:
        try:
            counted = await segments.count_rules(db, rules, sample=0)
        except InvalidInput as exc:
            problems = exc.errors
    fields = await queries.all_fields(db)
    return render_page(
        request,
        "app/segment_edit.html",
        status_code=status_code,
        account=account,
        segment_id=segment_id,
        builder=builder,
        may_edit=role_allows(account.role, "editor"),
        counted=counted,
        row_problems=segment_builder.row_problems(problems, paths),
        rule_problem=problems.get("rules"),
        field_names=segment_builder.FIELDS,
        custom_fields=fields,
        operators=segment_builder.OPERATORS,
        groups=range(1, segment_builder.GROUPS + 1),
        matches=segment_builder.MATCHES,
        list_rows=await queries.all_lists(db),
        site_keys=sorted(catalog.sites),
        languages=LANGUAGES,
        countries=COUNTRIES,
        municipality_example=MUNICIPALITIES[0].id,
        message=message,
        error=error,
    )


async def _list_page(
    request: Req, db: AsyncSession, account: StaffAccount, **context: Any
) -> Response[str]:
    return render_page(
        request,
        "app/segments.html",
        account=account,
        segments=(await segments.get_segments(db)).items,
        may_edit=role_allows(account.role, "editor"),
        **context,
    )


class SegmentPages(Controller):
    """``/app/segments``, ``/app/segments/new``, ``/app/segments/{id}``."""

    path = "/app/segments"
    include_in_schema = False
    exception_handlers = {  # noqa: RUF012 - Litestar's own shape
        NotAuthenticated: to_login,
        PermissionDenied: forbidden,
        NotFound: not_found,
    }

    @get("/")
    async def list_segments(self, request: Req, db: NamedDependency[AsyncSession]) -> Response[str]:
        """Every saved segment with how many residents it reaches now."""
        return await _list_page(request, db, await allowed(request, db, "viewer"))

    @get("/new")
    async def new_segment(self, request: Req, db: NamedDependency[AsyncSession]) -> Response[str]:
        """An empty builder (editor)."""
        account = await allowed(request, db, "editor")
        return await _builder_page(request, db, account, Builder().with_blank_rows())

    @post("/new")
    async def post_new(self, request: Req, db: NamedDependency[AsyncSession]) -> Response[str]:
        """Add a row, count, or save the new segment (editor)."""
        account = await allowed(request, db, "editor")
        return await self._post(request, db, account, None)

    @post("/count")
    async def count(self, request: Req, db: NamedDependency[AsyncSession]) -> Response[str]:
        """The count of the rules in the builder as posted: a fragment for htmx."""
        account = await allowed(request, db, "viewer")
        builder = segment_builder.from_form(form_data(await request.form()))
        catalog = await queries.segment_catalog(db)
        rules, _paths = builder.rules({k: str(d["type"]) for k, d in catalog.fields.items()})
        try:
            counted: SegmentCount | None = await segments.count_rules(db, rules, sample=0)
        except InvalidInput:
            counted = None
        return render_page(request, "app/segment_count.html", account=account, counted=counted)

    @get("/{segment_id:int}")
    async def segment_page(
        self, request: Req, db: NamedDependency[AsyncSession], segment_id: FromPath[int]
    ) -> Response[str]:
        """A saved segment in the builder (editable by editors)."""
        account = await allowed(request, db, "viewer")
        segment = await segments.get_segment(db, segment_id)
        builder = segment_builder.from_rules(segment.name, segment.rules)
        if role_allows(account.role, "editor"):
            builder.with_blank_rows(1)
        return await _builder_page(request, db, account, builder, segment_id=segment_id)

    @post("/{segment_id:int}")
    async def post_segment(
        self, request: Req, db: NamedDependency[AsyncSession], segment_id: FromPath[int]
    ) -> Response[str]:
        """Add a row, count, or save the segment (editor)."""
        account = await allowed(request, db, "editor")
        await segments.get_segment(db, segment_id)
        return await self._post(request, db, account, segment_id)

    @get("/{segment_id:int}/delete")
    async def confirm_delete(
        self, request: Req, db: NamedDependency[AsyncSession], segment_id: FromPath[int]
    ) -> Response[str]:
        """Ask before deleting a segment (editor)."""
        account = await allowed(request, db, "editor")
        segment = await segments.get_segment(db, segment_id)
        return render_page(request, "app/segment_delete.html", account=account, segment=segment)

    @post("/{segment_id:int}/delete")
    async def delete_segment(
        self, request: Req, db: NamedDependency[AsyncSession], segment_id: FromPath[int]
    ) -> Response[str]:
        """Delete a segment (editor); refused while a scheduled or sending campaign uses it."""
        account = await allowed(request, db, "editor")
        segment = await segments.get_segment(db, segment_id)
        try:
            await segments.delete_segment(db, segment_id)
        except Conflict as exc:
            await db.rollback()
            return render_page(
                request,
                "app/segment_delete.html",
                status_code=409,
                account=account,
                segment=segment,
                message=exc.message,
                error=True,
            )
        await record_action(db, account, "segment.delete", str(segment_id))
        return await _list_page(request, db, account, message=N_("the segment is deleted"))

    async def _post(
        self, request: Req, db: AsyncSession, account: StaffAccount, segment_id: int | None
    ) -> Response[str]:
        form = form_data(await request.form())
        builder = segment_builder.from_form(form)
        action = text(form, "action")
        if action != "save":
            if action == "add":
                builder.with_blank_rows(1)
            return await _builder_page(request, db, account, builder, segment_id=segment_id)
        catalog = await queries.segment_catalog(db)
        rules, _paths = builder.rules({k: str(d["type"]) for k, d in catalog.fields.items()})
        try:
            actor = permissions.actor(account)
            data: SegmentCreate | SegmentPatch
            if segment_id is None:
                data = SegmentCreate(name=builder.name, rules=rules)
                saved = await segments.create_segment(db, data, actor)
                action_name = "segment.create"
            else:
                data = SegmentPatch(name=builder.name, rules=rules)
                saved = await segments.update_segment(db, segment_id, data, actor)
                action_name = "segment.update"
        except CampaignsError as exc:
            await db.rollback()
            name_problem = exc.errors.get("name")
            return await _builder_page(
                request,
                db,
                account,
                builder,
                segment_id=segment_id,
                status_code=409 if isinstance(exc, Conflict) else 422,
                message=f"{exc.message}: {name_problem}" if name_problem else exc.message,
                error=True,
            )
        await record_action(db, account, action_name, str(saved.id), data)
        builder = segment_builder.from_rules(saved.name, saved.rules).with_blank_rows(1)
        return await _builder_page(
            request, db, account, builder, segment_id=saved.id, message=N_("the segment is saved")
        )
