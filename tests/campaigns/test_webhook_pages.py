"""The staff app's webhook pages over real HTTP, without JavaScript, in Danish: admins only,
the secret shown once, refused addresses explained, enable and disable, deletion."""

from __future__ import annotations

import re

import httpx

from shared.settings import Settings
from tests.campaigns.conftest import Api
from tests.campaigns.staff_support import csrf_token, post_form, sign_in_as


async def test_only_admins_see_the_webhook_pages(api: Api, settings: Settings) -> None:
    await sign_in_as(api.client, settings, "editor")
    assert (await api.client.get("/app/webhooks")).status_code == 403
    assert "/app/webhooks" not in (await api.client.get("/app/")).text


async def test_an_admin_creates_tests_disables_and_deletes_a_webhook(
    api: Api, settings: Settings
) -> None:
    client: httpx.AsyncClient = api.client
    await sign_in_as(client, settings, "admin")
    page = await client.get("/app/webhooks")
    assert page.status_code == 200 and 'href="/app/webhooks"' in page.text

    refused = await post_form(
        client, "/app/webhooks", "/app/webhooks", url="ftp://example.org/", events="campaign.sent"
    )
    assert refused.status_code == 422
    assert "skal begynde med https://" in refused.text and 'aria-invalid="true"' in refused.text
    nothing = await post_form(client, "/app/webhooks", "/app/webhooks", url="https://x.example/")
    assert nothing.status_code == 422 and "vælg en eller flere hændelsestyper" in nothing.text

    created = await client.post(
        "/app/webhooks",
        data={
            "url": "https://hooks.example.org/brevdue",
            "description": "Kalender",
            "events": ["subscriber.confirmed", "campaign.sent"],
            "_csrf_token": csrf_token(await client.get("/app/webhooks")),
        },
    )
    assert created.status_code == 200
    [secret] = re.findall(r"whsec_[A-Za-z0-9+/=]+", created.text)
    listing = await client.get("/app/webhooks")
    assert "https://hooks.example.org/brevdue" in listing.text and secret not in listing.text

    hooks = (await api.get("/api/webhooks", role="admin")).json()["items"]
    webhook_id = hooks[0]["id"]
    assert hooks[0]["events"] == ["subscriber.confirmed", "campaign.sent"]
    detail = f"/app/webhooks/{webhook_id}"
    tested = await post_form(client, detail, f"{detail}/test")
    assert tested.status_code == 200 and "en testhændelse er sat i kø" in tested.text
    log = (await api.get(f"/api/webhooks/{webhook_id}/deliveries", role="admin")).json()
    assert [item["event_type"] for item in log["items"]] == ["webhook.test"]

    off = await post_form(client, detail, f"{detail}/disable")
    assert off.status_code == 200 and "Aktivér igen" in off.text
    assert not (await api.get(f"/api/webhooks/{webhook_id}", role="admin")).json()["active"]
    on = await post_form(client, detail, f"{detail}/enable")
    assert on.status_code == 200 and "webhooken er aktiveret" in on.text

    assert (await client.get(f"{detail}/delete")).status_code == 200
    deleted = await post_form(client, f"{detail}/delete", f"{detail}/delete")
    assert deleted.status_code == 200 and "webhooken er slettet" in deleted.text
    assert (await client.get(detail)).status_code == 404
    assert (await client.get("/app/webhooks/99999999999999999999")).status_code in (400, 404)
    no_csrf = await client.post("/app/webhooks", data={"url": "https://a.example/"})
    assert no_csrf.status_code == 403
