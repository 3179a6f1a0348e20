"""One attempt of a webhook delivery over HTTP, never to an address inside our own network.

A registered URL may name any host, and a host's addresses can change after registration, so
the check is made at every attempt: the name is resolved here, every address must be public
(no loopback, private, link-local, multicast or reserved range), and the request goes to the
address that was checked (TLS still verifies the certificate for the name). Redirects are
not followed, so a receiver cannot send us on to an internal address either. Plain http:// is
allowed only to 127.0.0.1 and only when the setting for local receivers is on.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass
from typing import Final
from urllib.parse import SplitResult, urlsplit

import httpx

from services.campaigns.errors import N_
from services.campaigns.outbound_tls import verifying_context

MAX_URL: Final = 2000
# Only the start of an answer is kept for the log.
MAX_ERROR: Final = 300


class UnsafeTarget(Exception):
    """The URL's host resolves to an address webhooks must not reach; ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one attempt got: the status code if an answer came, else what went wrong."""

    code: int | None
    error: str | None

    @property
    def ok(self) -> bool:
        """A 2xx answer: delivered."""
        return self.code is not None and 200 <= self.code < 300


def url_problem(url: str, allow_loopback_http: bool) -> str | None:
    """Why ``url`` cannot be registered, or None; addresses are checked at each attempt."""
    if len(url) > MAX_URL or any(ord(ch) < 33 for ch in url):
        return N_("must be a URL of at most 2000 characters without spaces")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError:
        return N_("is not a valid URL")
    loopback_http = parts.scheme == "http" and allow_loopback_http
    problems = (
        (parts.username is not None or parts.password is not None, N_("must not carry a password")),
        (not parts.hostname, N_("must name a host")),
        (bool(parts.fragment), N_("must not have a #fragment")),
        (parts.scheme != "https" and not loopback_http, N_("must start with https://")),
        (loopback_http and parts.hostname != "127.0.0.1", N_("http:// is only for 127.0.0.1")),
    )
    return next((problem for broken, problem in problems if broken), None)


def _allowed(address: str, allow_loopback: bool) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if allow_loopback and ip.is_loopback:
        return True
    return ip.is_global and not ip.is_multicast


async def resolve_public(host: str, port: int, allow_loopback: bool) -> str:
    """One address of ``host`` after checking that every address it has may be called."""
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(
            host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
        )
    except (socket.gaierror, UnicodeError) as exc:
        raise UnsafeTarget(f"the host name does not resolve ({exc})") from None
    addresses = [str(info[4][0]) for info in infos]
    if not addresses:
        raise UnsafeTarget("the host name has no address")
    refused = [address for address in addresses if not _allowed(address, allow_loopback)]
    if refused:
        raise UnsafeTarget(f"the host resolves to a non-public address ({refused[0]})")
    return addresses[0]


def _pinned_url(parts: SplitResult, address: str) -> str:
    literal = f"[{address}]" if ":" in address else address
    port = f":{parts.port}" if parts.port else ""
    query = f"?{parts.query}" if parts.query else ""
    return f"{parts.scheme}://{literal}{port}{parts.path or '/'}{query}"


async def post(
    client: httpx.AsyncClient,
    url: str,
    headers: dict[str, str],
    body: bytes,
    *,
    allow_loopback_http: bool,
) -> Outcome:
    """POST ``body`` to ``url`` through its checked address; never raises for the network."""
    problem = url_problem(url, allow_loopback_http)
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        if problem is not None:
            raise UnsafeTarget(f"the URL {problem}")
        address = await resolve_public(host, port, allow_loopback=parts.scheme == "http")
    except UnsafeTarget as exc:
        return Outcome(None, exc.reason)
    host_header = parts.netloc.rsplit("@", 1)[-1]
    try:
        async with client.stream(
            "POST",
            _pinned_url(parts, address),
            content=body,
            headers={**headers, "host": host_header},
            extensions={"sni_hostname": host} if parts.scheme == "https" else {},
        ) as response:
            code = response.status_code
            start = b"" if 200 <= code < 300 else await _start_of(response)
    except httpx.TimeoutException:
        return Outcome(None, "no answer within the time limit")
    except (httpx.HTTPError, httpx.InvalidURL, ValueError, OSError) as exc:
        # Whatever the URL or the network does, it is this attempt's failure, kept in the log.
        return Outcome(None, (f"{type(exc).__name__}: {exc}")[:MAX_ERROR])
    if 300 <= code < 400:
        return Outcome(code, "redirects are not followed")
    return Outcome(code, start.decode("utf-8", "replace")[:MAX_ERROR] or None)


async def _start_of(response: httpx.Response) -> bytes:
    """The first bytes of an answer's body; a receiver's huge error page is not read whole."""
    start = b""
    async for chunk in response.aiter_bytes():
        start += chunk
        if len(start) >= MAX_ERROR:
            break
    return start


def new_client(timeout: float) -> httpx.AsyncClient:
    """The client attempts share: no redirects, no proxies from the environment."""
    return httpx.AsyncClient(
        verify=verifying_context(trust_env=False),
        timeout=httpx.Timeout(timeout),
        follow_redirects=False,
        trust_env=False,
        limits=httpx.Limits(max_connections=20, max_keepalive_connections=0),
    )
