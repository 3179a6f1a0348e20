"""Custom subscriber fields over HTTP, checked by the shared contract."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.custom_fields import InvalidCustomValue, validate_custom_value
from shared.schema import custom_fields
from tests.campaigns.conftest import Api

POSTCODE: dict[str, Any] = {
    "key": "postcode",
    "labels": {"da": "Postnummer", "sv": "Postnummer", "en": "Postcode"},
    "type": "text",
    "max_length": 10,
    "public": True,
}
AREA: dict[str, Any] = {
    "key": "area",
    "labels": {"da": "Område", "sv": "Område", "en": "Area"},
    "type": "choice",
    "choices": ["Nord", "Syd", " Øst "],
    "required": True,
}


async def new_field(api: Api, data: dict[str, Any]) -> dict[str, Any]:
    response = await api.post("/api/fields", role="admin", json=data)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_create_and_list_fields(api: Api) -> None:
    postcode = await new_field(api, POSTCODE)
    assert postcode["labels"] == POSTCODE["labels"]
    assert (postcode["type"], postcode["max_length"], postcode["choices"]) == ("text", 10, [])
    assert postcode["public"] is True and postcode["required"] is False
    assert postcode["created_at"] == postcode["updated_at"]
    area = await new_field(api, AREA)
    assert area["choices"] == ["Nord", "Syd", "Øst"] and area["public"] is False
    newsletter = await new_field(
        api,
        {
            "key": "born_1990",
            "labels": {"da": "Født", "sv": "Född", "en": "Born"},
            "type": "date",
        },
    )
    assert newsletter["max_length"] is None
    listing = (await api.get("/api/fields", role="viewer")).json()["items"]
    assert [item["key"] for item in listing] == ["postcode", "area", "born_1990"]
    assert (await api.get("/api/fields/area", role="viewer")).json() == area


async def test_duplicate_key_is_409(api: Api) -> None:
    await new_field(api, POSTCODE)
    response = await api.post("/api/fields", role="admin", json=POSTCODE)
    assert response.status_code == 409
    assert response.json()["errors"] == {"key": "is already taken"}


INVALID_FIELDS = [
    ({"key": "Postnummer"}, "key"),
    ({"key": "post-code"}, "key"),
    ({"key": "p" * 41}, "key"),
    ({"type": "colour"}, "type"),
    ({"type": "choice", "max_length": None}, "choices"),
    ({"choices": ["a"]}, "choices"),
    ({"type": "number"}, "max_length"),
    ({"max_length": 0}, "max_length"),
    ({"max_length": 2001}, "max_length"),
    ({"labels": {"da": " ", "sv": "P", "en": "P"}}, "labels.da"),
    ({"labels": {"da": "P", "sv": "P"}}, "labels.en"),
    ({"required": "yes"}, "required"),
    ({"public": 1}, "public"),
    ({"default": "x"}, "default"),
]


async def test_invalid_fields_name_the_field(api: Api) -> None:
    # Every case against one app and database: each is refused and stores nothing, and the
    # set-up per case cost many times the request. The failures are reported together.
    wrong = []
    for changes, field in INVALID_FIELDS:
        response = await api.post("/api/fields", role="admin", json={**POSTCODE, **changes})
        errors = response.json().get("errors", {}) if response.status_code == 422 else {}
        if field not in errors:
            wrong.append(f"{changes!r}: {response.status_code} {response.text[:500]}")
    assert wrong == [], "\n".join(wrong)
    assert (await api.get("/api/fields", role="viewer")).json()["items"] == []


async def test_choices_must_be_distinct_and_present(api: Api) -> None:
    for choices in ([], ["Nord", "Nord"], ["Nord", "  "]):
        response = await api.post("/api/fields", role="admin", json={**AREA, "choices": choices})
        assert response.status_code == 422
        assert "choices" in response.json()["errors"]


async def test_patch_field(api: Api) -> None:
    await new_field(api, AREA)
    response = await api.patch(
        "/api/fields/area",
        role="admin",
        json={"labels": {"en": "Region"}, "choices": ["Nord", "Syd"], "public": True},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["labels"] == {"da": "Område", "sv": "Område", "en": "Region"}
    assert body["choices"] == ["Nord", "Syd"] and body["public"] is True
    assert body["required"] is True and body["type"] == "choice"
    for data, field in [
        ({"type": "text"}, "type"),
        ({"key": "region"}, "key"),
        ({"max_length": 10}, "max_length"),
        ({"choices": []}, "choices"),
        ({"labels": {"da": ""}}, "labels.da"),
    ]:
        refused = await api.patch("/api/fields/area", role="admin", json=data)
        assert refused.status_code == 422, (data, refused.text)
        assert field in refused.json()["errors"]
    assert (await api.get("/api/fields/area")).json() == body


async def test_delete_field(api: Api) -> None:
    await new_field(api, POSTCODE)
    assert (await api.delete("/api/fields/postcode")).status_code == 204
    assert (await api.get("/api/fields/postcode")).status_code == 404
    assert (await api.delete("/api/fields/postcode")).status_code == 404
    assert (await api.patch("/api/fields/postcode", role="admin", json={})).status_code == 404
    assert (await api.get("/api/fields/" + "x" * 300)).status_code == 404


async def test_roles(api: Api) -> None:
    for role in ("viewer", "editor"):
        assert (await api.post("/api/fields", role=role, json=POSTCODE)).status_code == 403
    await new_field(api, POSTCODE)
    assert (await api.get("/api/fields", role="viewer")).status_code == 200
    for role in ("viewer", "editor"):
        patched = await api.patch("/api/fields/postcode", role=role, json={"public": False})
        assert patched.status_code == 403
        assert (await api.delete("/api/fields/postcode", role=role)).status_code == 403
    assert (await api.client.get("/api/fields")).status_code == 401


async def test_stored_definitions_validate_values(api: Api, db: AsyncEngine) -> None:
    """What the subscriptions service will do: read a row, check a resident's value with it."""
    await new_field(api, POSTCODE)
    await new_field(api, AREA)
    async with db.connect() as conn:
        rows = {
            row["key"]: row
            for row in (await conn.execute(sa.select(custom_fields))).mappings().all()
        }
    assert validate_custom_value(rows["postcode"], " 2100 ") == "2100"
    assert validate_custom_value(rows["area"], "Øst") == "Øst"
    with pytest.raises(InvalidCustomValue, match="must be one of: Nord, Syd, Øst"):
        validate_custom_value(rows["area"], "Vest")
    with pytest.raises(InvalidCustomValue, match="at most 10"):
        validate_custom_value(rows["postcode"], "x" * 11)
