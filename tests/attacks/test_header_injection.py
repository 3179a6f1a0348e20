"""Header injection: line breaks in every value that reaches a mail header (a resident's name
and address, a campaign's subject and From address, a list's names and welcome subject, a
member site's name, test-send addresses) never add a header or a recipient. Each is refused
with a 4xx naming the field, or reaches the mail on one line.

Runs the whole path once (sign-up, confirmation, welcome, campaign) over real HTTP, Redis and
SMTP; on SQLite only, since what is attacked is message building, not the database.
"""

from __future__ import annotations

import re

import pytest
from redis.asyncio import Redis

from shared.settings import Settings
from tests.attacks.flow import links, services
from tests.support.smtp import RecordingSMTPServer

SPY = "spy@attacker.test"
INJECTIONS = (
    f"\r\nBcc: {SPY}\r\nX-Injected: yes",
    f"\nBcc: {SPY}",
    "\rX-Injected: yes\r\n\r\n<p>body</p>",
    f"\u2028Bcc: {SPY}\u0085X-Injected: yes",  # Unicode line and paragraph separators
    "\0X-Injected: yes",
)
RESIDENT = "maja@example.dk"


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_line_breaks_in_header_fields_never_add_headers_or_recipients(
    settings: Settings, smtp_server: RecordingSMTPServer, redis: Redis
) -> None:
    answers: dict[str, set[int]] = {}

    def answered(field: str, status: int) -> None:
        assert status < 500, (field, status)
        answers.setdefault(field, set()).add(status)

    async with services(settings) as app:
        inject = INJECTIONS[0]
        # Staff-written values that reach headers.
        for n, value in enumerate(INJECTIONS):
            response = await app.staff_post(
                "/api/sites",
                json={"key": f"site-{n}", "name": f"Kulturhuset{value}", "country": "DK"},
            )
            answered("site name", response.status_code)
            response = await app.staff_post(
                "/api/campaigns",
                json={
                    "subject": "Nyt",
                    "body": "<p>Hej</p>",
                    "lists": ["kultur"],
                    "from_address": f"Kultur <nyt@kultur.test>{value}",
                },
            )
            answered("campaign from_address", response.status_code)
            assert response.status_code == 422, response.text
        response = await app.staff_patch(
            "/api/lists/kultur",
            json={
                "names": {"da": f"Kultur{inject}"},
                "welcome": {
                    "da": {"subject": f"Velkommen {{{{ subscriber.name }}}}{inject}", "body": "Hej"}
                },
            },
        )
        answered("list names and welcome subject", response.status_code)
        assert response.status_code == 422, response.text
        assert {"names.da", "welcome.da.subject"} <= set(response.json()["errors"])
        # The resident's name reaches the welcome subject through the template instead.
        welcome = {"subject": "Velkommen {{ subscriber.name }}", "body": "Hej"}
        response = await app.staff_patch("/api/lists/kultur", json={"welcome": {"da": welcome}})
        assert response.status_code == 200, response.text
        response = await app.staff_post(
            "/api/campaigns",
            json={
                "subject": f"Nyt til {{{{ subscriber.name }}}}{inject}",
                "body": "<p>Hej {{ subscriber.name }}</p>",
                "lists": ["kultur"],
            },
        )
        answered("campaign subject", response.status_code)
        if response.status_code != 201:  # refused: the resident's name still goes in it
            response = await app.staff_post(
                "/api/campaigns",
                json={
                    "subject": "Nyt til {{ subscriber.name }}",
                    "body": "<p>Hej</p>",
                    "lists": ["kultur"],
                },
            )
        campaign_id = response.json()["id"]
        response = await app.staff_post(
            f"/api/campaigns/{campaign_id}/test", json={"to": [f"{RESIDENT}{inject}"]}
        )
        answered("test send address", response.status_code)
        assert response.status_code == 422, response.text

        # A resident's address with a line break is refused; a name with one is kept as text.
        for value in INJECTIONS:
            response = await app.http.post(
                f"{app.subscriptions}/subscribe",
                json={"email": f"{RESIDENT}{value}", "lists": ["kultur"], "consent": True},
            )
            answered("resident email", response.status_code)
            assert response.status_code == 422, response.text
        accepted = []
        for value in INJECTIONS:
            form = {"email": RESIDENT, "name": f"Maja{value}", "language": "da"}
            response = await app.http.post(
                f"{app.subscriptions}/subscribe",
                data={**form, "lists": ["kultur"], "consent": "on"},
            )
            answered("resident name", response.status_code)
            assert response.status_code in (303, 422), response.text
            if response.status_code == 303:
                accepted.append(value)
            else:
                assert "Navnet indeholder tegn" in response.text  # names the field
        if not accepted:
            response = await app.http.post(
                f"{app.subscriptions}/subscribe",
                data={**form, "name": "Maja", "lists": ["kultur"], "consent": "on"},
            )
            assert response.status_code == 303, response.text

        await app.drain_mailer()
        confirm_url = links(smtp_server.to(RESIDENT)[-1].parsed(), "confirm")[0]
        assert (await app.http.post(confirm_url)).status_code == 200
        response = await app.staff_post(f"/api/campaigns/{campaign_id}/send")
        assert response.status_code == 202, response.text
        await app.drain_mailer()

    # Confirmation, welcome and campaign mail went out, to the resident alone, and no header
    # line of any of them came from a value above.
    messages = smtp_server.messages
    subjects = [str(message.parsed()["Subject"]) for message in messages]
    assert len(messages) == 2 + max(1, len(accepted)), subjects
    assert any(s.startswith("Velkommen Maja") for s in subjects), subjects
    assert any(s.startswith("Nyt til Maja") for s in subjects), subjects
    for message in messages:
        assert message.rcpt_tos == [RESIDENT]
        head = message.data.split(b"\r\n\r\n", 1)[0].decode("ascii")
        assert SPY not in head and "X-Injected" not in head, head
        assert not re.search(r"^(Bcc|X-Injected):", head, re.MULTILINE | re.IGNORECASE), head
        parsed = message.parsed()
        assert parsed["Bcc"] is None and parsed["X-Injected"] is None
        for name, value in parsed.items():
            assert "\n" not in str(value) and "\r" not in str(value), (name, value)
    assert set(answers) == {
        "site name",
        "campaign from_address",
        "list names and welcome subject",
        "campaign subject",
        "test send address",
        "resident email",
        "resident name",
    }
