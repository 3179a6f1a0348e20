"""The staff app's event feed pages: every member institution's feeds with their state (a
broken feed with its reason), registering one and removing one (editors)."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from sqlalchemy.ext.asyncio import AsyncSession

from services.campaigns import editor, feeds, queries, sites, staff_forms
from services.campaigns.accounts import StaffAccount
from services.campaigns.errors import (
    N_,
    InvalidInput,
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
from shared.municipalities import MUNICIPALITIES

Req = Request[Any, Any, Any]


async def _feeds_page(
    request: Req, db: AsyncSession, account: StaffAccount, status_code: int = 200, **context: Any
) -> Response[str]:
    return render_page(
        request,
        "app/feeds.html",
        status_code=status_code,
        account=account,
        feeds=await queries.all_feeds(db),
        sites=(await sites.get_sites(db)).items,
        lists=await queries.all_lists(db),
        municipalities=MUNICIPALITIES,
        names={item.id: item.name for item in MUNICIPALITIES},
        local_time=editor.local_time,
        form=context.pop("form", None),
        errors=context.pop("errors", []),
        **context,
    )


class FeedPages(Controller):
    """``/app/feeds``."""

    path = "/app/feeds"
    include_in_schema = False
    exception_handlers = {  # noqa: RUF012 - Litestar's own shape
        NotAuthenticated: to_login,
        PermissionDenied: forbidden,
        NotFound: not_found,
    }

    @get("/")
    async def list_feeds(self, request: Req, db: NamedDependency[AsyncSession]) -> Response[str]:
        """Every feed with its state; the form for a new one (editors)."""
        return await _feeds_page(request, db, await allowed(request, db, "viewer"))

    @post("/")
    async def register_feed(self, request: Req, db: NamedDependency[AsyncSession]) -> Response[str]:
        """Register a member site's feed (editor); its first fetch is due at once."""
        account = await allowed(request, db, "editor")
        form = await request.form()
        data = staff_forms.form_data(form)
        try:
            feed = await feeds.register_feed(
                db,
                staff_forms.text(data, "site"),
                staff_forms.text(data, "url"),
                staff_forms.text(data, "list"),
                staff_forms.text(data, "municipality"),
            )
        except InvalidInput as exc:
            await db.rollback()
            errors = staff_forms.field_errors(exc.errors, {})
            return await _feeds_page(
                request,
                db,
                account,
                422,
                form=form,
                errors=translated(request, account, errors),
                message=exc.message,
                error=True,
            )
        await record_action(db, account, "feed.create", str(feed.id))
        return await _feeds_page(request, db, account, message=N_("the feed is registered"))

    @post("/{feed_id:int}/delete")
    async def remove_feed(
        self, request: Req, db: NamedDependency[AsyncSession], feed_id: FromPath[int]
    ) -> Response[str]:
        """Remove a feed and its events (editor)."""
        account = await allowed(request, db, "editor")
        await feeds.remove_feed(db, feed_id)
        await record_action(db, account, "feed.delete", str(feed_id))
        return await _feeds_page(request, db, account, message=N_("the feed is removed"))
