"""The staff app's audience pages: lists (counts, growth, texts) and subscribers (search, one
subscriber, GDPR export and erasure behind a confirmation step). Thin handlers over the same
domain functions as the JSON API, behind the same permission check."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect
from sqlalchemy.ext.asyncio import AsyncSession

from services.campaigns import (
    fields,
    list_forms,
    list_stats,
    lists,
    permissions,
    staff_audit,
    subscriber_lookup,
    subscribers,
)
from services.campaigns.accounts import StaffAccount
from services.campaigns.audience_pages import growth_chart
from services.campaigns.errors import (
    N_,
    CampaignsError,
    Conflict,
    NotAuthenticated,
    NotFound,
    PermissionDenied,
)
from services.campaigns.pages import page_language
from services.campaigns.render_pool import RenderPool
from services.campaigns.routes.app_guard import allowed, forbidden
from services.campaigns.routes.app_pages import Form, render_page, to_login
from services.campaigns.subscribers import SubscriberAddress
from shared.errors import QueueUnavailable
from shared.languages import LANGUAGES


def _not_found(request: Request[Any, Any, Any], _: NotFound) -> Response[str]:
    return render_page(
        request,
        "app/not_found.html",
        status_code=404,
        account=None,
        message=N_("this page does not exist"),
        error=True,
    )


async def _lists_page(
    request: Request[Any, Any, Any],
    db: AsyncSession,
    account: StaffAccount,
    *,
    status_code: int = 200,
    form: dict[str, str] | None = None,
    failure: CampaignsError | None = None,
) -> Response[str]:
    return render_page(
        request,
        "app/lists.html",
        status_code=status_code,
        account=account,
        rows=await list_stats.lists_with_counts(db),
        languages=LANGUAGES,
        form=form or {"is_public": "1", "double_optin": "1"},
        **_failure(failure),
    )


async def _list_page(
    request: Request[Any, Any, Any],
    db: AsyncSession,
    account: StaffAccount,
    slug: str,
    *,
    status_code: int = 200,
    message: str | None = None,
    form: dict[str, str] | None = None,
    failure: CampaignsError | None = None,
) -> Response[str]:
    found = await lists.get_list(db, slug)
    stats = await list_stats.get_list_stats(db, slug)
    return render_page(
        request,
        "app/list.html",
        status_code=status_code,
        account=account,
        mlist=found,
        stats=stats,
        chart=growth_chart(
            request.app.state.pages,
            page_language(request.headers.get("accept-language"), account.language),
            stats,
        ),
        languages=LANGUAGES,
        form=form,
        custom_fields=(await fields.get_fields(db)).items,
        age_of_consent=request.app.state.settings.age_of_digital_consent,
        **{"message": message, **_failure(failure)},
    )


def _failure(failure: CampaignsError | None) -> dict[str, Any]:
    if failure is None:
        return {}
    message = failure.message
    if isinstance(failure, Conflict):
        message = N_("a list with this slug exists")
    return {
        "message": message,
        "error": True,
        "form_errors": [
            (list_forms.field_id(key), *list_forms.field_label(key), reason)
            for key, reason in failure.errors.items()
        ],
    }


class AudiencePages(Controller):
    """``/app/lists`` and ``/app/subscribers``."""

    path = "/app"
    include_in_schema = False
    exception_handlers = {  # noqa: RUF012 - Litestar's own shape
        NotAuthenticated: to_login,
        PermissionDenied: forbidden,
        NotFound: _not_found,
    }

    @get("/lists")
    async def lists_page(
        self, request: Request[Any, Any, Any], db: NamedDependency[AsyncSession]
    ) -> Response[str]:
        """Every list with its subscriptions by state; admins also get the create form."""
        return await _lists_page(request, db, await allowed(request, db, "viewer"))

    @post("/lists", status_code=303)
    async def create_list(
        self, request: Request[Any, Any, Any], db: NamedDependency[AsyncSession], data: Form
    ) -> Response[Any]:
        """Create a list (admin), then show it."""
        account = await allowed(request, db, "admin")
        body = list_forms.create_request(data)
        try:
            created = await lists.create_list(db, body)
        except CampaignsError as exc:
            await db.rollback()
            return await _lists_page(
                request, db, account, status_code=422, form=dict(data), failure=exc
            )
        await staff_audit.record(
            db, permissions.actor(account), "list.create", f"list:{created.slug}", _fields(body)
        )
        await db.commit()
        return Redirect(f"/app/lists/{created.slug}", status_code=303)

    @get("/lists/{slug:str}")
    async def list_page(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[AsyncSession],
        slug: FromPath[str],
    ) -> Response[str]:
        """One list: counts, growth chart, names and welcome texts (editable by admins)."""
        return await _list_page(request, db, await allowed(request, db, "viewer"), slug)

    @post("/lists/{slug:str}", status_code=200)
    async def update_list(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[AsyncSession],
        renderer: NamedDependency[RenderPool],
        slug: FromPath[str],
        data: Form,
    ) -> Response[str]:
        """Save a list's names, descriptions and welcome texts (admin)."""
        account = await allowed(request, db, "admin")
        body = list_forms.update_request(data)
        try:
            await lists.update_list(db, renderer, slug, body)
        except NotFound:
            raise
        except CampaignsError as exc:
            await db.rollback()
            return await _list_page(
                request, db, account, slug, status_code=422, form=dict(data), failure=exc
            )
        await staff_audit.record(
            db, permissions.actor(account), "list.update", f"list:{slug}", _fields(body)
        )
        await db.commit()
        return await _list_page(request, db, account, slug, message=N_("saved"))

    @get("/subscribers")
    async def subscribers_page(
        self,
        *,
        request: Request[Any, Any, Any],
        db: NamedDependency[AsyncSession],
        q: FromQuery[str] = "",
        by: FromQuery[str] = "email",
        cursor: FromQuery[str] = "",
        erased: FromQuery[str] = "",
    ) -> Response[str]:
        """Search by prefix of address or name; htmx asks for the results alone."""
        account = await allowed(request, db, "viewer")
        by = by if by in subscriber_lookup.SEARCH_FIELDS else "email"
        # A cursor from a hand-edited address starts the search over instead of failing.
        valid = cursor.isascii() and cursor.isdigit() and len(cursor) < 19 and int(cursor) > 0
        after = int(cursor) if valid else None
        q = q[: subscriber_lookup.MAX_QUERY].replace("\x00", "")
        found = await subscriber_lookup.search(db, q, by=by, cursor=after)
        # htmx's search-as-you-type wants the results alone; its history restore, the page.
        fragment = request.headers.get("hx-request") == "true" and not (
            request.headers.get("hx-boosted") or request.headers.get("hx-history-restore-request")
        )
        return render_page(
            request,
            "app/subscriber_results.html" if fragment else "app/subscribers.html",
            account=account,
            q=q,
            by=by,
            cursor=after,
            found=found,
            message=N_("the erasure is queued; the subscriber disappears within a minute")
            if erased == "1"
            else None,
        )

    @get("/subscribers/{subscriber_id:int}")
    async def subscriber_page(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[AsyncSession],
        subscriber_id: FromPath[int],
    ) -> Response[str]:
        """One subscriber: details, lists, consent history, deliveries; GDPR for admins."""
        account = await allowed(request, db, "viewer")
        found = await subscriber_lookup.get_subscriber(db, subscriber_id)
        return render_page(request, "app/subscriber.html", account=account, subscriber=found)

    @get("/subscribers/{subscriber_id:int}/export")
    async def confirm_export(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[AsyncSession],
        subscriber_id: FromPath[int],
    ) -> Response[str]:
        """The confirmation step before an export (admin)."""
        return await _confirmation(request, db, subscriber_id, "export")

    @get("/subscribers/{subscriber_id:int}/erase")
    async def confirm_erase(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[AsyncSession],
        subscriber_id: FromPath[int],
    ) -> Response[str]:
        """The confirmation step before an erasure (admin)."""
        return await _confirmation(request, db, subscriber_id, "erase")

    @post("/subscribers/{subscriber_id:int}/export", status_code=200)
    async def export(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[AsyncSession],
        subscriber_id: FromPath[int],
    ) -> Response[Any]:
        """Everything stored about the subscriber, as a JSON download (admin, audited)."""
        account = await allowed(request, db, "admin")
        address = await subscriber_lookup.subscriber_address(db, subscriber_id)
        try:
            exported = await subscribers.export(
                request.app.state.jobs, SubscriberAddress(email=address), account
            )
        except QueueUnavailable:
            return await _gdpr_unavailable(request, db, account, subscriber_id, "export")
        await staff_audit.record(
            db, permissions.actor(account), "subscriber.export", f"subscriber:{subscriber_id}"
        )
        await db.commit()
        return Response(
            msgspec.json.format(msgspec.json.encode(exported)),
            media_type="application/json",
            headers={
                "Content-Disposition": f'attachment; filename="subscriber-{subscriber_id}.json"',
                "Cache-Control": "no-store",
            },
        )

    @post("/subscribers/{subscriber_id:int}/erase", status_code=303)
    async def erase(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[AsyncSession],
        subscriber_id: FromPath[int],
    ) -> Response[Any]:
        """Queue the subscriber's erasure (admin, audited), then back to the search."""
        account = await allowed(request, db, "admin")
        address = await subscriber_lookup.subscriber_address(db, subscriber_id)
        try:
            accepted = await subscribers.request_erasure(
                request.app.state.jobs, SubscriberAddress(email=address), account
            )
        except QueueUnavailable:
            return await _gdpr_unavailable(request, db, account, subscriber_id, "erase")
        await staff_audit.record(
            db,
            permissions.actor(account),
            "subscriber.erase",
            f"subscriber:{subscriber_id}",
            {"request_id": accepted.request_id},
        )
        await db.commit()
        # After the POST, a page of its own: reloading it does not ask to send the form again.
        return Redirect("/app/subscribers?erased=1", status_code=303)


async def _confirmation(
    request: Request[Any, Any, Any], db: AsyncSession, subscriber_id: int, action: str
) -> Response[str]:
    account = await allowed(request, db, "admin")
    found = await subscriber_lookup.get_subscriber(db, subscriber_id)
    return render_page(
        request, "app/subscriber_confirm.html", account=account, subscriber=found, action=action
    )


async def _gdpr_unavailable(
    request: Request[Any, Any, Any],
    db: AsyncSession,
    account: StaffAccount,
    subscriber_id: int,
    action: str,
) -> Response[str]:
    found = await subscriber_lookup.get_subscriber(db, subscriber_id)
    return render_page(
        request,
        "app/subscriber_confirm.html",
        status_code=503,
        account=account,
        subscriber=found,
        action=action,
        message=N_("the subscriptions worker did not answer; try again shortly"),
        error=True,
    )


def _fields(body: msgspec.Struct) -> dict[str, Any]:
    # Like the API's audit entries: which fields a change touched, never their values.
    return {
        "fields": sorted(
            key for key, value in msgspec.structs.asdict(body).items() if value is not msgspec.UNSET
        )
    }
