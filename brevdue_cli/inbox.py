"""The catcher's web inbox: caught messages as accessible pages (no JavaScript) and as JSON."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import msgspec
from jinja2 import Environment, FileSystemLoader, select_autoescape
from litestar import Litestar, MediaType, Response, delete, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.response import Redirect
from litestar.status_codes import HTTP_204_NO_CONTENT, HTTP_303_SEE_OTHER

from brevdue_cli.catcher import CaughtMessage, Inbox

TEMPLATES = Path(__file__).parent / "templates"

# The inbox shows mail written by anyone; its own pages run no script and load nothing foreign.
PAGE_CSP = "default-src 'none'; style-src 'unsafe-inline'; frame-src 'self'; form-action 'self'"
# A caught HTML part is untrusted: sandboxed (no script, opaque origin) even when opened directly.
PART_CSP = "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src http: https: data:"


class MessageSummary(msgspec.Struct):
    """One caught message in the list."""

    id: int
    received_at: datetime
    envelope_from: str
    envelope_to: list[str]
    from_: str = msgspec.field(name="from")
    to: str = ""
    subject: str = ""
    date: str = ""
    size: int = 0


class MessageDetail(MessageSummary):
    """One caught message with its headers and bodies."""

    headers: list[tuple[str, str]] = []
    text: str | None = None
    html: str | None = None


def summary(message: CaughtMessage) -> MessageSummary:
    """The list view of a message."""
    return MessageSummary(
        id=message.id,
        received_at=message.received_at,
        envelope_from=message.mail_from,
        envelope_to=message.rcpt_tos,
        from_=message.header("From"),
        to=message.header("To"),
        subject=message.header("Subject"),
        date=message.header("Date"),
        size=len(message.data),
    )


def detail(message: CaughtMessage) -> MessageDetail:
    """The full view of a message."""
    return MessageDetail(
        **msgspec.structs.asdict(summary(message)),
        headers=message.headers(),
        text=message.body("plain"),
        html=message.body("html"),
    )


def create_inbox_app(inbox: Inbox) -> Litestar:
    """The inbox web app over ``inbox``."""
    templates = Environment(
        loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(default=True)
    )

    def page(name: str, **context: object) -> Response[str]:
        html = templates.get_template(name).render(**context)
        return Response(
            html, media_type=MediaType.HTML, headers={"Content-Security-Policy": PAGE_CSP}
        )

    def find(message_id: int) -> CaughtMessage:
        message = inbox.get(message_id)
        if message is None:
            raise NotFoundException(f"no message {message_id}")
        return message

    @get("/", sync_to_thread=False)
    def index() -> Response[str]:
        """The list of caught messages, newest first."""
        return page("inbox/index.html", messages=inbox.newest_first(), limit=inbox.limit)

    @get("/messages/{message_id:int}", sync_to_thread=False)
    def message_page(message_id: FromPath[int]) -> Response[str]:
        """One message: headers, text part, sandboxed HTML part."""
        message = find(message_id)
        return page(
            "inbox/message.html",
            m=message,
            text=message.body("plain"),
            has_html=message.body("html") is not None,
        )

    @get("/messages/{message_id:int}/html", sync_to_thread=False)
    def html_part(message_id: FromPath[int]) -> Response[str]:
        """The HTML part alone, under a sandboxing Content-Security-Policy."""
        html = find(message_id).body("html") or ""
        return Response(
            html, media_type=MediaType.HTML, headers={"Content-Security-Policy": PART_CSP}
        )

    @get("/messages/{message_id:int}/download", sync_to_thread=False)
    def download(message_id: FromPath[int]) -> Response[bytes]:
        """The message exactly as received, as an .eml file."""
        message = find(message_id)
        disposition = f'attachment; filename="message-{message.id}.eml"'
        return Response(
            message.data, media_type="message/rfc822", headers={"Content-Disposition": disposition}
        )

    @post("/clear", sync_to_thread=False)
    def clear() -> Redirect:
        """Forget every caught message, then show the empty inbox."""
        inbox.clear()
        return Redirect("/", status_code=HTTP_303_SEE_OTHER)

    @get("/api/messages", sync_to_thread=False)
    def list_messages() -> list[MessageSummary]:
        """Caught messages as JSON, newest first."""
        return [summary(m) for m in inbox.newest_first()]

    @get("/api/messages/{message_id:int}", sync_to_thread=False)
    def get_message(message_id: FromPath[int]) -> MessageDetail:
        """One caught message as JSON, with headers and bodies."""
        return detail(find(message_id))

    @delete("/api/messages", status_code=HTTP_204_NO_CONTENT, sync_to_thread=False)
    def delete_messages() -> None:
        """Forget every caught message."""
        inbox.clear()

    return Litestar(
        route_handlers=[
            index,
            message_page,
            html_part,
            download,
            clear,
            list_messages,
            get_message,
            delete_messages,
        ],
        openapi_config=None,
    )
