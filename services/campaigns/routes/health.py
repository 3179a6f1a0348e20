"""Liveness and readiness probes (no authentication)."""

from __future__ import annotations

from litestar import Response, get
from litestar.datastructures import State

from services.campaigns.health import readiness
from services.campaigns.schemas import HealthOut


@get("/health/live", tags=["health"])
async def live() -> HealthOut:
    """200 while the process serves requests."""
    return HealthOut(status="ok")


@get("/health/ready", tags=["health"])
async def ready(state: State) -> Response[HealthOut]:
    """200 when the database and Redis answer, else 503 naming what failed."""
    checks = await readiness(state.sessionmaker, state.jobs)
    ok = all(result == "ok" for result in checks.values())
    return Response(
        HealthOut(status="ok" if ok else "unavailable", checks=checks),
        status_code=200 if ok else 503,
    )
