"""The plain HTML snippet carries the public custom fields and its consent text version."""

from __future__ import annotations

from tests.campaigns.conftest import Api
from tests.campaigns.test_fields import AREA, POSTCODE, new_field
from tests.campaigns.test_snippets import Form, snippets


async def test_form_snippet_shows_public_fields_only(api: Api) -> None:
    await new_field(api, POSTCODE)
    await new_field(api, {**AREA, "public": False})
    await new_field(
        api,
        {
            "key": "district",
            "labels": {"da": "Bydel", "sv": "Stadsdel", "en": "District"},
            "type": "choice",
            "choices": ["Nord", "Syd"],
            "required": True,
            "public": True,
        },
    )

    form = Form((await snippets(api, "demo-site"))["html_form"])

    postcode = form.one("custom.postcode")
    assert postcode["type"] == "text"
    assert form.labels[postcode["id"]] == "Postnummer"
    district = form.one("custom.district")
    assert "required" in district
    assert form.labels[district["id"]] == "Bydel"
    assert ("Nord", "Nord") in form.options
    assert form.inputs("custom.area") == []
    assert form.one("consent_version") == {
        "type": "hidden",
        "name": "consent_version",
        "value": "2026-11-snippet-1",
    }
