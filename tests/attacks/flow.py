"""Both HTTP services and the mailer on real ports, Redis and SMTP, for attacks that follow a
resident's whole path (sign-up, confirmation, welcome, campaign, unsubscribe)."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from email.message import EmailMessage

import httpx

from brevdue_cli.redis_server import free_port
from services.campaigns.admin import create_token, seed_demo
from services.campaigns.app import create_app as create_campaigns_app
from services.mailer.worker import run_worker
from services.subscriptions.app import create_app as create_subscriptions_app
from shared.settings import Settings
from tests.conftest import LiveServer


@dataclass
class Services:
    """Base URLs, an HTTP client, an admin token's headers and the settings they run with."""

    subscriptions: str
    campaigns: str
    http: httpx.AsyncClient
    staff: dict[str, str]
    settings: Settings

    async def drain_mailer(self) -> None:
        """Deliver every queued mail (transactional and campaigns) and return."""
        await run_worker(self.settings, burst=True)

    async def staff_post(self, path: str, **kwargs: object) -> httpx.Response:
        """POST to the staff API as an admin."""
        return await self.http.post(f"{self.campaigns}{path}", headers=self.staff, **kwargs)  # type: ignore[arg-type]

    async def staff_patch(self, path: str, **kwargs: object) -> httpx.Response:
        """PATCH on the staff API as an admin."""
        return await self.http.patch(f"{self.campaigns}{path}", headers=self.staff, **kwargs)  # type: ignore[arg-type]


@asynccontextmanager
async def services(settings: Settings, access_log: bool = False) -> AsyncIterator[Services]:
    """Both services on free ports with demo lists and an admin token; ``access_log`` turns
    the HTTP server's access log on, as ``brevdue serve`` has it."""
    subs_port, camps_port = free_port(), free_port()
    settings = dataclasses.replace(
        settings,
        subscriptions_public_url=f"http://127.0.0.1:{subs_port}",
        campaigns_public_url=f"http://127.0.0.1:{camps_port}",
        # Sign-ups here come from no browser that could solve a proof of work.
        proof_of_work_without_site="off",
    )
    await seed_demo(settings)
    token = await create_token(settings, "admin", "attack suite")
    subs = LiveServer(create_subscriptions_app(settings), subs_port)
    camps = LiveServer(create_campaigns_app(settings), camps_port)
    async with subs, camps, httpx.AsyncClient(timeout=30) as http:
        yield Services(subs.url, camps.url, http, {"Authorization": f"Bearer {token}"}, settings)


def links(message: EmailMessage, path: str) -> list[str]:
    """The links to ``/<path>/<token>`` in a message's text part."""
    text = message.get_body(("plain",))
    assert text is not None
    return re.findall(rf"https?://[^\s<>\"]+/{path}/[A-Za-z0-9._\-]+", text.get_content())
