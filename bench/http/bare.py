"""The reference: a Litestar app with one POST endpoint that reads the body and answers 202,
served by the same uvicorn settings as the subscriptions service, its heap settled after
start-up as every served app's is (shared.process.from_env)."""

from __future__ import annotations

from typing import Any

from litestar import Litestar, Request, Response, post

from shared.process import settle_heap


@post("/bare", status_code=202)
async def bare(request: Request[Any, Any, Any]) -> Response[dict[str, str]]:
    """Read the body and answer, nothing else."""
    await request.body()
    return Response({"status": "pending"}, status_code=202)


def create_app() -> Litestar:
    """The app, for ``uvicorn --factory``."""
    return Litestar(
        route_handlers=[bare], logging_config=None, openapi_config=None, on_startup=[settle_heap]
    )
