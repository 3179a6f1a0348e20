"""schemathesis against the campaigns API's OpenAPI schema with a token of each role: no
request it generates, valid or not, may get a server error, and every answer the schema
describes must match it (the 400 body, the bodies of authorised reads and writes alike).

Valid requests name existing objects every other time, so the authorised paths are taken, not
only "not found". Runs on SQLite only: it tests HTTP behaviour, which does not depend on the
database, and one app serves every role to keep the suite's time in bounds.
"""

from __future__ import annotations

import asyncio

import pytest
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error, response_schema_conformance

from services.campaigns.admin import DEMO_SITE
from tests.campaigns.conftest import Api, new_campaign
from tests.support.schema_tests import SCHEMA_PATH, run_schema

CHECKS = (not_a_server_error, response_schema_conformance)
REVOKE = "DELETE /api/tokens/{token_id}"
# (role, modes, examples per operation and mode): the admin may take every path, so its run
# also sends invalid requests; the lower roles' runs prove their refusals and reads conform.
ROLES = (
    ("viewer", (GenerationMode.POSITIVE,), 2),
    ("editor", (GenerationMode.POSITIVE,), 3),
    ("admin", (GenerationMode.POSITIVE, GenerationMode.NEGATIVE), 6),
)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_no_generated_request_gets_a_server_error_or_a_nonconforming_answer(
    api: Api,
) -> None:
    base_url = str(api.client.base_url).rstrip("/")
    schema = (await api.get(SCHEMA_PATH)).json()
    campaign = await new_campaign(api)
    webhook = await api.post(
        "/api/webhooks",
        role="admin",
        json={"url": "https://hooks.example.org/in", "events": ["campaign.sent"]},
    )
    known = {
        "webhook_id": str(webhook.json()["id"]),
        "campaign_id": str(campaign["id"]),
        "slug": "kultur",
        "key": DEMO_SITE["key"],
        "user_id": "1",
        "token_id": "1",
    }

    runs = {}
    for role, modes, examples in ROLES:
        runs[role] = await asyncio.to_thread(
            run_schema,
            base_url,
            headers=api.headers(role),
            max_examples=examples,
            modes=modes,
            checks=CHECKS,
            hostile=role == "admin",
            known=known,
            # A generated id may be the admin's own token: revoking it would turn the rest of
            # the run into 401s. The lower roles' runs send this operation (and get 403); the
            # admin revokes the viewer's token below.
            skip=(lambda label: label == REVOKE) if role == "admin" else (lambda label: False),
        )

    revoked = await api.delete(f"/api/tokens/{known['token_id']}")
    assert revoked.status_code == 204, revoked.text
    assert (await api.get("/api/lists", role="viewer")).status_code == 401

    for role, run in runs.items():  # figures for docs/security-tests.md (shown with -s)
        print(
            f"\n{role}: {run.operations} operations, answers {dict(sorted(run.statuses.items()))}"
        )
    assert "/api/campaigns" in schema["paths"]
    # The bodies the handlers decode themselves are described, so valid ones are generated.
    assert "requestBody" in schema["paths"]["/api/campaigns/{campaign_id}"]["patch"]
    for role, run in runs.items():
        assert run.errors == [], f"{role}:\n" + "\n\n".join(run.errors)
    # Proof that requests went out and that each role got past the guard and "not found".
    viewer, editor, admin = runs["viewer"], runs["editor"], runs["admin"]
    assert viewer.statuses[200] >= 20 and viewer.statuses[403] >= 20, viewer.statuses
    assert editor.statuses[200] >= 20 and editor.statuses[403] >= 10, editor.statuses
    assert editor.statuses[201] + editor.statuses[202] >= 1, editor.statuses
    # (401s come from invalid requests that leave out or break the Authorization header.)
    assert admin.statuses[403] == 0, admin.statuses
    assert admin.statuses[200] + admin.statuses[201] >= 50, admin.statuses
    assert sum(admin.statuses.values()) >= 10 * admin.operations, admin.statuses
