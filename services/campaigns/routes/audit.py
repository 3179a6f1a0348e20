"""HTTP route for the staff audit trail (admin)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from litestar import Controller, get
from litestar.di import NamedDependency
from litestar.params import FromQuery, QueryParameter
from sqlalchemy.ext.asyncio import AsyncSession

from services.campaigns import staff_audit
from services.campaigns.routes.security import requires
from services.campaigns.staff_audit import AuditPageOut


class AuditController(Controller):
    """``/api/audit``."""

    path = "/audit"
    tags = ("audit",)

    @get("/", guards=[requires("admin")])
    async def get_audit(
        self,
        *,
        db: NamedDependency[AsyncSession],
        actor: Annotated[str | None, QueryParameter(max_length=64)] = None,
        action: Annotated[str | None, QueryParameter(max_length=64)] = None,
        object_ref: Annotated[str | None, QueryParameter(name="object", max_length=128)] = None,
        since: FromQuery[datetime | None] = None,
        until: FromQuery[datetime | None] = None,
        before: Annotated[int | None, QueryParameter(ge=1, le=2**63 - 1)] = None,
        limit: Annotated[
            int, QueryParameter(ge=1, le=staff_audit.MAX_PAGE)
        ] = staff_audit.DEFAULT_PAGE,
    ) -> AuditPageOut:
        """Staff actions, newest first, filtered by actor, action, object and time (admin)."""
        return await staff_audit.read(
            db,
            actor=actor,
            action=action,
            object_ref=object_ref,
            since=since,
            until=until,
            before=before,
            limit=limit,
        )
