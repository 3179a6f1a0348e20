"""The staff app's campaign page (``/app/campaigns/{id}``): status, schedule, live progress,
and every sending action: test send, send now, schedule, unschedule, pause, resume, cancel,
retry of failed sends. The same domain functions and permission check as the JSON API."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from sqlalchemy.ext.asyncio import AsyncSession

from services.campaigns import (
    campaign_actions,
    campaign_test_send,
    campaigns,
    permissions,
    scheduling,
)
from services.campaigns.accounts import StaffAccount
from services.campaigns.errors import (
    N_,
    InvalidInput,
    NotAuthenticated,
    NotFound,
    PermissionDenied,
)
from services.campaigns.routes.app_guard import allowed, forbidden
from services.campaigns.routes.app_pages import Form, to_login
from services.campaigns.routes.app_sending_support import (
    act,
    missing,
    page,
)
from services.campaigns.sending_schemas import ScheduleRequest, TestSendRequest
from shared.languages import LANGUAGES


class SendingPages(Controller):
    """``/app/campaigns/{id}`` and its forms."""

    path = "/app/campaigns"
    include_in_schema = False
    exception_handlers = {  # noqa: RUF012 - Litestar's own shape
        NotAuthenticated: to_login,
        PermissionDenied: forbidden,
        NotFound: missing,
    }

    @get("/{campaign_id:int}")
    async def campaign(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[AsyncSession],
        campaign_id: FromPath[int],
    ) -> Response[str]:
        """The campaign's status, schedule, progress and (for editors) its actions."""
        return await page(request, db, await allowed(request, db, "viewer"), campaign_id)

    @get("/{campaign_id:int}/progress")
    async def progress_fragment(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[AsyncSession],
        campaign_id: FromPath[int],
    ) -> Response[str]:
        """The progress section alone, which htmx polls every two seconds while sending."""
        account = await allowed(request, db, "viewer")
        return await page(request, db, account, campaign_id, template="app/campaign_progress.html")

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
                language=next((code for code in LANGUAGES if code == data.get("language")), None),
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

        return await act(
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
            account = await allowed(request, db, "editor")
            return await page(request, db, account, campaign_id, confirm="send")
        state = request.app.state
        return await act(
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
        return await act(
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
        return await act(
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
        return await act(
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
        return await act(
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
            account = await allowed(request, db, "editor")
            return await page(request, db, account, campaign_id, confirm="cancel")
        jobs = request.app.state.jobs
        return await act(
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
        return await act(
            request,
            db,
            campaign_id,
            action="campaign.retry_failed",
            done=N_("the failed messages are queued again"),
            step=lambda _: campaign_actions.retry_failed(db, jobs, campaign_id),
        )
