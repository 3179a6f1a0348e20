"""Web origins and addresses staff give for member sites, checked and written one canonical way.

The public side compares a browser's ``Origin`` header with a site's allowed origins as plain
strings, so each origin is stored exactly as a browser sends it: ``scheme://host[:port]`` in
lower case, the host in ASCII (punycode) and the scheme's default port left out.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Final
from urllib.parse import SplitResult, urlsplit

URL_MAX: Final = 2000
_DEFAULT_PORTS: Final = {"http": 80, "https": 443}
_LABEL: Final = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)")


def normalise_origin(text: str) -> str:
    """``text`` as a browser would send it in ``Origin``; raise ValueError saying why not."""
    value = text.strip()
    if not value:
        raise ValueError("must not be empty")
    if "*" in value:
        raise ValueError("wildcards are not allowed; list each origin")
    parts = _split(value)
    if parts.path not in ("", "/") or parts.query or parts.fragment or value[-1] in "?#":
        raise ValueError("must be an origin only (scheme://host[:port]), without a path")
    host = _host(parts)
    port = parts.port
    shown_port = f":{port}" if port is not None and port != _DEFAULT_PORTS[parts.scheme] else ""
    return f"{parts.scheme}://{host}{shown_port}"


def check_http_url(text: str) -> str:
    """An absolute http(s) URL, stripped; raise ValueError saying why it is not one."""
    value = text.strip()
    if len(value) > URL_MAX:
        raise ValueError(f"must be at most {URL_MAX} characters")
    parts = _split(value)
    _host(parts)
    return value


def normalise_origins(field: str, values: list[str]) -> tuple[list[str], dict[str, str]]:
    """Normalised, de-duplicated origins and the problems found, keyed ``field[i]``."""
    errors: dict[str, str] = {}
    origins: list[str] = []
    for index, value in enumerate(values):
        try:
            origin = normalise_origin(value)
        except ValueError as exc:
            errors[f"{field}[{index}]"] = str(exc)
            continue
        if origin not in origins:
            origins.append(origin)
    return origins, errors


def _split(value: str) -> SplitResult:
    if any(char.isspace() or not char.isprintable() for char in value):
        raise ValueError("must not contain spaces or control characters")
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError on a port that is not a number in range
    except ValueError:
        raise ValueError("is not a valid address") from None
    if parts.scheme not in _DEFAULT_PORTS or not value.lower().startswith(parts.scheme + "://"):
        raise ValueError("must start with https:// or http://")
    if "@" in parts.netloc:
        raise ValueError("must not contain a user name or password")
    return parts


def _host(parts: SplitResult) -> str:
    """The host of ``parts`` in ASCII lower case, IPv6 in brackets; ValueError if not a host."""
    host = parts.hostname or ""
    if not host:
        raise ValueError("must name a host")
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        pass
    else:
        return f"[{address.compressed}]" if address.version == 6 else address.compressed
    try:
        ascii_host = host.encode("idna").decode("ascii").lower()
    except UnicodeError:
        raise ValueError("does not have a valid host name") from None
    if len(ascii_host) > 253 or not all(_LABEL.fullmatch(p) for p in ascii_host.split(".")):
        raise ValueError("does not have a valid host name")
    return ascii_host
