"""Staff users and their tokens over the API (admin), invitations and password resets by mail,
end to end: the campaigns app, Redis, the mailer in burst mode and the recording SMTP server."""

from __future__ import annotations

import re
from datetime import timedelta

import httpx
import time_machine

from services.mailer.worker import run_worker
from shared.settings import Settings
from tests.campaigns.conftest import Api
from tests.campaigns.test_staff_app import csrf_token, log_in
from tests.mailer.support import FAST
from tests.support.smtp import RecordingSMTPServer

PASSWORD = "a password of my very own"


async def _mailed_link(settings: Settings, smtp_server: RecordingSMTPServer, to: str) -> str:
    """Deliver queued mail; return the path of the one link mailed to ``to``."""
    await run_worker(settings, burst=True, options=FAST)
    mails = [m for m in smtp_server.messages if m.rcpt_tos == [to]]
    assert len(mails) == 1, [m.rcpt_tos for m in smtp_server.messages]
    part = mails[0].parsed().get_body(("plain",))
    assert part is not None
    text = part.get_content()
    found = re.search(r"https?://[^/\s]+(/app/(?:invite|reset)/\S+)", text)
    assert found, text
    return found[1]


async def _set_password(client: httpx.AsyncClient, path: str, password: str) -> httpx.Response:
    form = await client.get(path)
    assert form.status_code == 200, form.text
    return await client.post(
        path, data={"password": password, "repeat": password, "_csrf_token": csrf_token(form)}
    )


async def _invite(api: Api, email: str, role: str) -> int:
    response = await api.post("/api/users", role="admin", json={"email": email, "role": role})
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["role"] == role and body["active"] is True
    return int(body["id"])


async def test_an_invitation_link_sets_a_password_once(
    api: Api, settings: Settings, smtp_server: RecordingSMTPServer
) -> None:
    user_id = await _invite(api, "new.editor@example.dk", "editor")
    path = await _mailed_link(settings, smtp_server, "new.editor@example.dk")
    client = api.client
    assert (await _set_password(client, path, PASSWORD)).status_code == 200
    assert (await log_in(client, "new.editor@example.dk", PASSWORD)).status_code == 303
    # Used: the link is dead, whether shown or posted.
    assert (await client.get(path)).status_code == 410
    audit = (await api.get("/api/audit", role="admin", params={"object": f"user:{user_id}"})).json()
    assert [e["action"] for e in audit["entries"]] == ["user.password_invite", "user.invite"]
    assert audit["entries"][1]["actor"].startswith("token:")


async def test_a_second_invitation_to_the_same_address_is_a_conflict(api: Api) -> None:
    await _invite(api, "twice@example.dk", "viewer")
    again = await api.post(
        "/api/users", role="admin", json={"email": "TWICE@example.dk", "role": "viewer"}
    )
    assert again.status_code == 409
    bad = await api.post("/api/users", role="admin", json={"email": "x@y.dk", "role": "boss"})
    assert bad.status_code == 422 and "role" in bad.json()["errors"]


async def test_tokens_are_shown_once_listed_with_last_use_and_revoked_at_once(api: Api) -> None:
    user_id = await _invite(api, "tokens@example.dk", "editor")
    created = await api.post(
        "/api/tokens", role="admin", json={"user_id": user_id, "role": "editor", "label": "ci"}
    )
    assert created.status_code == 201, created.text
    token, token_id = created.json()["token"], created.json()["info"]["id"]
    own = {"Authorization": f"Bearer {token}"}
    assert (await api.client.get("/api/lists", headers=own)).status_code == 200
    listed = (await api.get("/api/tokens", role="admin")).json()["tokens"]
    [mine] = [t for t in listed if t["id"] == token_id]
    assert mine["last_used_at"] is not None and mine["user_id"] == user_id
    assert token not in str(listed)
    assert (await api.delete(f"/api/tokens/{token_id}", role="admin")).status_code == 204
    assert (await api.client.get("/api/lists", headers=own)).status_code == 401
    assert (await api.delete(f"/api/tokens/{token_id}", role="admin")).status_code == 404
    audit = await api.get("/api/audit", role="admin", params={"object": f"token:{token_id}"})
    assert [e["action"] for e in audit.json()["entries"]] == ["token.revoke", "token.create"]


async def test_demotion_and_deactivation_apply_to_tokens_at_once(api: Api) -> None:
    user_id = await _invite(api, "demoted@example.dk", "editor")
    too_high = await api.post(
        "/api/tokens", role="admin", json={"user_id": user_id, "role": "admin"}
    )
    assert too_high.status_code == 422
    created = await api.post(
        "/api/tokens", role="admin", json={"user_id": user_id, "role": "editor"}
    )
    own = {"Authorization": f"Bearer {created.json()['token']}"}
    new_list = {"slug": "x", "names": {"da": "X", "sv": "X", "en": "X"}}
    campaign = {"subject": "S", "body": "<p>B</p>", "lists": ["kultur"]}
    assert (await api.client.post("/api/campaigns", headers=own, json=campaign)).status_code == 201
    demoted = await api.patch(f"/api/users/{user_id}", role="admin", json={"role": "viewer"})
    assert demoted.status_code == 200 and demoted.json()["role"] == "viewer"
    assert (await api.client.post("/api/campaigns", headers=own, json=campaign)).status_code == 403
    assert (await api.client.post("/api/lists", headers=own, json=new_list)).status_code == 403
    off = await api.patch(f"/api/users/{user_id}", role="admin", json={"active": False})
    assert off.status_code == 200 and off.json()["active"] is False
    assert (await api.client.get("/api/lists", headers=own)).status_code == 401
    audit = await api.get("/api/audit", role="admin", params={"object": f"user:{user_id}"})
    assert [e["action"] for e in audit.json()["entries"]] == [
        "user.deactivate",
        "user.role_change",
        "user.invite",
    ]


async def test_a_reset_request_answers_the_same_for_every_address(
    api: Api, settings: Settings, smtp_server: RecordingSMTPServer
) -> None:
    await _invite(api, "forgetful@example.dk", "viewer")
    await run_worker(settings, burst=True, options=FAST)
    smtp_server.handler.messages.clear()
    pages = []
    for email in ("forgetful@example.dk", "nobody@example.dk"):
        form = await api.client.get("/app/forgot")
        answer = await api.client.post(
            "/app/forgot", data={"email": email, "_csrf_token": csrf_token(form)}
        )
        assert answer.status_code == 200
        pages.append(csrf_token_free(answer.text))
    assert pages[0] == pages[1]
    path = await _mailed_link(settings, smtp_server, "forgetful@example.dk")
    assert "/app/reset/" in path
    assert (await _set_password(api.client, path, PASSWORD)).status_code == 200
    assert (await log_in(api.client, "forgetful@example.dk", PASSWORD)).status_code == 303
    form = await api.client.get("/app/login")
    again = await api.client.post(
        path,
        data={
            "password": PASSWORD + "2",
            "repeat": PASSWORD + "2",
            "_csrf_token": csrf_token(form),
        },
    )
    assert again.status_code == 410


async def test_a_reset_link_expires_after_an_hour(
    api: Api, settings: Settings, smtp_server: RecordingSMTPServer
) -> None:
    await _invite(api, "late@example.dk", "viewer")
    await run_worker(settings, burst=True, options=FAST)
    smtp_server.handler.messages.clear()
    form = await api.client.get("/app/forgot")
    await api.client.post(
        "/app/forgot", data={"email": "late@example.dk", "_csrf_token": csrf_token(form)}
    )
    path = await _mailed_link(settings, smtp_server, "late@example.dk")
    with time_machine.travel(timedelta(hours=1, minutes=1)):
        assert (await api.client.get(path)).status_code == 410
    assert (await api.client.get(path)).status_code == 200


async def test_a_forged_link_is_refused(api: Api) -> None:
    assert (await api.client.get("/app/reset/not-a-token")).status_code == 410
    assert (await api.client.get("/app/invite/" + "x" * 5000)).status_code in {404, 410}


def csrf_token_free(html: str) -> str:
    """A page without its per-request CSRF token, to compare two answers."""
    return re.sub(r'name="_csrf_token" value="[^"]+"', "", html)


async def test_ids_beyond_any_row_are_404_or_422(api: Api) -> None:
    huge = 2**70
    assert (await api.get(f"/api/users/{huge}", role="admin")).status_code == 404
    patched = await api.patch(f"/api/users/{huge}", role="admin", json={"active": False})
    assert patched.status_code == 404
    assert (await api.delete(f"/api/tokens/{huge}", role="admin")).status_code == 404
    token = await api.post("/api/tokens", role="admin", json={"user_id": huge, "role": "viewer"})
    assert token.status_code == 422


async def test_an_admin_sets_a_users_language_through_the_api(api: Api) -> None:
    user_id = await _invite(api, "sprog@example.se", "editor")
    path = f"/api/users/{user_id}"
    swedish = await api.patch(path, role="admin", json={"language": "sv"})
    assert swedish.status_code == 200 and swedish.json()["language"] == "sv"
    assert (await api.get(path, role="admin")).json()["language"] == "sv"
    wrong = await api.patch(path, role="admin", json={"language": "de"})
    assert wrong.status_code == 422 and "language" in wrong.json()["errors"]
    # null: follow the browser again; a patch without the field leaves the choice alone.
    assert (await api.patch(path, role="admin", json={"language": None})).json()["language"] is None
    await api.patch(path, role="admin", json={"language": "da"})
    kept = await api.patch(path, role="admin", json={"role": "viewer"})
    assert kept.json()["language"] == "da" and kept.json()["role"] == "viewer"
