"""Mailing lists over HTTP."""

from __future__ import annotations

from tests.campaigns.conftest import Api

MUSIK = {
    "slug": "musik",
    "names": {"da": "Musik", "sv": "Musik", "en": "Music"},
    "descriptions": {"en": "Concerts"},
    "is_public": False,
}


async def test_get_lists_shows_demo_lists(api: Api) -> None:
    response = await api.get("/api/lists")
    assert response.status_code == 200
    items = {item["slug"]: item for item in response.json()["items"]}
    assert set(items) == {"boern-unge", "idraet", "kultur"}
    assert items["idraet"]["names"] == {
        "da": "Idræt og motion",
        "sv": "Idrott och motion",
        "en": "Sport and exercise",
    }
    assert items["kultur"]["created_at"].endswith(("Z", "+00:00"))


async def test_create_list(api: Api) -> None:
    response = await api.post("/api/lists", role="admin", json=MUSIK)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["slug"] == "musik"
    assert body["is_public"] is False and body["double_optin"] is True
    assert body["descriptions"] == {"da": "", "sv": "", "en": "Concerts"}
    slugs = [item["slug"] for item in (await api.get("/api/lists")).json()["items"]]
    assert "musik" in slugs


async def test_duplicate_slug_is_409(api: Api) -> None:
    assert (await api.post("/api/lists", role="admin", json=MUSIK)).status_code == 201
    response = await api.post("/api/lists", role="admin", json=MUSIK)
    assert response.status_code == 409
    assert response.json()["errors"] == {"slug": "is already taken"}


async def test_invalid_lists_name_the_field(api: Api) -> None:
    cases = [
        ({**MUSIK, "slug": "Musik!"}, "slug"),
        ({**MUSIK, "slug": "x" * 65}, "slug"),
        ({**MUSIK, "names": {"da": "Musik", "sv": "Musik"}}, "names.en"),
        ({**MUSIK, "names": {"da": " ", "sv": "Musik", "en": "Music"}}, "names.da"),
        ({**MUSIK, "is_public": "yes"}, "is_public"),
        ({**MUSIK, "colour": "red"}, "colour"),
    ]
    for data, field in cases:
        response = await api.post("/api/lists", role="admin", json=data)
        assert response.status_code == 422, (data, response.text)
        assert field in response.json()["errors"], response.text


async def test_body_that_is_not_json_is_400(api: Api) -> None:
    response = await api.post("/api/lists", role="admin", content=b"{slug: musik")
    assert response.status_code == 400
    assert "body" in response.json()["errors"]
    response = await api.post("/api/lists", role="admin", json=["musik"])
    assert response.status_code == 422


async def test_get_one_list(api: Api) -> None:
    response = await api.get("/api/lists/kultur")
    assert response.status_code == 200
    assert response.json()["names"]["en"] == "Culture"
    assert (await api.get("/api/lists/nope")).status_code == 404


async def test_patch_list(api: Api) -> None:
    before = (await api.get("/api/lists/kultur")).json()
    response = await api.patch(
        "/api/lists/kultur",
        role="admin",
        json={
            "names": {"en": "  Culture and arts  "},
            "descriptions": {"sv": "Konserter"},
            "is_public": False,
            "double_optin": False,
        },
    )
    assert response.status_code == 200, response.text
    after = response.json()
    assert after["names"] == {**before["names"], "en": "Culture and arts"}
    assert after["descriptions"] == {**before["descriptions"], "sv": "Konserter"}
    assert after["is_public"] is False and after["double_optin"] is False
    assert (after["id"], after["slug"], after["created_at"]) == (
        before["id"],
        before["slug"],
        before["created_at"],
    )
    assert (await api.get("/api/lists/kultur")).json() == after
    same = await api.patch("/api/lists/kultur", role="admin", json={})
    assert same.status_code == 200 and same.json() == after


async def test_patch_list_refusals(api: Api) -> None:
    for data, field in [
        ({"names": {"da": " "}}, "names.da"),
        ({"names": {"sv": "x" * 201}}, "names.sv"),
        ({"descriptions": {"en": "x" * 5001}}, "descriptions.en"),
        ({"slug": "culture"}, "slug"),
        ({"is_public": "no"}, "is_public"),
    ]:
        response = await api.patch("/api/lists/kultur", role="admin", json=data)
        assert response.status_code == 422, (data, response.text)
        assert field in response.json()["errors"]
    assert (await api.patch("/api/lists/nope", role="admin", json={})).status_code == 404
    for role in ("viewer", "editor"):
        refused = await api.patch("/api/lists/kultur", role=role, json={"is_public": False})
        assert refused.status_code == 403


async def test_control_characters_in_names_and_texts_are_422(api: Api) -> None:
    names = {"da": "Musik", "sv": "Musik", "en": "Music"}
    cases = [
        ({**MUSIK, "names": {**names, "da": "Musik\r\nBcc: x@example.org"}}, "names.da"),
        ({**MUSIK, "names": {**names, "en": "Mu\x00sic"}}, "names.en"),
        ({**MUSIK, "descriptions": {"en": "Concerts\x1b[31m"}}, "descriptions.en"),
    ]
    for data, field in cases:
        response = await api.post("/api/lists", role="admin", json=data)
        assert response.status_code == 422, (data, response.text)
        assert "control characters" in response.json()["errors"][field], response.text
    patched = await api.patch(
        "/api/lists/kultur", role="admin", json={"names": {"sv": "Kultur\nBcc: x@example.org"}}
    )
    assert patched.status_code == 422, patched.text
    assert "names.sv" in patched.json()["errors"]
    welcome = await api.patch(
        "/api/lists/kultur",
        role="admin",
        json={"welcome": {"da": {"subject": "Velkommen\x00", "body": "Hej"}}},
    )
    assert welcome.status_code == 422, welcome.text
    assert "control characters" in welcome.json()["errors"]["welcome.da.subject"]
    rendered = await api.patch(
        "/api/lists/kultur",
        role="admin",
        json={"welcome": {"sv": {"subject": "Välkommen{{ '\\r\\n' }}Bcc: x", "body": "Hej"}}},
    )
    assert rendered.status_code == 422, rendered.text
    assert "render to one line" in rendered.json()["errors"]["welcome.sv.subject"]
    # Line breaks stay allowed where text has lines.
    described = await api.post(
        "/api/lists", role="admin", json={**MUSIK, "descriptions": {"en": "Concerts\nand more"}}
    )
    assert described.status_code == 201, described.text
