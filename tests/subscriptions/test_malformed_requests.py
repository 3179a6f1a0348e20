"""Malformed HTTP from the wire: headers, multipart parts and bodies cut short get a 4xx with
a reason (or nothing at all), never a server error."""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from litestar.types import Message
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine

from services.subscriptions.app import create_app
from shared.settings import Settings
from tests.subscriptions.conftest import all_subscribers
from tests.subscriptions.member_sites import seed_member_site
from tests.subscriptions.residents import sign_up, subscriber_rows

# Pages, permissions and input checks, not SQL: the queries behind them run on both
# databases in the API's tests, so these run on one (PostgreSQL when configured).
pytestmark = pytest.mark.one_database

MULTIPART = {"content-type": "multipart/form-data; boundary=b"}


def _multipart(*parts: bytes) -> bytes:
    return b"".join(b"--b\r\n" + part + b"\r\n" for part in parts) + b"--b--\r\n"


def _field(name: str, value: bytes, content_type: bytes | None = None) -> bytes:
    head = b'Content-Disposition: form-data; name="' + name.encode() + b'"\r\n'
    if content_type is not None:
        head += b"Content-Type: " + content_type + b"\r\n"
    return head + b"\r\n" + value


UNDECODABLE_PARTS = {
    "not-utf8": _field("email", b"\xff\xfe@example.org"),
    "unknown-charset": _field("email", b"maja@example.org", b"text/plain; charset=bogus"),
}


async def _raw(client: httpx.AsyncClient, request: bytes) -> bytes:
    """Send bytes as they are (httpx refuses to send malformed headers) and read the answer."""
    reader, writer = await asyncio.open_connection("127.0.0.1", urlsplit(str(client.base_url)).port)
    try:
        writer.write(request)
        await writer.drain()
        return await asyncio.wait_for(reader.read(), 10)
    finally:
        writer.close()


@pytest.mark.parametrize("part", UNDECODABLE_PARTS.values(), ids=UNDECODABLE_PARTS.keys())
async def test_multipart_fields_that_cannot_be_decoded_are_a_client_error(
    client: httpx.AsyncClient,
    engine: AsyncEngine,
    redis: Redis,
    lists: dict[str, int],
    part: bytes,
) -> None:
    await seed_member_site(engine, "malmo-bibliotek", origins=["https://malmo.example"])
    resident = await sign_up(client, redis)
    body = _multipart(
        part,
        _field("lists", b"kultur"),
        _field("language", b"en"),
        _field("consent", b"on"),
        _field("name", b"Changed"),
    )

    for path in ("/subscribe", "/embed/malmo-bibliotek", f"/preferences/{resident.preferences}"):
        response = await client.post(
            path, content=body, headers={**MULTIPART, "accept-language": "en"}
        )
        assert response.status_code == 400, (path, response.status_code)
        assert "<h1>The request could not be read</h1>" in response.text
        assert "reload the page and try again" in response.text
    as_json = await client.post(
        "/subscribe", content=body, headers={**MULTIPART, "accept": "application/json"}
    )
    assert as_json.status_code == 400
    assert as_json.json()["detail"].startswith("A form field ")
    [subscriber] = await subscriber_rows(engine)
    assert subscriber["name"] is None  # nothing was changed


@pytest.mark.parametrize(
    "lang", [("da", "Forespørgslen kunne ikke læses"), ("sv", "Förfrågan kunde inte läsas")]
)
async def test_the_unreadable_request_page_is_translated(
    client: httpx.AsyncClient, lists: dict[str, int], lang: tuple[str, str]
) -> None:
    code, heading = lang
    body = _multipart(UNDECODABLE_PARTS["not-utf8"])

    response = await client.post(
        "/subscribe", content=body, headers={**MULTIPART, "accept-language": code}
    )

    assert response.status_code == 400
    assert f'<html lang="{code}">' in response.text
    assert f"<h1>{heading}</h1>" in response.text


@pytest.mark.parametrize("host", [b"a:b", b"example.org:port", b"http://["])
async def test_a_malformed_host_header_is_a_client_error_with_a_page(
    client: httpx.AsyncClient, lists: dict[str, int], host: bytes
) -> None:
    def request(method: bytes, path: bytes) -> bytes:
        return (
            method + b" " + path + b" HTTP/1.1\r\nHost: " + host + b"\r\n"
            b"Accept-Language: en\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        )

    for method, path in (
        (b"GET", b"/subscribe"),
        (b"POST", b"/subscribe"),
        (b"GET", b"/confirm/not-a-token"),
        (b"POST", b"/preferences/not-a-token/erase"),
    ):
        answer = await _raw(client, request(method, path))
        status_line = answer.split(b"\r\n", 1)[0]
        assert status_line.startswith(b"HTTP/1.1 400"), (method, path, status_line)
        assert b"<h1>The request could not be read</h1>" in answer
    # No handler takes it: the usual page, not a failure to build the URL for it.
    answer = await _raw(client, request(b"GET", b"/no/such/page"))
    assert answer.split(b"\r\n", 1)[0] in (b"HTTP/1.1 404 Not Found", b"HTTP/1.1 400 Bad Request")
    assert b"<h1>Page not found</h1>" in answer or b"could not be read" in answer


async def test_a_body_cut_short_is_a_client_error(
    settings: Settings, live_server: Any, redis: Redis, engine: AsyncEngine, lists: dict[str, int]
) -> None:
    # Over a socket nobody is left to read the answer, so the running app is called directly
    # (after its start-up) with a client that goes away after part of the body.
    app = create_app(settings)
    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    for content_type in (b"application/json", b"application/x-www-form-urlencoded"):
        parts: list[Message] = [
            {"type": "http.request", "body": b"email=maja", "more_body": True},
            {"type": "http.disconnect"},
        ]

        async def receive(parts: list[Message] = parts) -> Message:
            return parts.pop(0)

        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "POST",
            "scheme": "http",
            "path": "/subscribe",
            "raw_path": b"/subscribe",
            "root_path": "",
            "query_string": b"",
            "headers": [
                (b"host", b"subscriptions.test"),
                (b"content-type", content_type),
                (b"content-length", b"100"),
            ],
            "client": ("127.0.0.1", 50000),
            "server": ("127.0.0.1", 80),
            "state": {},
        }
        async with live_server(app):
            await app(scope, receive, send)  # type: ignore[arg-type]

        [start] = [message for message in sent if message["type"] == "http.response.start"]
        assert start["status"] == 400
        sent.clear()
    assert await all_subscribers(engine) == []
