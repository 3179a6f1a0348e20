"""The staff app's campaign page (``/app/campaigns/{id}``): status, schedule, live progress,
and every sending action: test send, send now, schedule, unschedule, pause, resume, cancel,
retry of failed sends. The same domain functions and permission check as the JSON API."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, Final
from zoneinfo import ZoneInfo

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from sqlalchemy.ext.asyncio import AsyncSession

from services.campaigns import (
    campaign_actions,
    campaign_test_send,
    campaigns,
    charts,
    permissions,
    progress,
    queries,
    scheduling,
    staff_audit,
)
from services.campaigns.accounts import StaffAccount
from services.campaigns.errors import (
    N_,
    CampaignsError,
    Conflict,
    InvalidInput,
    NotAuthenticated,
    NotFound,
    PermissionDenied,
    TooManyRequests,
    Unavailable,
)
from services.campaigns.pages import page_language
from services.campaigns.routes.app_pages import Form, render_page, signed_in, to_login
from services.campaigns.schedule_times import ZONES, zone_for_language
from services.campaigns.sending_schemas import ScheduleRequest, TestSendRequest
from shared.errors import QueueUnavailable
from shared.statuses import CampaignStatus

_STATUS_OF: Final = ((InvalidInput, 422), (NotFound, 404), (Conflict, 409), (TooManyRequests, 429))
_QUEUE_DOWN: Final = N_("the job queue cannot be reached; try again shortly")
_WRONG_STATE: Final = N_("this cannot be done in the campaign's current state")
FAILURES_SHOWN: Final = 50


def _forbidden(request: Request[Any, Any, Any], _: PermissionDenied) -> Response[str]:
    return render_page(
        request,
        "app/forbidden.html",
        status_code=403,
        account=None,
        message=N_("you may not do this"),
        error=True,
    )


def _missing(request: Request[Any, Any, Any], _: NotFound) -> Response[str]:
    return render_page(
        request,
        "app/forbidden.html",
        status_code=404,
        account=None,
        message=N_("there is no such campaign"),
        error=True,
    )


async def _editor(request: Request[Any, Any, Any], db: AsyncSession) -> StaffAccount:
    account = await signed_in(request, db)
    permissions.check(account, "editor")
    return account


async def _viewer(request: Request[Any, Any, Any], db: AsyncSession) -> StaffAccount:
    account = await signed_in(request, db)
    permissions.check(account, "viewer")
    return account


def _zone_of(request: Request[Any, Any, Any], account: StaffAccount, zone: str | None) -> str:
    """The zone times are shown in: the campaign's schedule zone, else the user's language's."""
    if zone in ZONES:
        return str(zone)
    return zone_for_language(
        page_language(request.headers.get("accept-language"), account.language)
    )


def _when(zone: str) -> Callable[[datetime | None], str]:
    tz = ZoneInfo(zone)

    def show(value: datetime | None) -> str:
        return value.astimezone(tz).strftime("%Y-%m-%d %H:%M") if value is not None else ""

    return show


async def _context(
    request: Request[Any, Any, Any], db: AsyncSession, account: StaffAccount, campaign_id: int
) -> dict[str, Any]:
    campaign = await campaigns.get_campaign(db, campaign_id)
    figures = await progress.campaign_progress(db, campaign_id)
    zone = _zone_of(request, account, campaign.schedule_zone)
    editor = account.role in ("editor", "admin")
    failures = (
        await campaign_actions.list_failures(db, campaign_id, 1, FAILURES_SHOWN)
        if editor and figures.failed
        else None
    )
    waiting = campaign.status in (CampaignStatus.DRAFT, CampaignStatus.SCHEDULED)
    return {
        "account": account,
        "campaign": campaign,
        "progress": figures,
        "zone": zone,
        "zones": ZONES,
        "when": _when(zone),
        "chart_points": [(_minute(zone)(point.minute), point.sent) for point in figures.per_minute],
        "chart": charts.time_series,
        "editor": editor,
        "failures": failures,
        "audience": await queries.audience_size(db, campaign_id) if waiting else None,
        "polling": figures.status == CampaignStatus.SENDING,
    }


def _minute(zone: str) -> Callable[[datetime], str]:
    tz = ZoneInfo(zone)
    return lambda value: value.astimezone(tz).strftime("%H:%M")


async def _page(
    request: Request[Any, Any, Any],
    db: AsyncSession,
    account: StaffAccount,
    campaign_id: int,
    *,
    status_code: int = 200,
    message: str | None = None,
    error: bool = False,
    problems: dict[str, str] | None = None,
    template: str = "app/campaign.html",
    **extra: Any,
) -> Response[str]:
    context = await _context(request, db, account, campaign_id)
    return render_page(
        request,
        template,
        status_code=status_code,
        message=message,
        error=error,
        problems=problems or {},
        **context,
        **extra,
    )


async def _act(
    request: Request[Any, Any, Any],
    db: AsyncSession,
    campaign_id: int,
    *,
    action: str,
    done: str,
    step: Callable[[StaffAccount], Awaitable[object]],
) -> Response[str]:
    """Run an editor's action, record it in the audit trail, and show the page with the outcome."""
    account = await _editor(request, db)
    try:
        await step(account)
    except NotFound as exc:
        if exc.kind == "campaign":
            raise
        await db.rollback()
        return await _page(
            request,
            db,
            account,
            campaign_id,
            status_code=422,
            message=N_("there is no subscriber with that number"),
            error=True,
        )
    except (QueueUnavailable, Unavailable):
        await db.rollback()
        return await _page(
            request, db, account, campaign_id, status_code=503, message=_QUEUE_DOWN, error=True
        )
    except CampaignsError as exc:
        await db.rollback()
        status = next((code for kind, code in _STATUS_OF if isinstance(exc, kind)), 422)
        message = _WRONG_STATE if isinstance(exc, Conflict) else exc.message
        problems = exc.errors if isinstance(exc, InvalidInput) else {}
        return await _page(
            request,
            db,
            account,
            campaign_id,
            status_code=status,
            message=message,
            error=True,
            problems=problems,
        )
    await staff_audit.record(db, permissions.actor(account), action, f"campaign:{campaign_id}")
    await db.commit()
    return await _page(request, db, account, campaign_id, message=done)


class SendingPages(Controller):
    """``/app/campaigns/{id}`` and its forms."""

    path = "/app/campaigns"
    include_in_schema = False
    exception_handlers = {  # noqa: RUF012 - Litestar's own shape
        NotAuthenticated: to_login,
        PermissionDenied: _forbidden,
        NotFound: _missing,
    }

    @get("/{campaign_id:int}")
    async def campaign(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[AsyncSession],
        campaign_id: FromPath[int],
    ) -> Response[str]:
        """The campaign's status, schedule, progress and (for editors) its actions."""
        return await _page(request, db, await _viewer(request, db), campaign_id)

    @get("/{campaign_id:int}/progress")
    async def progress_fragment(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[AsyncSession],
        campaign_id: FromPath[int],
    ) -> Response[str]:
        """The progress section alone, which htmx polls every two seconds while sending."""
        account = await _viewer(request, db)
        return await _page(request, db, account, campaign_id, template="app/campaign_progress.html")

    @post("/{campaign_id:int}/test")
    async def send_test(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[AsyncSession],
        campaign_id: FromPath[int],
        data: Form,
    ) -> Response[str]:
        """Mail a test to the given addresses (comma, space or one per line)."""
        state = request.app.state
        raw_subscriber = data.get("subscriber_id", "").strip()

        async def step(account: StaffAccount) -> object:
            if raw_subscriber and not raw_subscriber.isdigit():
                raise InvalidInput(N_("the subscriber id must be a number"))
            test = TestSendRequest(
                to=data.get("to", "").replace(",", " ").split()[:50],
                subscriber_id=int(raw_subscriber[:19]) if raw_subscriber else None,
            )
            return await campaign_test_send.send_test(
                db,
                state.renderer,
                jobs=state.jobs,
                limits=state.jobs,
                settings=state.settings,
                actor=permissions.actor(account),
                campaign_id=campaign_id,
                request=test,
            )

        return await _act(
            request,
            db,
            campaign_id,
            action="campaign.test_send",
            done=N_("the test is on its way"),
            step=step,
        )

    @post("/{campaign_id:int}/send")
    async def send_now(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[AsyncSession],
        campaign_id: FromPath[int],
        data: Form,
    ) -> Response[str]:
        """First a confirmation naming the recipients; confirmed, the campaign goes out."""
        if data.get("confirm") != "yes":
            account = await _editor(request, db)
            return await _page(request, db, account, campaign_id, confirm="send")
        state = request.app.state
        return await _act(
            request,
            db,
            campaign_id,
            action="campaign.send",
            done=N_("the campaign is being sent"),
            step=lambda _: campaigns.send_campaign(db, state.renderer, state.jobs, campaign_id),
        )

    @post("/{campaign_id:int}/schedule")
    async def schedule(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[AsyncSession],
        campaign_id: FromPath[int],
        data: Form,
    ) -> Response[str]:
        """Schedule at a date and time in the chosen zone."""
        state = request.app.state
        when = ScheduleRequest(
            at=f"{data.get('date', '')[:10]}T{data.get('time', '')[:8]}",
            zone=data.get("zone", "")[:64],
        )
        return await _act(
            request,
            db,
            campaign_id,
            action="campaign.schedule",
            done=N_("the campaign is scheduled"),
            step=lambda _: scheduling.schedule_campaign(db, state.renderer, campaign_id, when),
        )

    @post("/{campaign_id:int}/unschedule")
    async def unschedule(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[AsyncSession],
        campaign_id: FromPath[int],
    ) -> Response[str]:
        """Back to a draft while it waits."""
        return await _act(
            request,
            db,
            campaign_id,
            action="campaign.unschedule",
            done=N_("the campaign is a draft again"),
            step=lambda _: scheduling.unschedule_campaign(db, campaign_id),
        )

    @post("/{campaign_id:int}/pause")
    async def pause(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[AsyncSession],
        campaign_id: FromPath[int],
    ) -> Response[str]:
        """Stop sending until resumed."""
        return await _act(
            request,
            db,
            campaign_id,
            action="campaign.pause",
            done=N_("the campaign is paused"),
            step=lambda _: campaign_actions.pause_campaign(db, campaign_id),
        )

    @post("/{campaign_id:int}/resume")
    async def resume(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[AsyncSession],
        campaign_id: FromPath[int],
    ) -> Response[str]:
        """Go on sending."""
        jobs = request.app.state.jobs
        return await _act(
            request,
            db,
            campaign_id,
            action="campaign.resume",
            done=N_("the campaign is being sent again"),
            step=lambda _: campaign_actions.resume_campaign(db, jobs, campaign_id),
        )

    @post("/{campaign_id:int}/cancel")
    async def cancel(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[AsyncSession],
        campaign_id: FromPath[int],
        data: Form,
    ) -> Response[str]:
        """First a confirmation; confirmed, nothing more of the campaign is sent."""
        if data.get("confirm") != "yes":
            account = await _editor(request, db)
            return await _page(request, db, account, campaign_id, confirm="cancel")
        jobs = request.app.state.jobs
        return await _act(
            request,
            db,
            campaign_id,
            action="campaign.cancel",
            done=N_("the campaign is cancelled"),
            step=lambda _: campaign_actions.cancel_campaign(db, jobs, campaign_id),
        )

    @post("/{campaign_id:int}/retry-failed")
    async def retry_failed(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[AsyncSession],
        campaign_id: FromPath[int],
    ) -> Response[str]:
        """Have the mailer send the failed messages again."""
        jobs = request.app.state.jobs
        return await _act(
            request,
            db,
            campaign_id,
            action="campaign.retry_failed",
            done=N_("the failed messages are queued again"),
            step=lambda _: campaign_actions.retry_failed(db, jobs, campaign_id),
        )
