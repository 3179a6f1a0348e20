"""The segment pages without JavaScript: build rules row by row, count, save, fix a bad value,
delete behind a confirmation; viewers read and count but change nothing."""

from __future__ import annotations

import re

from sqlalchemy.ext.asyncio import AsyncEngine

from shared.settings import Settings
from tests.campaigns.conftest import Api
from tests.campaigns.staff_support import csrf_token, sign_in_as
from tests.support.segment_population import build_population


def _count(page: str) -> str:
    found = re.search(r'id="segment-count"[^>]*>\s*(.*?)\s*</p>', page, re.DOTALL)
    assert found, page
    return found[1]


async def test_a_segment_is_built_saved_and_deleted_with_plain_forms(
    api: Api, settings: Settings, db: AsyncEngine
) -> None:
    await build_population(db)
    client = api.client
    client.headers["Accept-Language"] = "en"
    await sign_in_as(client, settings, "editor")
    new = await client.get("/app/segments/new")
    assert new.status_code == 200
    assert 'name="row-1-field"' in new.text and 'name="row-2-field"' not in new.text
    assert _count(new.text) == "5 residents match now."
    token = csrf_token(new)
    form = {
        "_csrf_token": token,
        "name": "Skåne eller engelsk",
        "match": "any",
        "row-0-group": "0",
        "row-0-field": "country",
        "row-0-op": "any_of",
        "row-0-value": "SE",
        "row-1-group": "1",
        "row-1-field": "language",
        "row-1-op": "any_of",
        "row-1-value": "en, xx",
        "group-1-match": "all",
    }
    # Adding a row is a plain submit; the page keeps what was typed and shows the problem.
    added = await client.post("/app/segments/new", data={**form, "action": "add"})
    assert added.status_code == 200
    assert 'name="row-2-field"' in added.text
    assert 'value="en, xx"' in added.text
    assert "unknown: xx" in added.text
    assert "cannot be counted yet" in _count(added.text)

    refused = await client.post("/app/segments/new", data={**form, "action": "save"})
    assert refused.status_code == 422
    form["row-1-value"] = "en"
    counted = await client.post("/app/segments/new", data={**form, "action": "count"})
    assert _count(counted.text) == "3 residents match now."  # b, d (Skåne) and c (English)
    fragment = await client.post("/app/segments/count", data=form)
    assert fragment.status_code == 200
    assert fragment.text.strip() == "3 residents match now."

    saved = await client.post("/app/segments/new", data={**form, "action": "save"})
    assert saved.status_code == 200, saved.text
    [segment] = (await api.get("/api/segments")).json()["items"]
    assert segment["name"] == "Skåne eller engelsk" and segment["count"] == 3
    assert segment["rules"]["match"] == "any"
    assert segment["rules"]["rules"][1] == {
        "type": "group",
        "match": "all",
        "rules": [{"type": "condition", "field": "language", "op": "any_of", "value": ["en"]}],
    }
    listing = await client.get("/app/segments")
    assert "Skåne eller engelsk" in listing.text and "<td>3</td>" in listing.text
    shown = await client.get(f"/app/segments/{segment['id']}")
    assert 'value="Skåne eller engelsk"' in shown.text
    assert _count(shown.text) == "3 residents match now."

    # the campaign editor offers the segment; a campaign may go to it alone
    editor = await client.get("/app/campaigns/new")
    assert f'name="segments" value="{segment["id"]}"' in editor.text
    created = await client.post(
        "/app/campaigns/new",
        data={
            "_csrf_token": csrf_token(editor),
            "subject": "Til Skåne",
            "body": "<p>Hej {{ subscriber.name }}</p>",
            "segments": str(segment["id"]),
        },
    )
    assert created.status_code in {200, 303}, created.text
    campaign = (await api.get("/api/campaigns")).json()["items"][0]
    assert (campaign["subject"], campaign["lists"]) == ("Til Skåne", [])
    assert campaign["segments"] == [segment["id"]]
    # the campaign page counts the audience as the fan-out will: the segment's members
    page = await client.get(f"/app/campaigns/{campaign['id']}")
    assert "3 recipients on the lists right now." in page.text

    confirm = await client.get(f"/app/segments/{segment['id']}/delete")
    assert confirm.status_code == 200
    deleted = await client.post(
        f"/app/segments/{segment['id']}/delete", data={"_csrf_token": csrf_token(confirm)}
    )
    assert deleted.status_code == 200
    assert (await api.get("/api/segments")).json()["items"] == []

    client.cookies.clear()
    await sign_in_as(client, settings, "viewer")
    assert (await client.get("/app/segments/new")).status_code == 403
    page = await client.get("/app/segments")
    assert "New segment" not in page.text
