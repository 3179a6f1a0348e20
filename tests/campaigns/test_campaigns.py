"""Creating, validating, reading, changing and previewing campaigns over HTTP."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from services.campaigns.drafts import TEMPLATE_MAX
from shared.schema import campaign_runs, campaigns
from shared.template_limits import TIME_LIMIT
from tests.campaigns.conftest import CAMPAIGN, Api, new_campaign


async def test_create_campaign(api: Api) -> None:
    body = await new_campaign(api, lists=["kultur", "idraet", "kultur"], from_address=None)
    assert body["status"] == "draft"
    assert body["lists"] == ["idraet", "kultur"]
    assert body["subject"] == CAMPAIGN["subject"]
    assert body["body_text"] == CAMPAIGN["body_text"]
    assert body["counts"] == {"recipients": 0, "sent": 0, "failed": 0, "queued": 0}
    assert body["send_requested_at"] is None
    fetched = await api.get(f"/api/campaigns/{body['id']}")
    assert fetched.status_code == 200
    assert fetched.json() == body


async def test_from_address_is_kept(api: Api) -> None:
    body = await new_campaign(api, from_address="Kulturhuset <nyt@kultur.test>")
    assert body["from_address"] == "Kulturhuset <nyt@kultur.test>"


INVALID: list[tuple[str, dict[str, Any], str, str]] = [
    ("syntax error", {"body": "<p>\n{% if %}</p>"}, "body", "line 2"),
    ("unclosed block", {"body": "<p>{% for x in y %}</p>"}, "body", "line 1"),
    ("undefined variable", {"body": "<p>Hej</p>\n{{ nobody }}"}, "body", "line 2: 'nobody'"),
    ("undefined attribute", {"body": "{{ subscriber.age }}"}, "body", "age"),
    ("sandbox", {"body": "<p>\n\n{{ ''.__class__ }}</p>"}, "body", "line 3: not allowed"),
    (
        "sandbox escape",
        {"body": "{{ ''.__class__.__mro__[1].__subclasses__() }}"},
        "body",
        "not allowed",
    ),
    ("text sandbox", {"body_text": "{{ cycler.__init__.__globals__ }}"}, "body_text", "not"),
    ("text undefined", {"body_text": "a\nb\n{{ x }}"}, "body_text", "line 3"),
    ("subject undefined", {"subject": "Hej {{ who }}"}, "subject", "'who' is undefined"),
    ("subject syntax", {"subject": "Hej {{ "}, "subject", "line 1"),
    ("subject CR/LF", {"subject": "Hej\r\nBcc: x@example.org"}, "subject", "one line"),
    ("subject LF", {"subject": "Hej\nthere"}, "subject", "one line"),
    ("subject empty", {"subject": "  "}, "subject", "empty"),
    ("subject oversized", {"subject": "x" * 999}, "subject", "at most 998"),
    ("body oversized", {"body": "x" * (TEMPLATE_MAX + 1)}, "body", "at most"),
    ("body empty", {"body": ""}, "body", "empty"),
    ("unknown list", {"lists": ["kultur", "nope"]}, "lists", "unknown list: nope"),
    ("no lists", {"lists": []}, "lists", "at least one"),
    ("bad slug", {"lists": ["Kultur!"]}, "lists", "not a list slug"),
    ("lists wrong type", {"lists": "kultur"}, "lists", "Expected `array`"),
    ("subject wrong type", {"subject": 5}, "subject", "Expected `str`"),
    ("bad from", {"from_address": "not an address"}, "from_address", "not a valid address"),
    ("from CR/LF", {"from_address": "a@b.dk\r\nBcc: c@d.dk"}, "from_address", "one address"),
    ("unknown field", {"status": "sent"}, "status", "not a known field"),
    (
        "recursive macro",
        {"body": "{% macro f(n) %}{% if n > 0 %}{{ f(n + 1) }}{% endif %}{% endmacro %}{{ f(1) }}"},
        "body",
        "nested deeper",
    ),
    (
        "recursive loop",
        {"body": "{% for x in [[1]] recursive %}{{ loop([x]) }}{% endfor %}"},
        "body",
        "nested deeper",
    ),
    ("huge power", {"body": "{{ (9 ** (9 ** 8)) > 0 }}"}, "body", "power too large"),
    ("huge string", {"body": "{{ 'a' * 10**9 }}"}, "body", "repetition"),
    ("text huge string", {"body_text": "{{ 'a' * 10**9 }}"}, "body_text", "repetition"),
    ("subject NUL", {"subject": "Hej\x00 med dig"}, "subject", "control characters"),
    ("subject tab", {"subject": "Hej\tmed dig"}, "subject", "control characters"),
    ("subject renders NUL", {"subject": "Hej {{ '\\x00' }}"}, "subject", "render to one line"),
    ("body NUL", {"body": "<p>Hej\x00</p>"}, "body", "control characters"),
    (
        "from non-ASCII local part",
        {"from_address": "ø@example.org"},
        "from_address",
        "Internationalized",
    ),
    ("from NUL", {"from_address": "nyt\x00@example.org"}, "from_address", "one address"),
]


async def test_invalid_campaign_is_422_naming_field(api: Api) -> None:
    # Every case against one app and database: each is refused and stores nothing, and setting
    # up an app and a database per case cost many times what the case does. Every case is
    # sent; the failures are reported together, by name.
    wrong = []
    for name, changes, field, reason in INVALID:
        response = await api.post("/api/campaigns", json={**CAMPAIGN, **changes})
        errors = response.json().get("errors", {}) if response.status_code == 422 else {}
        if reason not in errors.get(field, ""):
            wrong.append(f"{name}: {response.status_code} {response.text[:500]}")
    assert wrong == [], "\n".join(wrong)
    listed = await api.get("/api/campaigns")
    assert listed.json()["total"] == 0


async def test_missing_field_and_bad_json(api: Api) -> None:
    response = await api.post("/api/campaigns", json={"subject": "Hej"})
    assert response.status_code == 422
    assert response.json()["errors"] == {"body": "is required"}
    response = await api.post("/api/campaigns", content=b"\xff\xfe not json")
    assert response.status_code == 400
    response = await api.post("/api/campaigns", content=b"")
    assert response.status_code == 400


async def test_request_over_size_limit_is_413(api: Api) -> None:
    response = await api.post("/api/campaigns", json={**CAMPAIGN, "body": "x" * 3_000_000})
    assert response.status_code == 413
    assert response.json()["error"]


@pytest.mark.parametrize(
    "path", ["/api/campaigns/999", "/api/campaigns/0", "/api/campaigns/99999999999999999999999"]
)
async def test_unknown_campaign_is_404(api: Api, path: str) -> None:
    for response in (
        await api.get(path),
        await api.patch(path, json={"subject": "x"}),
        await api.post(path + "/send"),
        await api.post(path + "/preview"),
    ):
        assert response.status_code == 404, response.text
        assert "not found" in response.json()["error"]


@pytest.mark.parametrize("path", ["/api/campaigns/abc", "/api/campaigns/1.5", "/api/campaigns/-1"])
async def test_non_integer_id_is_4xx(api: Api, path: str) -> None:
    response = await api.get(path)
    assert response.status_code in (400, 404)
    assert response.headers["content-type"].startswith("application/json")


async def test_list_campaigns_newest_first_and_paginated(api: Api) -> None:
    ids = [(await new_campaign(api, subject=f"Nummer {n}"))["id"] for n in range(3)]
    first = (await api.get("/api/campaigns", params={"per_page": 2})).json()
    assert first["total"] == 3 and first["page"] == 1 and first["per_page"] == 2
    assert [item["id"] for item in first["items"]] == [ids[2], ids[1]]
    assert first["items"][0]["lists"] == ["kultur"]
    second = (await api.get("/api/campaigns", params={"per_page": 2, "page": 2})).json()
    assert [item["id"] for item in second["items"]] == [ids[0]]


@pytest.mark.parametrize("params", [{"page": 0}, {"per_page": 1000}, {"page": "x"}])
async def test_bad_pagination_is_400(api: Api, params: dict[str, Any]) -> None:
    response = await api.get("/api/campaigns", params=params)
    assert response.status_code == 400
    assert set(response.json()["errors"]) <= {"page", "per_page"}


async def test_patch_draft(api: Api) -> None:
    created = await new_campaign(api)
    response = await api.patch(
        f"/api/campaigns/{created['id']}",
        json={"subject": "Ny titel", "lists": ["boern-unge"], "body_text": None},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["subject"] == "Ny titel"
    assert body["lists"] == ["boern-unge"]
    assert body["body_text"] is None
    assert body["body"] == created["body"]


async def test_patch_is_validated(api: Api) -> None:
    created = await new_campaign(api)
    response = await api.patch(f"/api/campaigns/{created['id']}", json={"body": "{{ x }}"})
    assert response.status_code == 422
    assert "body" in response.json()["errors"]
    unchanged = (await api.get(f"/api/campaigns/{created['id']}")).json()
    assert unchanged["body"] == created["body"]


async def test_patch_after_send_is_409(api: Api) -> None:
    created = await new_campaign(api)
    assert (await api.post(f"/api/campaigns/{created['id']}/send")).status_code == 202
    response = await api.patch(f"/api/campaigns/{created['id']}", json={"subject": "Sent!"})
    assert response.status_code == 409
    assert response.json()["errors"] == {"status": "sending"}


async def test_preview(api: Api) -> None:
    created = await new_campaign(
        api,
        subject="{{ campaign.subject }}",
        body="<p>{{ subscriber.name }} ({{ subscriber.language }})</p>",
        body_text=None,
    )
    url = f"/api/campaigns/{created['id']}/preview"
    default = await api.post(url, role="viewer")
    assert default.status_code == 200, default.text
    body = default.json()
    assert body["subject"] == "{{ campaign.subject }}"
    # As the mailer sends it: the footer in the reader's language, the text part derived.
    assert body["html"].startswith("<p>Maja (da)</p><hr>")
    assert "Afmeld" in body["html"]
    assert body["text"].startswith("Maja (da)\n\n-- \nDu får denne mail")
    assert body["language"] == "da"
    assert body["subscriber_id"] is None
    assert body["to"] == "Maja <maja@example.org>"
    assert body["lists"] == ["Kultur"]
    swedish = await api.post(url, role="viewer", json={"language": "sv", "name": "<Åsa>"})
    assert swedish.json()["html"].startswith("<p>&lt;Åsa&gt; (sv)</p><hr>")
    assert "Avsluta" in swedish.json()["html"]
    bad = await api.post(url, role="viewer", json={"language": "de"})
    assert bad.status_code == 422
    assert "language" in bad.json()["errors"]


# Runs into the sandbox's time limit rather than any size limit.
COSTLY = (
    "{% macro f(n) %}{% if n > 0 %}{{ f(n - 1) }}{{ f(n - 1) }}{% endif %}{% endmacro %}{{ f(30) }}"
)


async def _longest_stall(work: Any) -> tuple[Any, float]:
    """Await ``work`` while measuring the longest time the event loop did not run a tick."""
    longest = 0.0
    done = False

    async def ticker() -> None:
        nonlocal longest
        last = time.monotonic()
        while not done:
            await asyncio.sleep(0.005)
            now = time.monotonic()
            longest = max(longest, now - last)
            last = now

    ticking = asyncio.create_task(ticker())
    try:
        result = await work
    finally:
        done = True
        await ticking
    return result, longest


@pytest.mark.timing
async def test_costly_template_is_refused_without_stalling_the_api(api: Api) -> None:
    await new_campaign(api)  # the render workers are up
    hostile = {**CAMPAIGN, "subject": "x" + COSTLY, "body": COSTLY, "body_text": COSTLY}
    response, stall = await _longest_stall(api.post("/api/campaigns", json=hostile))
    assert response.status_code == 422, response.text
    errors = response.json()["errors"]
    assert "exceeds a limit" in errors["body"], errors
    assert "exceeds a limit" in errors["body_text"], errors
    assert "exceeds a limit" in errors["subject"], errors
    # Rendered in this process, the three templates would hold the loop for 3 x TIME_LIMIT.
    assert stall < TIME_LIMIT * 1.5, stall
    assert (await api.client.get("/health/live")).status_code == 200


@pytest.mark.timing
async def test_viewer_preview_of_a_costly_campaign_is_422_without_stalling(
    api: Api, db: AsyncEngine
) -> None:
    created = await new_campaign(api)
    async with db.begin() as conn:  # stored before templates had limits
        await conn.execute(
            sa.update(campaigns).where(campaigns.c.id == created["id"]).values(body=COSTLY)
        )
    url = f"/api/campaigns/{created['id']}/preview"
    response, stall = await _longest_stall(api.post(url, role="viewer"))
    assert response.status_code == 422, response.text
    assert "exceeds a limit" in response.json()["errors"]["body"]
    # In this process the body alone would hold the loop for about TIME_LIMIT.
    assert stall < TIME_LIMIT / 2, stall


@pytest.mark.parametrize("path", ["/api/campaigns", "/api/campaigns/1", "/api/lists"])
async def test_options_is_4xx_or_204_never_500(api: Api, path: str) -> None:
    anonymous = await api.client.options(path)
    assert anonymous.status_code == 401, anonymous.text
    assert "AuthMiddleware" not in anonymous.text
    allowed = await api.client.options(path, headers=api.headers("viewer"))
    assert allowed.status_code == 204, allowed.text
    assert "OPTIONS" in allowed.headers["allow"]


async def test_a_campaign_the_mailer_could_not_start_is_failed_with_its_reason(
    api: Api, db: AsyncEngine
) -> None:
    created = await new_campaign(api)
    assert (await api.post(f"/api/campaigns/{created['id']}/send")).status_code == 202
    reason = "the From address 'ø@example.org' cannot be sent"
    async with db.begin() as conn:  # as the mailer's start job records it
        await conn.execute(
            sa.insert(campaign_runs).values(
                campaign_id=created["id"],
                state="failed",
                recipients=0,
                started_at=sa.func.now(),
                finished_at=sa.func.now(),
                failure=reason,
            )
        )
    body = (await api.get(f"/api/campaigns/{created['id']}")).json()
    assert (body["status"], body["failure"]) == ("failed", reason)
    listed = (await api.get("/api/campaigns")).json()["items"][0]
    assert listed["status"] == "failed"
    paused = await api.post(f"/api/campaigns/{created['id']}/pause")
    assert paused.status_code == 409, paused.text
