"""What the campaign page's handlers share: the roles they check, the page with its figures,
and one way to run an action, audit it and show the outcome."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, Final
from zoneinfo import ZoneInfo

from litestar import Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

from services.campaigns import (
    campaign_actions,
    campaigns,
    charts,
    engagement_report,
    permissions,
    progress,
    queries,
    staff_audit,
)
from services.campaigns.accounts import StaffAccount
from services.campaigns.errors import (
    N_,
    CampaignsError,
    Conflict,
    InvalidInput,
    NotFound,
    TooManyRequests,
    Unavailable,
)
from services.campaigns.pages import page_language
from services.campaigns.routes.app_guard import allowed
from services.campaigns.routes.app_pages import render_page
from services.campaigns.schedule_times import ZONES, zone_for_language
from shared.errors import QueueUnavailable
from shared.statuses import CampaignStatus

_STATUS_OF: Final = ((InvalidInput, 422), (NotFound, 404), (Conflict, 409), (TooManyRequests, 429))
_QUEUE_DOWN: Final = N_("the job queue cannot be reached; try again shortly")
_WRONG_STATE: Final = N_("this cannot be done in the campaign's current state")
FAILURES_SHOWN: Final = 50


def missing(request: Request[Any, Any, Any], _: NotFound) -> Response[str]:
    return render_page(
        request,
        "app/forbidden.html",
        status_code=404,
        account=None,
        message=N_("there is no such campaign"),
        error=True,
    )


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
    may_act = account.role in ("editor", "admin")
    failures = (
        await campaign_actions.list_failures(db, campaign_id, 1, FAILURES_SHOWN)
        if may_act and figures.failed
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
        "editor": may_act,
        "failures": failures,
        "audience": await queries.audience_size(db, campaign_id) if waiting else None,
        "engagement": (
            None if waiting else await engagement_report.campaign_engagement(db, campaign_id)
        ),
        # Seconds between progress refreshes: often while sending; now and then while a
        # scheduled campaign waits, so the page shows its start; never once it is done.
        "polling": {
            CampaignStatus.SENDING: 2,
            CampaignStatus.TESTING: 2,
            CampaignStatus.WAITING: 10,
            CampaignStatus.SCHEDULED: 10,
        }.get(figures.status),
    }


def _minute(zone: str) -> Callable[[datetime], str]:
    tz = ZoneInfo(zone)
    return lambda value: value.astimezone(tz).strftime("%H:%M")


async def page(
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


async def act(
    request: Request[Any, Any, Any],
    db: AsyncSession,
    campaign_id: int,
    *,
    action: str,
    done: str,
    step: Callable[[StaffAccount], Awaitable[object]],
) -> Response[str]:
    """Run an editor's action, record it in the audit trail, and show the page with the outcome."""
    account = await allowed(request, db, "editor")
    try:
        await step(account)
    except NotFound as exc:
        if exc.kind == "campaign":
            raise
        await db.rollback()
        return await page(
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
        return await page(
            request, db, account, campaign_id, status_code=503, message=_QUEUE_DOWN, error=True
        )
    except CampaignsError as exc:
        await db.rollback()
        status = next((code for kind, code in _STATUS_OF if isinstance(exc, kind)), 422)
        message = _WRONG_STATE if isinstance(exc, Conflict) else exc.message
        problems = exc.errors if isinstance(exc, InvalidInput) else {}
        return await page(
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
    return await page(request, db, account, campaign_id, message=done)
