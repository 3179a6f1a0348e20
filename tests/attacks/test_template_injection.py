"""Server-side template injection: every template a staff member can write through the API
(campaign subject, body and text; a list's welcome subject and body) is refused with a 422
naming the field when it reaches for Python internals, the app's settings or the process, and
no answer shows what such a payload was after.

The template fields are found in the OpenAPI schema's request bodies, so a new operation that
takes a template fails this test until it is attacked here too.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.campaigns.conftest import Api, new_campaign
from tests.conftest import TEST_SECRET

PAYLOADS = (
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ ''|attr('__class__') }}",
    "{{ cycler.__init__.__globals__.os.popen('id').read() }}",
    "{{ lipsum.__globals__['os'].environ }}",
    "{{ self._TemplateReference__context }}",
    "{{ config.items() }}",
    "{{ settings.secret_keys }}",
    "{{ request.app.state.settings }}",
    "{% for c in [].__class__.__base__.__subclasses__() %}{{ c }}{% endfor %}",
    "{{ subscriber.__class__.__init__.__globals__ }}",
    "{{ subscriber.name.format.__globals__ }}",
    "{% import 'os' as os %}{{ os }}",
    "{% include '/etc/passwd' %}",
    "{{ range.__call__.__self__ }}",
    "{{ (subscriber|list).pop() }}",
)
# What a payload would show if it got through (the refusal may name the attribute it refused).
LEAKS = ("<class ", "<function ", "<module ", "root:x", "uid=", "PATH=", TEST_SECRET.reveal())
TEMPLATE_FIELDS = {"subject", "body", "body_text"}


def template_operations(schema: dict[str, Any]) -> set[str]:
    """``METHOD path`` of every operation whose request body has a template field."""
    found = set()
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            content = (operation.get("requestBody") or {}).get("content", {})
            body = content.get("application/json", {}).get("schema", {})
            if TEMPLATE_FIELDS & set(_property_names(body)):
                found.add(f"{method.upper()} {path}")
    return found


def _property_names(schema: Any) -> set[str]:
    names: set[str] = set()
    if isinstance(schema, dict):
        names |= set(schema.get("properties", {}))
        for value in schema.values():
            names |= _property_names(value)
    elif isinstance(schema, list):
        for value in schema:
            names |= _property_names(value)
    return names


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_template_payloads_are_refused_in_every_staff_template(api: Api) -> None:
    schema = (await api.get("/schema/openapi.json")).json()
    campaign = await new_campaign(api)
    cid = campaign["id"]
    # (operation, field, request body with the payload in that field)
    targets: list[tuple[str, str, Any]] = []
    for field in ("subject", "body", "body_text"):
        targets.append(("POST /api/campaigns", field, {"subject": "Hej", "lists": ["kultur"]}))
        targets.append(("PATCH /api/campaigns/{campaign_id}", field, {}))
    for field in ("subject", "body"):
        targets.append(("PATCH /api/lists/{slug}", field, None))

    refused = 0
    for payload in PAYLOADS:
        for operation, field, base in targets:
            method, path = operation.split(" ")
            url = path.replace("{campaign_id}", str(cid)).replace("{slug}", "kultur")
            if base is None:
                text = {"subject": "Velkommen", "body": "Hej {{ subscriber.name }}"}
                body: Any = {"welcome": {"da": {**text, field: payload}}}
                role = "admin"
            else:
                body = {"body": "<p>Hej</p>", **base, field: payload}
                role = "editor"
            response = await api.client.request(method, url, json=body, headers=api.headers(role))
            where = f"{operation} {field}: {payload}"
            assert response.status_code == 422, (where, response.status_code, response.text)
            assert not any(leak in response.text for leak in LEAKS), (where, response.text)
            errors = response.json()["errors"]
            assert any(field in key for key in errors), (where, errors)
            refused += 1

    # A preview of the untouched draft renders; nothing above changed it.
    preview = await api.post(f"/api/campaigns/{cid}/preview", json={})
    assert preview.status_code == 200, preview.text
    assert (await api.get(f"/api/campaigns/{cid}")).json()["subject"] == campaign["subject"]
    assert template_operations(schema) == {operation for operation, _, _ in targets} | {
        "PATCH /api/lists/{slug}"
    }
    assert refused == len(PAYLOADS) * len(targets)
