"""The staff app's campaigns list, editor and preview over real HTTP, on both databases."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from email.header import decode_header, make_header
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from services.mailer.worker import run_worker
from shared.db import create_engine
from shared.schema import mailing_lists, subscribers, subscriptions
from shared.settings import Settings
from tests.campaigns.conftest import Api, new_campaign
from tests.campaigns.staff_support import csrf_token, post_form, sign_in_as
from tests.mailer.support import FAST
from tests.support.smtp import RecordingSMTPServer

# Pages, permissions and input checks, not SQL: the queries behind them run on both
# databases in the API's tests, so these run on one (PostgreSQL when configured).
pytestmark = pytest.mark.one_database


@pytest.fixture
async def editor(api: Api, settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """A browser-like client signed in as an editor, reading English pages."""
    async with _client(api) as client:
        await sign_in_as(client, settings, "editor")
        yield client


def _client(api: Api) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=api.client.base_url, timeout=20, headers={"Accept-Language": "en"}
    )


async def add_reader(
    settings: Settings, email: str, name: str | None, language: str, lists: dict[str, str]
) -> int:
    """A subscriber of the demo lists (slug -> subscription status); return the id."""
    engine = create_engine(settings.database_url)
    async with engine.begin() as conn:
        result = await conn.execute(
            sa.insert(subscribers).values(
                key=email.replace("@", "-")[:32],
                email=email,
                email_key=email.casefold(),
                name=name,
                language=language,
                status="active",
                created_at=sa.func.current_timestamp(),
                updated_at=sa.func.current_timestamp(),
                # As the subscriptions service keeps it with the subscriptions below.
                confirmed_lists=sum(status == "confirmed" for status in lists.values()),
            )
        )
        subscriber_id = int(result.inserted_primary_key[0])
        for slug, status in lists.items():
            list_id = await conn.scalar(
                sa.select(mailing_lists.c.id).where(mailing_lists.c.slug == slug)
            )
            await conn.execute(
                sa.insert(subscriptions).values(
                    subscriber_id=subscriber_id,
                    list_id=list_id,
                    status=status,
                    requested_at=sa.func.current_timestamp(),
                )
            )
    await engine.dispose()
    return subscriber_id


def _form(**changes: Any) -> dict[str, Any]:
    return {
        "subject": "Kulturnyt for {{ subscriber.name }}",
        "sender_name": "Københavns Kommune",
        "sender_address": "nyhed@kk.test",
        "lists": ["kultur"],
        "body": "<p>Hej {{ subscriber.name }}</p>\n<p>{{ subscriber.language }}</p>",
        "body_text": "",
        **changes,
    }


async def _create(client: httpx.AsyncClient, **changes: Any) -> int:
    response = await post_form(
        client, "/app/campaigns/new", "/app/campaigns/new", **_form(**changes)
    )
    assert response.status_code == 303, response.text
    found = re.fullmatch(r"/app/campaigns/(\d+)/edit\?created=1", response.headers["location"])
    assert found, response.headers["location"]
    return int(found[1])


async def test_create_then_save_through_the_form(
    api: Api, editor: httpx.AsyncClient, settings: Settings
) -> None:
    form = await editor.get("/app/campaigns/new")
    assert form.status_code == 200
    assert 'name="lists" value="kultur"' in form.text
    assert "(0 confirmed subscribers)" in form.text
    assert "subscriber.name" in form.text  # the variables help
    campaign_id = await _create(editor, lists=["kultur", "idraet"])
    page = await editor.get(f"/app/campaigns/{campaign_id}/edit?created=1")
    assert 'role="status"' in page.text and "The campaign is created" in page.text
    stored = (await api.get(f"/api/campaigns/{campaign_id}")).json()
    assert stored["from_address"] == "Københavns Kommune <nyhed@kk.test>"
    assert stored["lists"] == ["idraet", "kultur"]
    assert stored["body_text"] is None
    assert stored["status"] == "draft"
    # The form is filled with what is stored, the sender split into its two fields.
    assert 'value="Københavns Kommune"' in page.text
    assert 'value="nyhed@kk.test"' in page.text

    saved = await editor.post(
        f"/app/campaigns/{campaign_id}/edit",
        data={
            **_form(subject="Ny titel", sender_name="Kultur, Malmö", body_text="Hej"),
            "_csrf_token": csrf_token(page),
        },
    )
    assert saved.status_code == 200, saved.text
    assert re.search(r'role="status">Saved.<', saved.text), saved.text[:2000]
    stored = (await api.get(f"/api/campaigns/{campaign_id}")).json()
    assert stored["subject"] == "Ny titel"
    assert stored["from_address"] == '"Kultur, Malmö" <nyhed@kk.test>'
    assert stored["body_text"] == "Hej"
    assert stored["lists"] == ["kultur"]
    audit = await api.get("/api/audit", role="admin", params={"object": f"campaign:{campaign_id}"})
    actions = [(entry["action"], entry["actor"]) for entry in audit.json()["entries"]]
    assert [action for action, _ in actions] == ["campaign.update", "campaign.create"]
    assert all(actor.startswith("user:") for _, actor in actions)


async def test_a_template_error_names_its_line_and_the_form_keeps_what_was_typed(
    api: Api, editor: httpx.AsyncClient
) -> None:
    body = "<p>Hej</p>\n<p>{{ subscriber.name }}</p>\n<p>{{ subscriber.nmae }}</p>"
    response = await post_form(
        editor, "/app/campaigns/new", "/app/campaigns/new", **_form(subject="Behold mig", body=body)
    )
    assert response.status_code == 422
    assert 'role="alert"' in response.text
    assert "Line 3: &#39;dict object&#39; has no attribute &#39;nmae&#39;" in response.text
    assert 'id="body" name="body"' in response.text and "aria-invalid" in response.text
    assert 'value="Behold mig"' in response.text
    assert "{{ subscriber.nmae }}" in response.text
    assert (await api.get("/api/campaigns")).json()["total"] == 0

    hostile = await post_form(
        editor,
        "/app/campaigns/new",
        "/app/campaigns/new",
        **_form(body="<p>\n{{ subscriber['<script>alert(1)</script>'] }}"),
    )
    assert hostile.status_code == 422
    assert "<script>alert" not in hostile.text
    assert "Line 2: &#39;dict object&#39; has no attribute &#39;&lt;script&gt;" in hostile.text

    syntax = await post_form(
        editor, "/app/campaigns/new", "/app/campaigns/new", **_form(body="<p>\n{% if %}\n")
    )
    assert "Line 2: " in syntax.text
    # The API says the same in its 422 body.
    refused = await api.post(
        "/api/campaigns", json={"subject": "x", "body": body, "lists": ["kultur"]}
    )
    assert refused.status_code == 422
    assert refused.json()["errors"]["body"] == "line 3: 'dict object' has no attribute 'nmae'"

    # Saving an existing draft keeps the typed text too, and stores nothing.
    campaign_id = await _create(editor)
    page = await editor.get(f"/app/campaigns/{campaign_id}/edit")
    bad = await editor.post(
        f"/app/campaigns/{campaign_id}/edit",
        data={**_form(subject="Ændret", body=body), "_csrf_token": csrf_token(page)},
    )
    assert bad.status_code == 422
    assert "Line 3: " in bad.text and 'value="Ændret"' in bad.text
    assert (await api.get(f"/api/campaigns/{campaign_id}")).json()["subject"] != "Ændret"


async def test_a_sender_name_needs_an_address(api: Api, editor: httpx.AsyncClient) -> None:
    response = await post_form(
        editor, "/app/campaigns/new", "/app/campaigns/new", **_form(sender_address="")
    )
    assert response.status_code == 422
    assert "A sender name needs a sender address" in response.text
    # Reported together with the other fields' problems.
    both = await post_form(
        editor,
        "/app/campaigns/new",
        "/app/campaigns/new",
        **_form(sender_address="", subject="", lists=[]),
    )
    assert "A sender name needs a sender address" in both.text
    assert 'id="subject-problem">must not be empty<' in both.text
    assert 'id="lists-problem">must name at least one list or segment<' in both.text
    bad = await post_form(
        editor, "/app/campaigns/new", "/app/campaigns/new", **_form(sender_address="not mail")
    )
    assert bad.status_code == 422 and 'id="from_address-problem"' in bad.text
    assert (await api.get("/api/campaigns")).json()["total"] == 0


async def test_the_api_preview_refuses_what_is_not_a_reader(api: Api, settings: Settings) -> None:
    campaign_id = (await new_campaign(api))["id"]
    url = f"/api/campaigns/{campaign_id}/preview"
    for odd in (0, -1, 2**63, 10**30, "7", None):
        answer = await api.post(url, role="viewer", json={"subscriber_id": odd})
        if odd is None:
            assert answer.status_code == 200 and answer.json()["language"] == "da"
        else:
            assert answer.status_code == 422, (odd, answer.text)
    dina = await add_reader(settings, "dina@example.dk", None, "da", {"kultur": "confirmed"})
    answer = (await api.post(url, role="viewer", json={"subscriber_id": dina})).json()
    assert answer["to"] == "dina@example.dk" and answer["language"] == "da"
    english = await api.post(url, role="viewer", json={"subscriber_id": dina, "language": "en"})
    assert "You receive this email because you subscribed." in english.json()["html"]
    assert (await api.post(url, role="viewer", json={"language": "de"})).status_code == 422


async def test_preview_as_a_subscriber_and_as_a_sample_in_swedish(
    api: Api, editor: httpx.AsyncClient, settings: Settings
) -> None:
    bjorn = await add_reader(
        settings, "bjorn@example.se", "Björn Åkesson", "sv", {"kultur": "confirmed"}
    )
    anne = await add_reader(settings, "anne@example.dk", "Anne", "da", {"kultur": "confirmed"})
    pending = await add_reader(settings, "bo@example.dk", "Bo", "da", {"kultur": "pending"})
    other = await add_reader(settings, "bente@example.dk", "Bente", "da", {"idraet": "confirmed"})
    campaign_id = await _create(editor)
    base = f"/app/campaigns/{campaign_id}/preview"

    as_bjorn = await editor.get(base, params={"subscriber": bjorn})
    assert as_bjorn.status_code == 200
    assert as_bjorn.headers["content-security-policy"] == (
        "sandbox; default-src 'none'; img-src https: data:; style-src 'unsafe-inline'"
    )
    assert as_bjorn.headers["x-frame-options"] == "SAMEORIGIN"
    assert "<p>Hej Björn Åkesson</p>" in as_bjorn.text
    assert "Du får detta mejl eftersom du har anmält dig." in as_bjorn.text  # his own language
    assert "/unsubscribe/preview?lang=sv" in as_bjorn.text

    in_danish = await editor.get(base, params={"subscriber": bjorn, "lang": "da"})
    assert "Du får denne mail" in in_danish.text and "<p>da</p>" in in_danish.text
    sample = await editor.get(base, params={"lang": "sv"})
    assert "<p>Hej Maja</p>" in sample.text and "Avsluta" in sample.text
    for stranger in (pending, other, 10**30):
        refused = await editor.get(base, params={"subscriber": stranger})
        assert refused.status_code == 422
        assert "not a confirmed subscriber" in refused.text

    page = await editor.get(
        f"/app/campaigns/{campaign_id}/edit", params={"subscriber": anne, "lang": "sv"}
    )
    assert f'src="{base}?lang=sv&amp;subscriber={anne}"' in page.text
    assert 'sandbox=""' in page.text and "<iframe" in page.text
    assert "Kulturnyt for Anne" in page.text  # the subject as rendered
    assert "Du får detta mejl" in page.text  # the text part, footer included
    panel = await editor.get(
        f"/app/campaigns/{campaign_id}/preview-panel", params={"subscriber": anne}
    )
    assert panel.text.lstrip().startswith('<div id="preview-panel"')
    assert "Du får denne mail" in panel.text

    found = await editor.get(f"/app/campaigns/{campaign_id}/readers", params={"q": "BJ"})
    assert "bjorn@example.se" in found.text and "anne@" not in found.text
    for hidden in ("b%", "bo", "bente"):
        result = await editor.get(f"/app/campaigns/{campaign_id}/readers", params={"q": hidden})
        assert not re.search(r"(bjorn|anne|bo|bente)@", result.text), hidden
    # Without JavaScript the search is the page itself.
    searched = await editor.get(f"/app/campaigns/{campaign_id}/edit", params={"q": "an"})
    assert f'value="{anne}"' in searched.text

    # The API offers the same.
    url = f"/api/campaigns/{campaign_id}/preview"
    answer = (await api.post(url, role="viewer", json={"subscriber_id": bjorn})).json()
    assert answer["language"] == "sv" and answer["subscriber_id"] == bjorn
    assert answer["to"] == "Björn Åkesson <bjorn@example.se>"
    assert answer["subject"] == "Kulturnyt for Björn Åkesson"
    assert answer["from_address"] == "Københavns Kommune <nyhed@kk.test>"
    assert answer["text"].startswith("Hej Björn Åkesson\n\nsv")
    assert "Du får detta mejl" in answer["text"]
    stranger = await api.post(url, role="viewer", json={"subscriber_id": other})
    assert stranger.status_code == 422
    assert "subscriber_id" in stranger.json()["errors"]


async def test_a_campaign_that_is_no_longer_a_draft_is_read_only(
    api: Api, editor: httpx.AsyncClient
) -> None:
    campaign_id = await _create(editor)
    page = await editor.get(f"/app/campaigns/{campaign_id}/edit")
    token = csrf_token(page)
    assert (await api.post(f"/api/campaigns/{campaign_id}/send")).status_code == 202
    page = await editor.get(f"/app/campaigns/{campaign_id}/edit")
    assert page.status_code == 200
    assert 'class="editor"' not in page.text
    assert "Only a draft can be changed" in page.text
    assert "<iframe" in page.text  # the preview still shows
    refused = await editor.post(
        f"/app/campaigns/{campaign_id}/edit",
        data={**_form(subject="Too late"), "_csrf_token": token},
    )
    assert refused.status_code == 409
    assert (await api.get(f"/api/campaigns/{campaign_id}")).json()["subject"] != "Too late"


async def test_a_viewer_sees_no_editor_and_a_forged_post_is_refused(
    api: Api, editor: httpx.AsyncClient, settings: Settings
) -> None:
    campaign_id = await _create(editor)
    async with _client(api) as viewer:
        await sign_in_as(viewer, settings, "viewer")
        listing = await viewer.get("/app/campaigns")
        assert listing.status_code == 200
        assert "/app/campaigns/new" not in listing.text
        assert (await viewer.get("/app/campaigns/new")).status_code == 403
        page = await viewer.get(f"/app/campaigns/{campaign_id}/edit")
        assert page.status_code == 200
        assert 'class="editor"' not in page.text
        assert "You can read this campaign but not change it." in page.text
        # A valid CSRF token of the viewer's own session (the logout form's): still refused.
        token = csrf_token(page)
        forged = await viewer.post(
            f"/app/campaigns/{campaign_id}/edit",
            data={**_form(subject="Forged"), "_csrf_token": token},
        )
        assert forged.status_code == 403
        created = await viewer.post("/app/campaigns/new", data={**_form(), "_csrf_token": token})
        assert created.status_code == 403
    assert (await api.get(f"/api/campaigns/{campaign_id}")).json()["subject"] != "Forged"
    assert (await api.get("/api/campaigns")).json()["total"] == 1


async def test_a_form_without_its_csrf_token_is_403(api: Api, editor: httpx.AsyncClient) -> None:
    campaign_id = await _create(editor)
    assert (await editor.post("/app/campaigns/new", data=_form())).status_code == 403
    missing = await editor.post(f"/app/campaigns/{campaign_id}/edit", data=_form(subject="No"))
    assert missing.status_code == 403
    assert (await api.get("/api/campaigns")).json()["total"] == 1


async def test_the_list_filters_by_status_and_pages(api: Api, editor: httpx.AsyncClient) -> None:
    first = await new_campaign(api, subject="Første")
    for number in range(20):
        await new_campaign(api, subject=f"Kladde {number}")
    sent = await new_campaign(api, subject="Sendt nu")
    assert (await api.post(f"/api/campaigns/{sent['id']}/send")).status_code == 202

    page = await editor.get("/app/campaigns")
    assert page.status_code == 200
    assert "Page 1 of 2" in page.text and 'rel="next"' in page.text
    assert page.text.index("Sendt nu") < page.text.index("Kladde 19")  # newest first
    assert "Første" not in page.text
    assert "<td>Culture</td>" in page.text  # the list's name in the reader's language
    assert f'href="/app/campaigns/{sent["id"]}"' in page.text
    assert f'href="/app/campaigns/{first["id"]}/edit"' not in page.text
    second = await editor.get("/app/campaigns", params={"page": 2})
    assert "Første" in second.text and f'href="/app/campaigns/{first["id"]}/edit"' in second.text

    sending = await editor.get("/app/campaigns", params={"status": "sending"})
    assert "Sendt nu" in sending.text and "Kladde" not in sending.text
    assert '<option value="sending" selected>' in sending.text
    for odd in ("bogus", "scheduled", "x" * 400):
        answer = await editor.get("/app/campaigns", params={"status": odd})
        assert answer.status_code in {200, 400}, odd

    drafts = (await api.get("/api/campaigns", params={"status": "draft", "per_page": 5})).json()
    assert drafts["total"] == 21 and len(drafts["items"]) == 5
    assert drafts["items"][0]["updated_at"]
    only = (await api.get("/api/campaigns", params={"status": "sending"})).json()
    assert [item["subject"] for item in only["items"]] == ["Sendt nu"]
    assert (await api.get("/api/campaigns", params={"status": "bogus"})).status_code == 400


async def test_a_sender_name_with_danish_letters_reaches_the_reader_encoded(
    api: Api, editor: httpx.AsyncClient, settings: Settings, smtp_server: RecordingSMTPServer
) -> None:
    await add_reader(settings, "anne@example.dk", "Anne", "da", {"kultur": "confirmed"})
    campaign_id = await _create(editor)
    assert (await api.post(f"/api/campaigns/{campaign_id}/send")).status_code == 202
    await run_worker(settings, burst=True, options=FAST)
    [message] = [m for m in smtp_server.messages if "anne@example.dk" in m.rcpt_tos]
    [line] = [x for x in message.data.split(b"\r\n") if x.startswith(b"From: ")]
    assert line == b"From: =?utf-8?q?K=C3=B8benhavns_Kommune?= <nyhed@kk.test>"
    decoded = str(make_header(decode_header(line.decode("ascii")[6:])))
    assert decoded == "Københavns Kommune <nyhed@kk.test>"


async def test_unknown_campaigns_are_404_pages(editor: httpx.AsyncClient) -> None:
    for path in ("/edit", "/preview", "/preview-panel", "/readers?q=a"):
        response = await editor.get(f"/app/campaigns/999999{path}")
        assert response.status_code == 404, path
    huge = await editor.get(f"/app/campaigns/{10**30}/edit")
    assert huge.status_code in {400, 404}
