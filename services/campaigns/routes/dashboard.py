"""HTTP route for the overview's figures."""

from __future__ import annotations

from litestar import Controller, get
from litestar.di import NamedDependency
from sqlalchemy.ext.asyncio import AsyncSession

from services.campaigns import dashboard
from services.campaigns.dashboard_schemas import DashboardOut


class DashboardController(Controller):
    """``/api/dashboard``."""

    path = "/dashboard"
    tags = ("dashboard",)

    @get("/")
    async def get_dashboard(self, db: NamedDependency[AsyncSession]) -> DashboardOut:
        """Campaigns sending, paused or scheduled; the last five sent; confirmed sign-ups per
        UTC day, member site and list over the last 30 days."""
        return await dashboard.get_dashboard(db)
