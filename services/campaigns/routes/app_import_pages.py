"""The staff app's import pages (admins): upload a CSV file, map its columns and attest consent
(or choose double opt-in), follow the import's progress and download its rejected lines.

The subscriptions worker runs the import (``list_import.py`` hands it over); these pages only
keep the upload, start the job and read the import's progress.
"""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency
from litestar.enums import RequestEncodingType
from litestar.params import Body, FromPath
from litestar.response import Redirect, Stream
from sqlalchemy.ext.asyncio import AsyncSession

from services.campaigns import list_import, permissions, queries, staff_forms
from services.campaigns.accounts import StaffAccount
from services.campaigns.errors import (
    N_,
    CampaignsError,
    NotAuthenticated,
    NotFound,
    PermissionDenied,
)
from services.campaigns.lists import SLUG
from services.campaigns.routes.app_guard import allowed, forbidden, not_found, translated
from services.campaigns.routes.app_pages import render_page, to_login
from shared.import_uploads import MAX_UPLOAD_BYTES
from shared.languages import LANGUAGES

Req = Request[Any, Any, Any]
# The upload's own limit, plus room for the form's other fields and the multipart framing.
UPLOAD_BODY_LIMIT = MAX_UPLOAD_BYTES + 64 * 1024


async def _start_page(
    request: Req, db: AsyncSession, account: StaffAccount, status_code: int = 200, **context: Any
) -> Response[str]:
    lists = await queries.all_lists(db)
    recent = await queries.recent_imports(db)
    return render_page(
        request,
        "app/import.html",
        status_code=status_code,
        account=account,
        lists=lists,
        imports=recent,
        errors=context.pop("errors", []),
        **context,
    )


async def _setup_page(
    request: Req,
    db: AsyncSession,
    account: StaffAccount,
    *,
    key: str,
    header: list[str],
    status_code: int = 200,
    **context: Any,
) -> Response[str]:
    lists = await queries.all_lists(db)
    field_keys = [field.key for field in await queries.all_fields(db)]
    form = context.pop("form", None)
    fields = list_import.mapping_fields(field_keys)
    chosen = (
        {name: str(form.get(f"column.{name}") or "") for name in fields}
        if form is not None
        else list_import.first_mapping(header, field_keys)
    )
    return render_page(
        request,
        "app/import_setup.html",
        status_code=status_code,
        account=account,
        key=key,
        header=header,
        fields=fields,
        chosen=chosen,
        lists=lists,
        languages=LANGUAGES,
        form=form or {"list": request.query_params.get("list", ""), "mode": "attested"},
        errors=context.pop("errors", []),
        **context,
    )


class ImportPages(Controller):
    """``/app/import`` and ``/app/import/{key}``."""

    path = "/app/import"
    include_in_schema = False
    exception_handlers = {  # noqa: RUF012 - Litestar's own shape
        NotAuthenticated: to_login,
        PermissionDenied: forbidden,
        NotFound: not_found,
    }

    @get("/")
    async def start(self, request: Req, db: NamedDependency[AsyncSession]) -> Response[str]:
        """The upload form and the latest imports."""
        return await _start_page(request, db, await allowed(request, db, "admin"))

    @post("/", request_max_body_size=UPLOAD_BODY_LIMIT)
    async def upload(
        self,
        request: Req,
        db: NamedDependency[AsyncSession],
        data: Annotated[dict[str, Any], Body(media_type=RequestEncodingType.MULTI_PART)],
    ) -> Response[Any]:
        """Keep the uploaded file and go on to its column mapping."""
        account = await allowed(request, db, "admin")
        upload = data.get("file")
        if not isinstance(upload, UploadFile) or not upload.filename:
            return await _start_page(
                request, db, account, 422, message=N_("choose a CSV file"), error=True
            )
        try:
            key = await list_import.receive_upload(request.app.state.jobs, upload)
        except CampaignsError as exc:
            return await _start_page(request, db, account, 422, message=exc.message, error=True)
        slug = str(data.get("list") or "")
        # Only a well-formed slug is carried on to the next page (it is chosen there again).
        chosen = f"?list={slug}" if SLUG.fullmatch(slug) else ""
        return Redirect(f"/app/import/{key}{chosen}")

    @get("/{key:str}")
    async def import_page(
        self, request: Req, db: NamedDependency[AsyncSession], key: FromPath[str]
    ) -> Response[str]:
        """The mapping and attestation form, or the import's progress once it is started."""
        account = await allowed(request, db, "admin")
        redis = request.app.state.jobs
        status = await list_import.import_status(db, key)
        if status is not None or await list_import.is_queued(redis, key):
            return render_page(
                request, "app/import_status.html", account=account, key=key, status=status
            )
        header = await list_import.read_header(redis, key)
        if header is None:
            raise NotFound("import", key[:64])
        return await _setup_page(request, db, account, key=key, header=header)

    @post("/{key:str}")
    async def start_import(
        self, request: Req, db: NamedDependency[AsyncSession], key: FromPath[str]
    ) -> Response[Any]:
        """Check the mapping and the attestation, then start the import."""
        account = await allowed(request, db, "admin")
        redis = request.app.state.jobs
        header = await list_import.read_header(redis, key)
        if header is None:
            raise NotFound("import", key[:64])
        if await list_import.is_queued(redis, key):
            return Redirect(f"/app/import/{key}")
        form = await request.form()
        values = {str(name): form.get(name) for name in form}
        slugs = [row.slug for row in await queries.all_lists(db)]
        field_keys = [field.key for field in await queries.all_fields(db)]
        try:
            job = list_import.import_from_form(
                values,
                key=key,
                header=header,
                list_slugs=slugs,
                field_keys=field_keys,
                actor="staff:" + permissions.actor(account),
            )
        except CampaignsError as exc:
            errors = [staff_forms.FieldError(name, why) for name, why in exc.errors.items()]
            return await _setup_page(
                request,
                db,
                account,
                key=key,
                header=header,
                status_code=422,
                form=values,
                errors=translated(request, account, errors),
                message=exc.message,
                error=True,
            )
        await list_import.start_import(
            db, redis, request.app.state.jobs, job, actor=permissions.actor(account)
        )
        return Redirect(f"/app/import/{key}")

    @get("/{key:str}/progress")
    async def progress(
        self, request: Req, db: NamedDependency[AsyncSession], key: FromPath[str]
    ) -> Response[str]:
        """The progress fragment the status page polls (htmx)."""
        account = await allowed(request, db, "admin")
        status = await list_import.import_status(db, key)
        return render_page(
            request, "app/import_progress.html", account=account, key=key, status=status
        )

    @get("/{key:str}/rejected.csv")
    async def rejected_lines(
        self, request: Req, db: NamedDependency[AsyncSession], key: FromPath[str]
    ) -> Stream:
        """The lines the import did not take, with their numbers and reasons, as CSV."""
        await allowed(request, db, "admin")
        status = await list_import.import_status(db, key)
        if status is None:
            raise NotFound("import", key[:64])
        return Stream(
            list_import.rejected_lines_csv(request.app.state.sessionmaker, status.id),
            media_type="text/csv; charset=utf-8",
            headers={
                "Content-Disposition": f'attachment; filename="import-{key}-rejected.csv"',
                "Cache-Control": "no-store",
            },
        )
