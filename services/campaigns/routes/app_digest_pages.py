"""The staff app's digest builder of a campaign: period and topics, the events on offer with
pin and drop boxes, and a preview as a reader of a chosen municipality sees it."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from sqlalchemy.ext.asyncio import AsyncSession

from services.campaigns import digests, queries, staff_forms
from services.campaigns.accounts import StaffAccount
from services.campaigns.campaigns import campaign_row
from services.campaigns.errors import (
    N_,
    CampaignsError,
    InvalidInput,
    NotAuthenticated,
    NotFound,
    PermissionDenied,
)
from services.campaigns.queries.digests import DigestChoice
from services.campaigns.routes.app_guard import (
    allowed,
    forbidden,
    language,
    not_found,
    record_action,
    translated,
)
from services.campaigns.routes.app_pages import render_page, to_login
from shared.municipalities import BY_ID, MUNICIPALITIES

Req = Request[Any, Any, Any]


def _ids(values: list[object]) -> frozenset[int]:
    return frozenset(int(v) for v in values if isinstance(v, str) and v.isdigit() and len(v) < 19)


def _day(value: str, field: str, errors: dict[str, str]) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        errors[field] = N_("give a date as YYYY-MM-DD")
        return date.today()


def _choice(form: staff_forms.FormData) -> DigestChoice:
    """The builder form's choice; InvalidInput for dates that are no dates."""
    errors: dict[str, str] = {}
    starts_on = _day(staff_forms.text(form, "starts_on"), "starts_on", errors)
    ends_on = _day(staff_forms.text(form, "ends_on"), "ends_on", errors)
    if errors:
        raise InvalidInput(N_("the digest cannot be saved"), errors)
    return DigestChoice(
        starts_on=starts_on,
        ends_on=ends_on,
        list_ids=tuple(sorted(_ids(list(form.get("lists", []))))),
        pinned=_ids(list(form.get("pinned", []))),
        dropped=_ids(list(form.get("dropped", []))),
    )


async def _digest_page(
    request: Req,
    db: AsyncSession,
    account: StaffAccount,
    *,
    campaign_id: int,
    choice: DigestChoice | None,
    status_code: int = 200,
    **context: Any,
) -> Response[str]:
    row = await campaign_row(db, campaign_id)
    if choice is None:
        choice = await queries.digest_choice(db, campaign_id)
    if choice is None:
        today = date.today()
        choice = DigestChoice(today, today + timedelta(days=6), (), frozenset(), frozenset())
    found = await digests.offered_events(db, choice) if choice.list_ids else []
    place = str(request.query_params.get("preview", ""))[:64]
    place = place if place in BY_ID else ""
    lang = language(request, account)
    return render_page(
        request,
        "app/digest.html",
        status_code=status_code,
        account=account,
        campaign=row,
        choice=choice,
        events=found,
        lists=await queries.all_lists(db),
        names={item.id: item.name for item in MUNICIPALITIES},
        places=sorted({event.municipality for event in found if event.municipality}),
        preview_place=place,
        preview=digests.preview_block(found, place, choice.pinned, choice.dropped, lang),
        placed=digests.has_digest_tag(row.body_source or row.body),
        local_start=lambda event: event.starts_at.astimezone(digests.PERIOD_ZONE).strftime(
            "%Y-%m-%d %H:%M"
        ),
        errors=context.pop("errors", []),
        **context,
    )


class DigestPages(Controller):
    """``/app/campaigns/{id}/digest``."""

    path = "/app/campaigns/{campaign_id:int}/digest"
    include_in_schema = False
    exception_handlers = {  # noqa: RUF012 - Litestar's own shape
        NotAuthenticated: to_login,
        PermissionDenied: forbidden,
        NotFound: not_found,
    }

    @get("/")
    async def digest_page(
        self, request: Req, db: NamedDependency[AsyncSession], campaign_id: FromPath[int]
    ) -> Response[str]:
        """The campaign's digest choice, its events and a preview."""
        account = await allowed(request, db, "viewer")
        return await _digest_page(request, db, account, campaign_id=campaign_id, choice=None)

    @post("/")
    async def save_digest(
        self, request: Req, db: NamedDependency[AsyncSession], campaign_id: FromPath[int]
    ) -> Response[str]:
        """Show the events of a period and topics ("show"), or save the choice with its pins
        and drops and compute the blocks (editor)."""
        account = await allowed(request, db, "editor")
        form = staff_forms.form_data(await request.form())
        choice: DigestChoice | None = None
        try:
            choice = _choice(form)
            if staff_forms.text(form, "action") == "show":
                digests.check_choice(
                    choice.starts_on,
                    choice.ends_on,
                    choice.list_ids,
                    [item.id for item in await queries.all_lists(db)],
                )
                return await _digest_page(
                    request, db, account, campaign_id=campaign_id, choice=choice
                )
            await digests.save_digest(db, campaign_id, choice)
        except NotFound:
            raise
        except CampaignsError as exc:
            await db.rollback()
            errors = staff_forms.field_errors(exc.errors, {})
            return await _digest_page(
                request,
                db,
                account,
                campaign_id=campaign_id,
                choice=choice,
                status_code=422,
                errors=translated(request, account, errors),
                message=exc.message,
                error=True,
            )
        await record_action(db, account, "campaign.update", str(campaign_id))
        return await _digest_page(
            request,
            db,
            account,
            campaign_id=campaign_id,
            choice=choice,
            message=N_("the digest is saved"),
        )
