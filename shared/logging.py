"""Structured logging: JSON lines when not on a terminal, readable lines when on one."""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Callable, Mapping
from typing import Any, Final

import msgspec
import structlog

from shared.settings import Settings

_SECRET_FIELDS = frozenset({"password", "secret", "token", "secret_keys", "authorization"})


# A signed link token (shared/tokens.py): payload, timestamp (a few bytes) and HMAC (27
# characters for SHA-1, more for longer digests), base64url, joined by dots.
# Links are capabilities (unsubscribe, preferences, export, staff passwords), so the paths that
# carry them are logged without them.
_LINK_TOKEN = re.compile(
    r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{5,8}\.[A-Za-z0-9_-]{27,86}"
    r"(?![A-Za-z0-9_-])"
)
REDACTED_LINK = "[token]"


def redact_tokens(text: str) -> str:
    """``text`` with every signed link token in it replaced by ``[token]``."""
    return _LINK_TOKEN.sub(REDACTED_LINK, text)


def _drop_secrets(
    _logger: object, _name: str, event_dict: structlog.typing.EventDict
) -> structlog.typing.EventDict:
    for key in _SECRET_FIELDS.intersection(event_dict):
        event_dict[key] = "**********"
    for key, value in event_dict.items():
        if isinstance(value, str):
            event_dict[key] = redact_tokens(value)
    return event_dict


class _AccessLogWithoutTokens(logging.Filter):
    """The HTTP server's access log (``"GET /unsubscribe/<token> HTTP/1.1" 200``), with the
    tokens in request paths replaced."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                redact_tokens(arg) if isinstance(arg, str) else arg for arg in record.args
            )
        elif isinstance(record.msg, str):
            record.msg = redact_tokens(record.msg)
        return True


_ACCESS_FILTER: Final = _AccessLogWithoutTokens()


def _json_line(event: Mapping[str, Any], default: Callable[[Any], Any] = repr, **_: Any) -> str:
    """One JSON line per event, as structlog's JSONRenderer asks its serializer for it. With
    msgspec: a web process writes a line or two per request, and json.dumps took ten times as
    long per line. Values JSON has no type for are written as ``default`` (repr) makes them;
    datetimes as ISO 8601."""
    return msgspec.json.encode(event, enc_hook=default).decode()


def configure_logging(settings: Settings) -> None:
    """Configure structlog and the stdlib root logger once per process."""
    as_json = settings.log_format == "json" or (
        settings.log_format == "auto" and not sys.stderr.isatty()
    )
    renderer: structlog.typing.Processor = (
        structlog.processors.JSONRenderer(serializer=_json_line)
        if as_json
        else structlog.dev.ConsoleRenderer()
    )
    shared_processors: list[structlog.typing.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _drop_secrets,
    ]
    structlog.configure(
        processors=[
            *shared_processors,
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelName(settings.log_level)
        ),
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(processor=renderer, foreign_pre_chain=shared_processors)
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.log_level)
    # uvicorn configures its access logger before it creates the app; the filter stays on it.
    access = logging.getLogger("uvicorn.access")
    if _ACCESS_FILTER not in access.filters:
        access.addFilter(_ACCESS_FILTER)
