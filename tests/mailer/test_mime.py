"""Message bytes: one-line headers, encodings, injection refused; checked with the stdlib parser."""

from __future__ import annotations

import email
import email.policy
from email.message import EmailMessage

import pytest

from services.mailer import mime
from services.mailer.campaign_cache import compile_campaign
from services.mailer.campaign_render import render_message
from services.mailer.campaign_types import CampaignSource, Recipient
from services.mailer.errors import HeaderInjectionError, UnsupportedAddressError
from services.mailer.recipient_links import Links
from shared.settings import Secret
from shared.tokens import TokenSigner

SIGNER = TokenSigner((Secret("x" * 32),))
LINKS = Links("https://subscriptions.kulturmetropol.example/with/a/rather/long/path", SIGNER)


def _parse(data: bytes) -> EmailMessage:
    message = email.message_from_bytes(data, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def _campaign(**changes: object) -> bytes:
    source = CampaignSource(
        id=42,
        subject="Sommer på Øresund – " + "lang emnelinje æøå " * 8 + "{{ subscriber.name }}",
        body="<p>Hej {{ subscriber.name }}</p><p>" + "x" * 300 + "</p>",
        body_text=None,
        from_address=None,
        list_slugs=("kultur",),
        updated_at=None,
    )
    recipient = Recipient(
        1,
        7,
        "k" * 32,
        "maja@example.dk",
        "Maja\r\nBcc: evil@example.org",
        "da",
        mime.campaign_message_id(42, 7, "kultur.test"),
    )
    compiled = compile_campaign(source, "KulturMetropolØresund <nyhedsbrev@kultur.test>")
    return render_message(compiled, recipient, LINKS)


def test_campaign_message_headers_stay_on_one_line() -> None:
    data = _campaign()
    head, _, _ = data.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    assert all(not line.startswith((b" ", b"\t")) for line in lines)
    assert all(len(line) <= 998 for line in data.split(b"\r\n"))
    [unsubscribe] = [line for line in lines if line.startswith(b"List-Unsubscribe:")]
    assert unsubscribe.startswith(b"List-Unsubscribe: <https://subscriptions.kulturmetropol")
    assert len(unsubscribe) > 78 and b"=?" not in unsubscribe
    message = _parse(data)
    assert message["Subject"].endswith("lang emnelinje æøå Maja Bcc: evil@example.org")
    assert message["Bcc"] is None  # the line break in the name did not open a new header
    assert message["To"].addresses[0].addr_spec == "maja@example.dk"
    assert message["List-Id"] == "<kultur.lists.kultur.test>"
    assert b"base64" not in data.lower().replace(b"=?utf-8?b?", b"")
    text = message.get_body(("plain",))
    assert text is not None and "x" * 300 in text.get_content()


def test_header_injection_is_refused() -> None:
    with pytest.raises(HeaderInjectionError):
        mime.build_message(
            from_header="a@b.c",
            to_header="d@e.f",
            subject="s",
            message_id="<1@b.c>",
            text="t",
            html=None,
            extra_headers=[("X-Evil", "a\r\nBcc: x@y.z")],
        )
    with pytest.raises(HeaderInjectionError):
        mime.build_message(
            from_header="a@b.c",
            to_header="d@e.f",
            subject="s",
            message_id="<1@b.c>",
            text="t",
            html=None,
            extra_headers=[("Bad Name", "v")],
        )


def test_addresses() -> None:
    assert mime.ascii_address("anne@øresund.dk") == "anne@xn--resund-9xa.dk"
    with pytest.raises(UnsupportedAddressError):
        mime.ascii_address("åse@example.dk")
    with pytest.raises(UnsupportedAddressError):
        mime.ascii_address("a@b.c>\r\nRCPT TO:<x@y.z")
    assert mime.format_mailbox("Åse Sørensen", "ase@example.dk").endswith("<ase@example.dk>")


def test_encoded_words_are_short_and_round_trip() -> None:
    subject = "Ærlige ord om øl og ål på Øresund " * 6
    encoded = mime.encode_words(subject)
    assert all(len(word) <= 75 for word in encoded.split(" "))
    assert mime.encode_words("plain ascii") == "plain ascii"
    data = mime.build_message(
        from_header="a@b.c",
        to_header="d@e.f",
        subject=subject,
        message_id="<1@b.c>",
        text="t",
        html=None,
    )
    assert _parse(data)["Subject"] == " ".join(subject.split())


def test_quoted_printable_body_handles_dots_and_long_lines() -> None:
    body = ".\n" + "ø" * 200 + "\nend "
    data = mime.build_message(
        from_header="a@b.c",
        to_header="d@e.f",
        subject="s",
        message_id="<1@b.c>",
        text=body,
        html=None,
    )
    assert all(len(line) <= 78 for line in data.split(b"\r\n\r\n", 1)[1].split(b"\r\n"))
    part = _parse(data)
    assert part.get_content().replace("\r\n", "\n") == body + "\n"
