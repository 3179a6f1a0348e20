"""Helpers for the staff app page tests: staff users, login, posts that carry the CSRF token."""

from __future__ import annotations

import re
from typing import Any

import httpx

from services.campaigns import accounts
from shared.db import create_engine, create_sessionmaker
from shared.settings import Settings

PASSWORD = "a long enough password"


async def create_staff(settings: Settings, email: str, role: str, name: str = "") -> int:
    """A staff user with a password of their own (``PASSWORD``); return the id."""
    engine = create_engine(settings.database_url)
    async with create_sessionmaker(engine)() as session:
        account, _ = await accounts.create_user(session, email, role, name, password=PASSWORD)
    await engine.dispose()
    return account.id


def csrf_token(page: httpx.Response) -> str:
    """The CSRF token of the first form on a page."""
    found = re.search(r'name="_csrf_token" value="([^"]+)"', page.text)
    assert found, page.text
    return found.group(1)


async def log_in(client: httpx.AsyncClient, email: str, password: str) -> httpx.Response:
    """Log in through the login form."""
    form = await client.get("/app/login")
    return await client.post(
        "/app/login",
        data={"email": email, "password": password, "_csrf_token": csrf_token(form)},
    )


async def sign_in_as(client: httpx.AsyncClient, settings: Settings, role: str) -> int:
    """Create a ``role`` user (``<role>@example.dk``) and sign ``client`` in; return the id."""
    user_id = await create_staff(settings, f"{role}@example.dk", role, role.title())
    response = await log_in(client, f"{role}@example.dk", PASSWORD)
    assert response.status_code == 303, response.text
    return user_id


async def post_form(
    client: httpx.AsyncClient, form_page: str, path: str, **data: Any
) -> httpx.Response:
    """Open ``form_page`` for its CSRF token, then post ``data`` to ``path``."""
    form = await client.get(form_page)
    return await client.post(path, data={**data, "_csrf_token": csrf_token(form)})
