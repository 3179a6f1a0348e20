"""The staff app's sign-in flow over real HTTP: login, forced password change, CSRF, logout."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis

from services.campaigns import sessions, throttle
from services.campaigns.admin import create_user, seed_demo
from services.campaigns.app import create_app
from shared.settings import Settings
from tests.campaigns.staff_support import PASSWORD, create_staff
from tests.conftest import app_for

# Pages, permissions and input checks, not SQL: the queries behind them run on both
# databases in the API's tests, so these run on one (PostgreSQL when configured).
pytestmark = pytest.mark.one_database

NEW_PASSWORD = "en lang og god adgangskode"


@pytest.fixture
async def browser(
    settings: Settings, live_server: Any, redis: Redis
) -> AsyncIterator[httpx.AsyncClient]:
    """A cookie-keeping client on the live campaigns app."""
    await seed_demo(settings)
    async with (
        live_server(app_for(create_app, settings)) as server,
        httpx.AsyncClient(base_url=server.url, timeout=20) as client,
    ):
        yield client


def csrf_token(page: httpx.Response) -> str:
    found = re.search(r'name="_csrf_token" value="([^"]+)"', page.text)
    assert found, page.text
    return found.group(1)


async def log_in(client: httpx.AsyncClient, email: str, password: str) -> httpx.Response:
    form = await client.get("/app/login")
    return await client.post(
        "/app/login",
        data={"email": email, "password": password, "_csrf_token": csrf_token(form)},
    )


async def test_first_login_forces_a_password_change(
    browser: httpx.AsyncClient, settings: Settings
) -> None:
    _, one_time = await create_user(settings, "ea@example.dk", "editor", "Ea")
    assert (await browser.get("/app/")).headers["location"] == "/app/login"

    response = await log_in(browser, "ea@example.dk", one_time)
    assert response.status_code == 303 and response.headers["location"] == "/app/password"
    cookie = response.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Secure" not in cookie
    # Until the password is changed, the overview sends the user back to the form.
    assert (await browser.get("/app/")).headers["location"] == "/app/password"

    form = await browser.get("/app/password", headers={"Accept-Language": "sv"})
    assert "Välj ett lösenord" in form.text
    token = csrf_token(form)
    differ = await browser.post(
        "/app/password",
        data={"password": NEW_PASSWORD, "repeat": NEW_PASSWORD + "!", "_csrf_token": token},
    )
    assert differ.status_code == 422 and 'role="alert"' in differ.text
    saved = await browser.post(
        "/app/password",
        data={"password": NEW_PASSWORD, "repeat": NEW_PASSWORD, "_csrf_token": token},
    )
    assert saved.status_code == 303 and saved.headers["location"] == "/app/"
    home = await browser.get("/app/", headers={"Accept-Language": "da"})
    assert home.status_code == 200 and "Logget ind som Ea (redaktør)" in home.text
    assert "/app/users" not in home.text  # no admin links for an editor


async def test_login_issues_a_new_session_id(
    browser: httpx.AsyncClient, settings: Settings
) -> None:
    await create_user(settings, "v@example.dk", "viewer")
    browser.cookies.set(sessions.COOKIE_NAME, "planted-by-an-attacker", domain="127.0.0.1")
    from services.campaigns.admin import reset_password

    password = await reset_password(settings, "v@example.dk")
    response = await log_in(browser, "v@example.dk", password)
    assert response.status_code == 303
    assert response.cookies.get(sessions.COOKIE_NAME) not in (None, "planted-by-an-attacker")


async def test_wrong_passwords_lock_without_telling_which_emails_exist(
    browser: httpx.AsyncClient, settings: Settings
) -> None:
    _, password = await create_user(settings, "known@example.dk", "admin")
    answers = {}
    for email in ("known@example.dk", "unknown@example.dk"):
        for _ in range(throttle.ADDRESS_LIMIT):
            wrong = await log_in(browser, email, "not the password")
            assert wrong.status_code == 401
            assert "Forkert e-mail eller adgangskode" in wrong.text
        locked = await log_in(browser, email, password)
        answers[email] = (locked.status_code, locked.text.replace(email, "EMAIL"))
    assert answers["known@example.dk"] == answers["unknown@example.dk"]
    assert answers["known@example.dk"][0] == 429
    assert "For mange mislykkede forsøg" in answers["known@example.dk"][1]


async def test_forms_without_the_csrf_token_are_refused(
    browser: httpx.AsyncClient, settings: Settings
) -> None:
    _, password = await create_user(settings, "c@example.dk", "admin")
    await browser.get("/app/login")  # the CSRF cookie alone is not enough
    refused = await browser.post("/app/login", data={"email": "c@example.dk", "password": password})
    assert refused.status_code == 403
    assert sessions.COOKIE_NAME not in browser.cookies


async def test_logout_ends_the_session(browser: httpx.AsyncClient, settings: Settings) -> None:
    _, password = await create_user(settings, "l@example.dk", "viewer")
    await log_in(browser, "l@example.dk", password)
    session_id = browser.cookies.get(sessions.COOKIE_NAME)
    assert session_id
    form = await browser.get("/app/password")
    out = await browser.post("/app/logout", data={"_csrf_token": csrf_token(form)})
    assert out.status_code == 303 and out.headers["location"] == "/app/login"
    # Even the old cookie, replayed, no longer opens the app.
    browser.cookies.set(sessions.COOKIE_NAME, session_id, domain="127.0.0.1")
    assert (await browser.get("/app/password")).headers["location"] == "/app/login"


async def test_deactivated_user_is_signed_out_at_once(
    browser: httpx.AsyncClient, settings: Settings
) -> None:
    from services.campaigns import accounts
    from shared.db import create_engine, create_sessionmaker

    account, password = await create_user(settings, "d@example.dk", "editor")
    await log_in(browser, "d@example.dk", password)
    assert (await browser.get("/app/password")).status_code == 200
    engine = create_engine(settings.database_url)
    async with create_sessionmaker(engine)() as session:
        await accounts.set_active(session, account.id, False)
    await engine.dispose()
    assert (await browser.get("/app/password")).headers["location"] == "/app/login"


async def test_session_cookie_is_secure_behind_https(
    settings: Settings, live_server: Any, redis: Redis
) -> None:
    import dataclasses

    secure = dataclasses.replace(settings, campaigns_public_url="https://staff.example.dk")
    _, password = await create_user(secure, "s@example.dk", "viewer")
    async with (
        live_server(create_app(secure)) as server,
        httpx.AsyncClient(base_url=server.url, timeout=20) as client,
    ):
        form = await client.get("/app/login")
        assert "Secure" in form.headers["set-cookie"]
        # A client on plain HTTP keeps Secure cookies to itself; send the CSRF one by hand.
        response = await client.post(
            "/app/login",
            data={"email": "s@example.dk", "password": password, "_csrf_token": csrf_token(form)},
            headers={"Cookie": f"brevdue_csrf={form.cookies['brevdue_csrf']}"},
        )
    assert response.status_code == 303
    assert "Secure" in response.headers["set-cookie"]


async def test_each_user_chooses_the_apps_language(
    browser: httpx.AsyncClient, settings: Settings
) -> None:
    await create_staff(settings, "sv@example.se", "editor", "Sanna")
    await log_in(browser, "sv@example.se", PASSWORD)
    danish = {"Accept-Language": "da"}
    page = await browser.get("/app/account", headers=danish)
    assert page.status_code == 200 and "Min konto" in page.text
    assert 'aria-current="page">Min konto' in page.text
    refused = await browser.post(
        "/app/account", data={"language": "fi", "_csrf_token": csrf_token(page)}, headers=danish
    )
    assert refused.status_code == 422 and "Ukendt sprog" in refused.text
    saved = await browser.post(
        "/app/account", data={"language": "sv", "_csrf_token": csrf_token(page)}, headers=danish
    )
    # The user's choice wins over the browser's language, on every page from now on.
    assert saved.status_code == 200 and "Mitt konto" in saved.text and 'lang="sv"' in saved.text
    home = await browser.get("/app/", headers=danish)
    assert "Inloggad som Sanna" in home.text
    back = await browser.post(
        "/app/account", data={"language": "", "_csrf_token": csrf_token(page)}, headers=danish
    )
    assert "Min konto" in back.text


async def test_the_app_serves_its_own_htmx(browser: httpx.AsyncClient) -> None:
    login = await browser.get("/app/login")
    script = re.search(r'<script src="(/app/static/htmx-[0-9.]+\.min\.js)"', login.text)
    assert script, login.text
    served = await browser.get(script.group(1))
    assert served.status_code == 200 and "htmx" in served.text[:2000]
    assert "javascript" in served.headers["content-type"]
    style = await browser.get("/app/static/app.css")
    assert style.status_code == 200 and ":focus-visible" in style.text
    assert (await browser.get("/app/static/../app.py")).status_code == 404
