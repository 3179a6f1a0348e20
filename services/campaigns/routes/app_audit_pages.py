"""The staff app's audit log (``/app/audit``, admin): the filters of ``GET /api/audit``,
newest first, a page at a time, times in the user's time zone."""

from __future__ import annotations

from functools import partial
from typing import Any
from urllib.parse import urlencode

from litestar import Controller, Request, Response, get
from litestar.di import NamedDependency
from sqlalchemy.ext.asyncio import AsyncSession

from services.campaigns import accounts, auth, staff_audit
from services.campaigns.audit_filters import PER_PAGE, read_filters
from services.campaigns.errors import InvalidInput, NotAuthenticated, PermissionDenied
from services.campaigns.routes.app_guard import allowed, forbidden, language, time_zone
from services.campaigns.routes.app_pages import render_page, to_login

Req = Request[Any, Any, Any]


class AuditPages(Controller):
    """``/app/audit`` (admin)."""

    path = "/app/audit"
    include_in_schema = False
    exception_handlers = {  # noqa: RUF012 - Litestar's own shape
        NotAuthenticated: to_login,
        PermissionDenied: forbidden,
    }

    @get("/")
    async def audit_log(self, request: Req, db: NamedDependency[AsyncSession]) -> Response[str]:
        """One page of staff actions matching the filters."""
        account = await allowed(request, db, "admin")
        lang = language(request, account)
        zone = time_zone(lang)
        query = {key: str(value) for key, value in request.query_params.items()}
        users = await accounts.list_users(db)
        tokens = await auth.list_tokens(db)
        # Actors by what staff know them by: a user's address, a token's label.
        names = {f"user:{user.id}": user.email for user in users} | {
            f"token:{token.id}": f"{token.label} (token:{token.id})" for token in tokens
        }
        context: dict[str, Any] = {
            "account": account,
            "zone": zone,
            "query": query,
            "users": users,
            "tokens": tokens,
            "names": names,
        }
        try:
            filters = read_filters(query, zone)
            found = await staff_audit.read(
                db,
                actor=filters.actor,
                action=filters.action,
                object_ref=filters.object_ref,
                since=filters.since,
                until=filters.until,
                before=filters.before,
                limit=PER_PAGE,
            )
        except InvalidInput as exc:
            gettext = partial(request.app.state.pages.gettext, lang)
            errors = {field: gettext(why) for field, why in exc.errors.items()}
            return render_page(
                request,
                "app/audit.html",
                status_code=422,
                entries=[],
                next_page=None,
                errors=errors,
                message=exc.message,
                error=True,
                **context,
            )
        next_page = (
            "?" + urlencode({**query, "before": found.next_before}) if found.next_before else None
        )
        return render_page(
            request,
            "app/audit.html",
            entries=found.entries,
            next_page=next_page,
            first_page="?" + urlencode({k: v for k, v in query.items() if k != "before"})
            if filters.before
            else None,
            errors={},
            **context,
        )
