"""schemathesis against the campaigns API's OpenAPI schema, with an admin token: no request it
generates, valid or not, may get a server error.

Runs on SQLite only: it tests HTTP behaviour (bad input answered with 4xx), which does not
depend on the database, and keeps the suite's time in bounds.
"""

from __future__ import annotations

import asyncio

import pytest

from tests.campaigns.conftest import Api
from tests.support.schema_tests import SCHEMA_PATH, run_schema


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_no_generated_request_gets_a_server_error(api: Api) -> None:
    base_url = str(api.client.base_url).rstrip("/")
    schema = (await api.get(SCHEMA_PATH)).json()

    run = await asyncio.to_thread(
        run_schema, base_url, headers=api.headers("admin"), max_examples=25
    )

    assert "/api/campaigns" in schema["paths"]
    assert run.errors == [], "\n\n".join(run.errors)
    # Proof that requests went out, most of them answered (any status below 500).
    assert sum(run.statuses.values()) >= 10 * run.operations, run.statuses
