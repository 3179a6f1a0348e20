"""The preference center over real HTTP: page, saving, withdrawals, CSRF rules, custom fields."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
import time_machine
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine

from services.mailer.campaign_types import Recipient
from services.mailer.recipient_links import Links
from services.subscriptions.links import sign_export
from shared.schema import custom_fields, mailing_lists, subscriptions
from shared.settings import Settings
from shared.tokens import Purpose, TokenSigner
from tests.subscriptions.conftest import all_subscriptions, confirm_token, queued_mails
from tests.subscriptions.residents import (
    audit_rows,
    consent_rows,
    sign_up,
    subscriber_rows,
)


def form(**changes: Any) -> dict[str, Any]:
    """A preference form as a browser sends it: Kultur ticked, Danish, no name."""
    values: dict[str, Any] = {"lists": ["kultur"], "language": "da", "name": "", "municipality": ""}
    values.update(changes)
    return values


async def test_the_confirmation_mail_links_to_a_page_with_every_choice(
    client: httpx.AsyncClient, redis: Redis, lists: dict[str, int]
) -> None:
    resident = await sign_up(client, redis, name="Maja Ørsted", lists=["kultur", "musik"])

    response = await client.get(f"/preferences/{resident.preferences}")

    assert response.status_code == 200
    page = response.text
    assert '<html lang="da">' in page
    assert 'value="Maja Ørsted"' in page
    assert re.search(r'value="kultur" id="lists-\d" checked', page)
    assert re.search(r'value="musik" id="lists-\d" checked', page)
    assert 'value="born" id="lists">' in page  # first in slug order, not ticked
    assert "Internt" not in page  # private lists the resident is not on stay hidden
    assert '<optgroup label="Danmark">' in page and '<optgroup label="Skåne">' in page
    assert '<option value="se-malmo">Malmö</option>' in page
    assert 'action="/preferences/' in page and "<script" not in page
    assert response.headers["referrer-policy"] == "same-origin"
    assert response.headers["cache-control"] == "no-store"


async def test_campaign_footer_links_from_the_mailer_open_the_page(
    client: httpx.AsyncClient,
    redis: Redis,
    engine: AsyncEngine,
    lists: dict[str, int],
    settings: Settings,
) -> None:
    await sign_up(client, redis)
    [row] = await subscriber_rows(engine)
    links = Links(settings.subscriptions_public_url, TokenSigner(settings.secret_keys))
    recipient = Recipient(
        delivery_id=1,
        subscriber_id=row["id"],
        key=row["key"],
        email=row["email"],
        name=None,
        language="da",
        message_id="<m@kultur.test>",
    )

    url = links.preferences(recipient)

    response = await client.get(url.removeprefix(settings.subscriptions_public_url))
    assert response.status_code == 200
    assert "Dine indstillinger for nyhedsbreve" in response.text


async def test_saving_changes_attributes_and_lists_with_consent_records(
    client: httpx.AsyncClient, redis: Redis, engine: AsyncEngine, lists: dict[str, int]
) -> None:
    resident = await sign_up(client, redis, lists=["kultur"])

    response = await client.post(
        f"/preferences/{resident.preferences}",
        data=form(lists=["musik"], language="sv", name="Åsa", municipality="se-malmo"),
    )

    assert response.status_code == 303
    assert response.headers["location"] == (
        f"/preferences/{resident.preferences}?lang=sv&saved=1&sent=1"
    )
    [subscriber] = await subscriber_rows(engine)
    assert (subscriber["name"], subscriber["language"], subscriber["municipality"]) == (
        "Åsa",
        "sv",
        "se-malmo",
    )
    rows = await all_subscriptions(engine)
    assert rows[lists["kultur"]]["status"] == "unsubscribed"
    assert rows[lists["musik"]]["status"] == "pending"
    # The newly ticked list needs double opt-in: one confirmation mail, in the new language.
    [mail] = await queued_mails(redis)
    assert mail.category == "confirm" and "Bekräfta" in mail.subject
    assert "Musik och konserter" in mail.text
    confirmed = await client.post(f"/confirm/{confirm_token(mail)}")
    assert confirmed.status_code == 200
    assert (await all_subscriptions(engine))[lists["musik"]]["status"] == "confirmed"

    events = [(e["list_id"], e["event"], e["form"]) for e in await consent_rows(engine)]
    assert events[-3:] == [
        (lists["kultur"], "withdrawn", "preferences"),
        (lists["musik"], "requested", "preferences"),
        (lists["musik"], "confirmed", "preferences"),
    ]
    [entry] = [e for e in await audit_rows(engine) if e["action"] == "preferences_changed"]
    assert entry["actor"] == "resident"
    assert entry["details"] == {
        "fields": ["name", "language", "municipality"],
        "added": ["musik"],
        "removed": ["kultur"],
    }
    assert resident.email not in str(entry) and "Åsa" not in str(entry)

    page = await client.get(response.headers["location"])
    assert "Dina ändringar har sparats." in page.text
    assert 'role="status"' in page.text


async def test_a_list_without_double_opt_in_is_joined_at_once(
    client: httpx.AsyncClient, redis: Redis, engine: AsyncEngine, lists: dict[str, int]
) -> None:
    async with engine.begin() as conn:
        await conn.execute(
            sa.update(mailing_lists)
            .where(mailing_lists.c.slug == "born")
            .values(double_optin=False)
        )
    resident = await sign_up(client, redis)

    response = await client.post(
        f"/preferences/{resident.preferences}", data=form(lists=["kultur", "born"])
    )

    assert response.status_code == 303
    assert "sent=1" not in response.headers["location"]
    assert (await all_subscriptions(engine))[lists["born"]]["status"] == "confirmed"
    assert await queued_mails(redis) == []


async def test_joining_a_single_opt_in_list_here_sends_its_welcome_in_the_new_language(
    client: httpx.AsyncClient, redis: Redis, engine: AsyncEngine, lists: dict[str, int]
) -> None:
    async with engine.begin() as conn:
        await conn.execute(
            sa.update(mailing_lists)
            .where(mailing_lists.c.slug == "born")
            .values(
                double_optin=False,
                welcome_subject_sv="Välkommen till {{ list.name }}",
                welcome_body_sv="Hej {{ subscriber.name }}!",
            )
        )
    resident = await sign_up(client, redis)

    response = await client.post(
        f"/preferences/{resident.preferences}",
        data=form(lists=["kultur", "born"], language="sv", name="Maja"),
    )

    assert response.status_code == 303
    [welcome] = await queued_mails(redis)
    assert welcome.category == "welcome" and welcome.to == resident.email
    assert welcome.subject == "Välkommen till Barn och unga"
    assert welcome.text == "Hej Maja!"
    confirmed = [e for e in await consent_rows(engine) if e["event"] == "confirmed"]
    assert {(e["list_id"], e["form"]) for e in confirmed} == {
        (lists["kultur"], "api"),
        (lists["born"], "preferences"),
    }


async def test_private_lists_the_resident_is_on_are_shown_and_can_be_left(
    client: httpx.AsyncClient, redis: Redis, engine: AsyncEngine, lists: dict[str, int]
) -> None:
    resident = await sign_up(client, redis)
    [subscriber] = await subscriber_rows(engine)
    async with engine.begin() as conn:
        await conn.execute(
            sa.insert(subscriptions).values(
                subscriber_id=subscriber["id"],
                list_id=lists["intern"],
                status="confirmed",
                requested_at=datetime.now(UTC),
                confirmed_at=datetime.now(UTC),
            )
        )
    page = await client.get(f"/preferences/{resident.preferences}")
    assert "Internt" in page.text

    response = await client.post(f"/preferences/{resident.preferences}", data=form())

    assert response.status_code == 303
    assert (await all_subscriptions(engine))[lists["intern"]]["status"] == "unsubscribed"
    page = await client.get(f"/preferences/{resident.preferences}")
    assert "Internt" not in page.text


async def test_a_refused_form_shows_linked_reasons_and_stores_nothing(
    client: httpx.AsyncClient, redis: Redis, engine: AsyncEngine, lists: dict[str, int]
) -> None:
    resident = await sign_up(client, redis, name="Maja")
    before = await subscriber_rows(engine)

    response = await client.post(
        f"/preferences/{resident.preferences}?lang=en",
        data=form(
            lists=["musik", "intern"],
            language="de",
            name="Maja\x00",
            municipality="dk-atlantis",
        ),
    )

    assert response.status_code == 422
    page = response.text
    assert '<a href="#name">The name contains characters we cannot store.</a>' in page
    assert '<a href="#municipality">Choose a municipality from the list.</a>' in page
    assert '<a href="#language">Choose Danish, Swedish or English.</a>' in page
    assert '<a href="#lists">' in page
    assert 'aria-describedby="municipality-error"' in page
    assert await subscriber_rows(engine) == before
    assert (await all_subscriptions(engine))[lists["kultur"]]["status"] == "confirmed"
    assert lists["musik"] not in await all_subscriptions(engine)
    assert await queued_mails(redis) == []


async def test_unsubscribe_from_everything_records_withdrawals(
    client: httpx.AsyncClient, redis: Redis, engine: AsyncEngine, lists: dict[str, int]
) -> None:
    resident = await sign_up(client, redis, lists=["kultur", "born"])

    response = await client.post(f"/preferences/{resident.preferences}/unsubscribe")

    assert response.status_code == 200
    assert "Du er afmeldt" in response.text
    statuses = {row["status"] for row in (await all_subscriptions(engine)).values()}
    assert statuses == {"unsubscribed"}
    withdrawn = [e for e in await consent_rows(engine) if e["event"] == "withdrawn"]
    assert sorted(e["list_id"] for e in withdrawn) == sorted([lists["kultur"], lists["born"]])
    [entry] = [e for e in await audit_rows(engine) if e["action"] == "unsubscribed"]
    assert entry["details"] == {"via": "preferences", "lists": 2}


@pytest.mark.parametrize(
    ("headers", "allowed"),
    [
        ({"Origin": "https://evil.example"}, False),
        ({"Origin": "null"}, False),
        ({"Referer": "https://evil.example/page"}, False),
        ({"Origin": "http://subscriptions.test"}, True),
        ({}, True),  # no browser header at all: the token alone is the capability
    ],
)
async def test_posts_from_other_sites_are_refused(
    client: httpx.AsyncClient,
    redis: Redis,
    engine: AsyncEngine,
    lists: dict[str, int],
    headers: dict[str, str],
    allowed: bool,
) -> None:
    resident = await sign_up(client, redis)

    for path in ("", "/unsubscribe", "/export", "/erase"):
        if path == "/erase" and allowed:
            continue
        response = await client.post(
            f"/preferences/{resident.preferences}{path}", data=form(), headers=headers
        )
        assert (response.status_code == 403) is not allowed, (path, response.status_code)
    same_origin = {"Origin": str(client.base_url).rstrip("/")}
    response = await client.post(
        f"/preferences/{resident.preferences}", data=form(name="X"), headers=same_origin
    )
    assert response.status_code == 303
    assert len(await subscriber_rows(engine)) == 1


async def test_bad_tokens_get_the_readable_400_page(
    client: httpx.AsyncClient, redis: Redis, lists: dict[str, int]
) -> None:
    resident = await sign_up(client, redis, confirm=False)

    for token in ("garbage", resident.confirm, resident.preferences[:-3] + "abc"):
        response = await client.get(f"/preferences/{token}", headers={"Accept-Language": "sv"})
        assert response.status_code == 400
        assert "Den här länken till dina inställningar fungerar inte" in response.text
        posted = await client.post(f"/preferences/{token}", data=form())
        assert posted.status_code == 400


async def test_the_form_needs_form_encoding(
    client: httpx.AsyncClient, redis: Redis, lists: dict[str, int]
) -> None:
    resident = await sign_up(client, redis)

    response = await client.post(f"/preferences/{resident.preferences}", json=form())

    assert response.status_code == 415


async def test_public_custom_fields_are_shown_checked_and_stored(
    client: httpx.AsyncClient, redis: Redis, engine: AsyncEngine, lists: dict[str, int]
) -> None:
    now = datetime.now(UTC)
    common = {"choices": [], "required": False, "max_length": None}
    common_times = {"created_at": now, "updated_at": now}
    async with engine.begin() as conn:
        for key, kind, public in (
            ("postnummer", "number", True),
            ("nyheder_om_born", "boolean", True),
            ("intern_note", "text", False),
        ):
            await conn.execute(
                sa.insert(custom_fields).values(
                    key=key,
                    label_da=f"{key} (da)",
                    label_sv=f"{key} (sv)",
                    label_en=f"{key} (en)",
                    type=kind,
                    public=public,
                    **common,
                    **common_times,
                )
            )
    resident = await sign_up(client, redis)

    page = await client.get(f"/preferences/{resident.preferences}")
    assert 'for="field-postnummer">postnummer (da)' in page.text
    assert "intern_note" not in page.text

    refused = await client.post(
        f"/preferences/{resident.preferences}", data=form(field_postnummer="tolv")
    )
    assert refused.status_code == 422
    assert '<a href="#field-postnummer">' in refused.text
    assert 'value="tolv"' in refused.text

    saved = await client.post(
        f"/preferences/{resident.preferences}",
        data=form(field_postnummer="2100", field_nyheder_om_born="true"),
    )
    assert saved.status_code == 303
    [subscriber] = await subscriber_rows(engine)
    assert subscriber["custom_values"] == {"postnummer": 2100, "nyheder_om_born": True}


async def test_preference_tokens_never_expire(
    client: httpx.AsyncClient, redis: Redis, lists: dict[str, int], settings: Settings
) -> None:
    resident = await sign_up(client, redis)
    with time_machine.travel(datetime.now(UTC).replace(year=datetime.now(UTC).year + 3)):
        response = await client.get(f"/preferences/{resident.preferences}")
    assert response.status_code == 200
    signer = TokenSigner(settings.secret_keys)
    assert signer.verify(Purpose.PREFERENCES, resident.preferences)[0]


MALFORMED_ORIGINS = [
    {"Origin": "http://[::1"},
    {"Referer": "http://["},
    {"Origin": "http://subscriptions.test:99999"},
    {"Referer": "http://subscriptions.test:port/preferences"},
    {"Origin": "subscriptions.test"},
]


# The header is refused before the token is read or the database asked: one engine is enough.
@pytest.mark.one_database
@pytest.mark.parametrize("headers", MALFORMED_ORIGINS, ids=repr)
async def test_malformed_origins_are_refused_with_a_reason_before_the_token(
    client: httpx.AsyncClient,
    redis: Redis,
    engine: AsyncEngine,
    lists: dict[str, int],
    signer: TokenSigner,
    headers: dict[str, str],
) -> None:
    resident = await sign_up(client, redis)
    [subscriber] = await subscriber_rows(engine)
    export = sign_export(signer, subscriber["key"])
    paths = [
        f"/preferences/{resident.preferences}",
        f"/preferences/{resident.preferences}/unsubscribe",
        f"/preferences/{resident.preferences}/export",
        f"/preferences/{resident.preferences}/erase",
        f"/export/{export}",
        "/preferences/not-a-token/erase",  # refused before the token is even read
    ]

    for path in paths:
        response = await client.post(path, data=form(name="X"), headers=headers)
        assert response.status_code == 403, (path, response.status_code)
        assert response.headers["content-type"].startswith("text/html")
        assert "Formularen blev sendt fra et andet websted" in response.text
        assert "kun foretages på vores egne sider" in response.text

    [after] = await subscriber_rows(engine)
    assert after["name"] is None
    rows = await all_subscriptions(engine)
    assert rows[lists["kultur"]]["status"] == "confirmed"
    assert await queued_mails(redis) == []


@pytest.mark.parametrize(
    ("language", "heading", "reason"),
    [
        ("da", "Formularen blev sendt fra et andet websted", "Åbn linket i vores mail igen"),
        ("sv", "Formuläret skickades från en annan webbplats", "Öppna länken i vårt mejl igen"),
        ("en", "This form was sent from another website", "Open the link in our email again"),
    ],
)
async def test_a_refused_cross_site_post_explains_itself_in_the_residents_language(
    client: httpx.AsyncClient,
    redis: Redis,
    lists: dict[str, int],
    language: str,
    heading: str,
    reason: str,
) -> None:
    resident = await sign_up(client, redis)

    response = await client.post(
        f"/preferences/{resident.preferences}/unsubscribe",
        headers={"Origin": "https://evil.example", "Accept-Language": language},
    )

    assert response.status_code == 403
    assert f'<html lang="{language}">' in response.text
    assert f"<h1>{heading}</h1>" in response.text
    assert reason in response.text


async def test_a_resident_can_say_they_live_elsewhere_or_abroad(
    client: httpx.AsyncClient, redis: Redis, engine: AsyncEngine, lists: dict[str, int]
) -> None:
    resident = await sign_up(client, redis, lists=["kultur"])
    page = (await client.get(f"/preferences/{resident.preferences}?lang=sv")).text

    saved = await client.post(
        f"/preferences/{resident.preferences}", data=form(municipality="se-elsewhere")
    )
    shown = (await client.get(f"/preferences/{resident.preferences}")).text
    abroad = await client.post(
        f"/preferences/{resident.preferences}", data=form(municipality="abroad")
    )

    assert '<optgroup label="Andra platser">' in page
    assert '<option value="abroad">Utomlands</option>' in page
    assert saved.status_code == 303 and abroad.status_code == 303
    assert '<option value="se-elsewhere" selected>Andetsteds i Sverige</option>' in shown
    [subscriber] = await subscriber_rows(engine)
    assert subscriber["municipality"] == "abroad"
