"""The staff app's webhook pages (admin): the endpoints, a new one with its secret shown once,
and each endpoint's delivery log with its test, enable and disable buttons. The same domain
functions as ``/api/webhooks``."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, QueryParameter
from sqlalchemy.ext.asyncio import AsyncSession

from services.campaigns import webhooks
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
    language,
    not_found,
    record_action,
    time_zone,
    translated,
)
from services.campaigns.routes.app_pages import render_page, to_login
from services.campaigns.staff_forms import FieldError
from services.campaigns.webhook_schemas import WebhookCreate, WebhookCreated
from shared.events import EVENT_TYPES

Req = Request[Any, Any, Any]


async def _webhooks_page(
    request: Req,
    db: AsyncSession,
    account: StaffAccount,
    *,
    status_code: int = 200,
    created: WebhookCreated | None = None,
    **context: Any,
) -> Response[str]:
    return render_page(
        request,
        "app/webhooks.html",
        status_code=status_code,
        account=account,
        webhooks=await webhooks.list_endpoints(db),
        event_types=EVENT_TYPES,
        created=created,
        zone=time_zone(language(request, account)),
        form=context.pop("form", None),
        errors=context.pop("errors", []),
        **context,
    )


async def _webhook_page(
    request: Req,
    db: AsyncSession,
    account: StaffAccount,
    webhook_id: int,
    *,
    before: int | None = None,
    **context: Any,
) -> Response[str]:
    return render_page(
        request,
        "app/webhook.html",
        account=account,
        webhook=await webhooks.get_endpoint(db, webhook_id),
        deliveries=await webhooks.deliveries_page(db, webhook_id, before),
        zone=time_zone(language(request, account)),
        **context,
    )


class WebhookPages(Controller):
    """``/app/webhooks`` and ``/app/webhooks/{id}`` (admin)."""

    path = "/app/webhooks"
    include_in_schema = False
    exception_handlers = {  # noqa: RUF012 - Litestar's own shape
        NotAuthenticated: to_login,
        PermissionDenied: forbidden,
        NotFound: not_found,
    }

    @get("/")
    async def list_webhooks(self, request: Req, db: NamedDependency[AsyncSession]) -> Response[str]:
        """Every endpoint with its state, and the form for a new one."""
        return await _webhooks_page(request, db, await allowed(request, db, "admin"))

    @post("/")
    async def create_webhook(
        self, request: Req, db: NamedDependency[AsyncSession]
    ) -> Response[str]:
        """Register an endpoint; the page shows its secret this once."""
        account = await allowed(request, db, "admin")
        form = await request.form()
        data = WebhookCreate(
            url=str(form.get("url") or "")[:2001],
            events=[str(value) for value in form.getall("events", [])][: len(EVENT_TYPES)],
            description=str(form.get("description") or "")[:201],
        )
        try:
            created = await webhooks.create_endpoint(db, request.app.state.settings, data)
        except CampaignsError as exc:
            await db.rollback()
            errors = [FieldError(name, text) for name, text in exc.errors.items()]
            return await _webhooks_page(
                request,
                db,
                account,
                status_code=422,
                form=form,
                errors=translated(request, account, errors),
                message=exc.message,
                error=True,
            )
        await record_action(db, account, "webhook.create", str(created.id), data)
        return await _webhooks_page(request, db, account, created=created)

    @get("/{webhook_id:int}")
    async def webhook_page(
        self,
        request: Req,
        db: NamedDependency[AsyncSession],
        webhook_id: FromPath[int],
        before: Annotated[int | None, QueryParameter(ge=1, le=2**63 - 1)] = None,
    ) -> Response[str]:
        """One endpoint: its state and delivery log, newest first."""
        account = await allowed(request, db, "admin")
        return await _webhook_page(request, db, account, webhook_id, before=before)

    @post("/{webhook_id:int}/test")
    async def test_webhook(
        self, request: Req, db: NamedDependency[AsyncSession], webhook_id: FromPath[int]
    ) -> Response[str]:
        """Queue a test event to the endpoint."""
        account = await allowed(request, db, "admin")
        await webhooks.send_test(db, webhook_id)
        await record_action(db, account, "webhook.test", str(webhook_id))
        message = N_("a test event is queued; its delivery appears below")
        return await _webhook_page(request, db, account, webhook_id, message=message)

    @post("/{webhook_id:int}/enable")
    async def enable_webhook(
        self, request: Req, db: NamedDependency[AsyncSession], webhook_id: FromPath[int]
    ) -> Response[str]:
        """Enable the endpoint again; its run of failures starts over."""
        return await _set_active(request, db, webhook_id, True)

    @post("/{webhook_id:int}/disable")
    async def disable_webhook(
        self, request: Req, db: NamedDependency[AsyncSession], webhook_id: FromPath[int]
    ) -> Response[str]:
        """Stop sending to the endpoint; events while it is disabled are not kept for it."""
        return await _set_active(request, db, webhook_id, False)

    @get("/{webhook_id:int}/delete")
    async def confirm_delete(
        self, request: Req, db: NamedDependency[AsyncSession], webhook_id: FromPath[int]
    ) -> Response[str]:
        """Ask before deleting an endpoint."""
        account = await allowed(request, db, "admin")
        webhook = await webhooks.get_endpoint(db, webhook_id)
        return render_page(request, "app/webhook_delete.html", account=account, webhook=webhook)

    @post("/{webhook_id:int}/delete")
    async def delete_webhook(
        self, request: Req, db: NamedDependency[AsyncSession], webhook_id: FromPath[int]
    ) -> Response[str]:
        """Delete the endpoint with its delivery log."""
        account = await allowed(request, db, "admin")
        await webhooks.delete_endpoint(db, webhook_id)
        await record_action(db, account, "webhook.delete", str(webhook_id))
        message = N_("the webhook is deleted")
        return await _webhooks_page(request, db, account, message=message)


async def _set_active(
    request: Req, db: AsyncSession, webhook_id: int, active: bool
) -> Response[str]:
    account = await allowed(request, db, "admin")
    await webhooks.set_active(db, webhook_id, active)
    await record_action(db, account, "webhook.update", str(webhook_id))
    message = N_("the webhook is enabled") if active else N_("the webhook is disabled")
    return await _webhook_page(request, db, account, webhook_id, message=message)
