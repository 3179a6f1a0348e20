"""The "ask for the municipality" option of member sites: API, staff form and the HTML snippet."""

from __future__ import annotations

import pytest

from shared.municipalities import ELSEWHERE, MUNICIPALITIES
from shared.settings import Settings
from tests.campaigns.conftest import Api
from tests.campaigns.staff_support import post_form, sign_in_as
from tests.campaigns.test_dash_pages import SITE_FORM
from tests.campaigns.test_sites import new_site
from tests.campaigns.test_snippets import Form


async def test_the_option_is_off_by_default_and_can_be_set_and_patched(api: Api) -> None:
    plain = await new_site(api)
    asking = await new_site(api, key="lund-konsthall", asks_municipality=True)

    patched = await api.patch(
        "/api/sites/malmo-bibliotek", role="admin", json={"asks_municipality": True}
    )
    untouched = await api.patch(
        "/api/sites/lund-konsthall", role="admin", json={"name": "Lunds konsthall"}
    )

    assert plain["asks_municipality"] is False and asking["asks_municipality"] is True
    assert patched.status_code == 200 and patched.json()["asks_municipality"] is True
    assert untouched.status_code == 200 and untouched.json()["asks_municipality"] is True
    assert (await api.get("/api/sites/malmo-bibliotek")).json()["asks_municipality"] is True


async def test_a_non_boolean_option_is_refused_naming_the_field(api: Api) -> None:
    await new_site(api)

    created = await api.post(
        "/api/sites",
        role="admin",
        json={"key": "kb", "name": "KB", "country": "DK", "asks_municipality": "yes"},
    )
    patched = await api.patch(
        "/api/sites/malmo-bibliotek", role="admin", json={"asks_municipality": None}
    )

    assert created.status_code == 422 and "asks_municipality" in created.json()["errors"]
    assert patched.status_code == 422 and "asks_municipality" in patched.json()["errors"]


async def test_the_html_snippet_has_the_field_only_when_the_site_asks(api: Api) -> None:
    await new_site(api, default_language="sv")
    await new_site(api, key="kb", country="DK", municipality=None, default_language="da")
    await api.patch("/api/sites/malmo-bibliotek", role="admin", json={"asks_municipality": True})

    asking = (await api.get("/api/sites/malmo-bibliotek/snippets")).json()["html_form"]
    silent = (await api.get("/api/sites/kb/snippets")).json()["html_form"]

    form = Form(asking)
    field = "brevdue-malmo-bibliotek-municipality"
    assert form.labels[field] == "Kommun (valfritt)"
    assert ("select", {"id": field, "name": "municipality"}) in form.elements
    chosen = [value for value, _ in form.options if value not in ("da", "sv", "en")]
    assert chosen == ["", *(m.id for m in MUNICIPALITIES), *ELSEWHERE]
    assert ("se-malmo", "Malmö") in form.options
    assert ("abroad", "Utomlands") in form.options
    assert 'name="municipality"' not in silent


@pytest.mark.one_database
async def test_staff_turn_the_option_on_and_off_in_the_site_form(
    api: Api, settings: Settings
) -> None:
    client = api.client
    await sign_in_as(client, settings, "admin")
    blank = await client.get("/app/sites")
    created = await post_form(
        client, "/app/sites", "/app/sites", **{**SITE_FORM, "asks_municipality": "on"}
    )
    shown = await client.get("/app/sites/lund-kultur")
    on = (await api.get("/api/sites/lund-kultur")).json()["asks_municipality"]
    await post_form(client, "/app/sites/lund-kultur", "/app/sites/lund-kultur", **SITE_FORM)
    off = (await api.get("/api/sites/lund-kultur")).json()["asks_municipality"]

    assert 'name="asks_municipality"' in blank.text
    assert created.status_code == 200, created.text
    assert 'id="site-asks-municipality" name="asks_municipality" value="on" checked' in shown.text
    assert (on, off) == (True, False)
