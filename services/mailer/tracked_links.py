"""Which links of a campaign body are tracked, and the body with those links rewritten.

Done once per campaign and process, on the template's source: each literal ``href`` of an
``<a>`` or ``<area>`` tag in the template's text (http or https) becomes
``{{ tracked_links[i] }}``, and the mailer puts each recipient's short links in that list
(``recipient_links.Links.clicks``). The template's text is found with Jinja's own lexer, so a
URL inside an expression, a comment or a ``{% raw %}`` block is never touched. Links that
cannot be tracked stay as they are: a URL built by an expression (``href="{{ url }}"`` or one
with ``{{ … }}`` inside), a tag with an expression before its ``href``, links to our own public
host (unsubscribe, preferences, "view in the browser"), and anything but http(s).
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Mapping
from typing import Final
from urllib.parse import urlsplit

from jinja2 import TemplateSyntaxError

from shared.campaign_templates import HTML_ENV

# The context variable the rewritten template reads each recipient's short links from.
VARIABLE: Final = "tracked_links"
# A stored URL is what the public redirect answers with; longer ones are not worth tracking.
MAX_URL_LENGTH: Final = 2000

# An <a>/<area> tag up to its quoted href value, all inside one piece of template text.
_HREF: Final = re.compile(
    r"""(<(?:a|area)\b[^<>]*?\shref\s*=\s*)(["'])([^"'<>]*)\2""", re.IGNORECASE
)
_UNSAFE: Final = re.compile(r"[\x00-\x20\x7f]")


def trackable_url(raw: str, own_url: str) -> str | None:
    """The URL an href value (HTML-escaped as written) leads to, if it can be tracked."""
    url = html.unescape(raw).strip()
    if not url or len(url) > MAX_URL_LENGTH or _UNSAFE.search(url):
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme.lower() not in {"http", "https"} or not parts.hostname:
        return None
    if own_url and url.lower().startswith(own_url.rstrip("/").lower() + "/"):
        return None  # our own links: personal already, or a page of ours
    return url


def tracked_urls(source: str, own_url: str) -> list[str]:
    """The distinct trackable URLs of a body template, in order of first appearance."""
    found: dict[str, None] = {}

    def collect(url: str) -> str | None:
        found.setdefault(url)
        return None

    _rewrite(source, own_url, collect)
    return list(found)


def rewrite(source: str, own_url: str, index_of: Mapping[str, int]) -> str:
    """The body template with each tracked URL's href reading ``tracked_links[i]``, where
    ``i = index_of[url]``; URLs missing from ``index_of`` stay as they are."""
    if not index_of:
        return source

    def replace(url: str) -> str | None:
        index = index_of.get(url)
        return None if index is None else f"{{{{ {VARIABLE}[{index}] }}}}"

    return _rewrite(source, own_url, replace)


def _rewrite(source: str, own_url: str, replace: Callable[[str], str | None]) -> str:
    """Apply ``replace`` to the trackable hrefs in the template's text (its ``data`` tokens
    outside raw blocks); ``None`` keeps an href as written."""
    # Jinja writes every newline of the template's text as "\n" anyway; its lexer's pieces
    # only add up to the source when the source says so too.
    source = source.replace("\r\n", "\n").replace("\r", "\n")
    try:
        tokens = list(HTML_ENV.lex(source))
    except TemplateSyntaxError:
        return source  # compiling it fails with the reason; nothing to track
    if "".join(value for _line, _kind, value in tokens) != source:
        return source  # the pieces must be the source itself, or rewriting could change it

    def substitute(match: re.Match[str]) -> str:
        url = trackable_url(match.group(3), own_url)
        new = None if url is None else replace(url)
        if new is None:
            return match.group(0)
        quote = match.group(2)
        return f"{match.group(1)}{quote}{new}{quote}"

    pieces: list[str] = []
    raw = False
    for _line, kind, value in tokens:
        if kind in {"raw_begin", "raw_end"}:
            raw = kind == "raw_begin"
        pieces.append(_HREF.sub(substitute, value) if kind == "data" and not raw else value)
    return "".join(pieces)
