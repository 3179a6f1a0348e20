"""Forged and stale links: every route of the residents' service that takes a token refuses a
tampered, truncated, expired, foreign-purpose or unknown-key token with a 400 page in the
resident's language and changes nothing; a token signed with a retired key works while the key
is listed and is refused once it is not.

The routes are read from the app's route table, so a new route taking a token is attacked too.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from itertools import cycle
from pathlib import Path
from typing import Any

import httpx
import time_machine
from babel.support import Translations
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine

import services.subscriptions
from services.subscriptions.app import create_app
from shared import links
from shared.settings import Secret, Settings
from shared.tokens import Purpose, TokenSigner
from tests.subscriptions.conftest import all_subscribers, all_subscriptions, subscribe_json

RETIRED = Secret("a-retired-key-still-listed-for-old-links")
UNKNOWN = Secret("a-key-this-installation-never-had")
LOCALES = Path(services.subscriptions.__file__).parent / "locales"
LANGUAGES = ("da", "sv", "en")
# What the pages' forms send (an empty form: the token alone must be refused).
FORM = {"content-type": "application/x-www-form-urlencoded"}

# The heading of the refusal page per purpose (link_error.html), in English.
HEADINGS = {
    (Purpose.CONFIRM, "invalid"): "This confirmation link does not work",
    (Purpose.CONFIRM, "expired"): "This confirmation link has expired",
    (Purpose.UNSUBSCRIBE, "invalid"): "This unsubscribe link does not work",
    (Purpose.PREFERENCES, "invalid"): "This link to your preferences does not work",
    (Purpose.EXPORT, "invalid"): "This download link does not work",
    (Purpose.EXPORT, "expired"): "This download link has expired",
    (Purpose.GUARDIAN, "invalid"): "This confirmation link does not work",
    (Purpose.GUARDIAN, "expired"): "This confirmation link has expired",
    (Purpose.AGE_REVIEW, "invalid"): "This confirmation link does not work",
}
PURPOSE_OF_PREFIX = {
    "confirm": Purpose.CONFIRM,
    "unsubscribe": Purpose.UNSUBSCRIBE,
    "preferences": Purpose.PREFERENCES,
    "export": Purpose.EXPORT,
    "guardian": Purpose.GUARDIAN,
    "age-review": Purpose.AGE_REVIEW,
}


# Tracked links and "view in the browser" answer a forged token with a 404 page, as an
# unknown link (tests/test_link_tracking.py, tests/subscriptions/test_archive.py).
NOT_FOUND_PREFIXES = {"l", "o", "v"}


def token_routes(app: Any) -> Iterator[tuple[str, str, Purpose]]:
    """(method, path template, purpose) of every route that takes a token and answers a bad
    one with the refusal page."""
    for route in app.routes:
        if "{token:str}" not in route.path:
            continue
        prefix = route.path.strip("/").split("/")[0]
        if prefix in NOT_FOUND_PREFIXES:
            continue
        purpose = PURPOSE_OF_PREFIX[prefix]
        for method in sorted(set(getattr(route, "methods", ())) & {"GET", "POST"}):
            yield method, route.path, purpose


def signed(keys: list[Secret], purpose: Purpose, key: str, list_id: int) -> str:
    """A token of ``purpose`` with the payload that purpose's links carry."""
    signer = TokenSigner(keys)
    sign: dict[Purpose, Callable[[], str]] = {
        Purpose.CONFIRM: lambda: links.sign_confirm(signer, key, [list_id]),
        Purpose.UNSUBSCRIBE: lambda: links.sign_unsubscribe(signer, key, 1, [list_id]),
        Purpose.PREFERENCES: lambda: links.sign_preferences(signer, key),
        Purpose.EXPORT: lambda: links.sign_export(signer, key),
        Purpose.GUARDIAN: lambda: links.sign_guardian(signer, key, [list_id]),
        Purpose.AGE_REVIEW: lambda: links.sign_age_review(signer, key),
    }
    return sign[purpose]()


def heading(purpose: Purpose, reason: str, lang: str) -> str:
    """The refusal page's heading as a resident reading ``lang`` sees it."""
    text = HEADINGS[(purpose, reason)]
    return str(Translations.load(str(LOCALES), [lang]).gettext(text))


async def test_forged_and_stale_tokens_are_refused_on_every_route_in_the_residents_language(
    settings: Settings,
    live_server: Any,
    redis: Redis,
    engine: AsyncEngine,
    lists: dict[str, int],
) -> None:
    current = settings.secret_keys[-1]
    rotated = replace(settings, secret_keys=(RETIRED, current))
    app = create_app(rotated)
    routes = list(token_routes(app))
    languages = cycle(LANGUAGES)
    refusals = 0
    async with live_server(app) as server, httpx.AsyncClient(base_url=server.url) as client:
        assert (await subscribe_json(client, lists=["kultur"])).status_code == 202
        [subscriber] = await all_subscribers(engine)
        key, list_id = subscriber["key"], lists["kultur"]
        long_ago = datetime.now(UTC) - timedelta(days=30)
        with time_machine.travel(long_ago, tick=False):
            old = {p: signed([current], p, key, list_id) for p in Purpose if p in HEADINGS_OF}

        for method, path, purpose in routes:
            good = signed([current], purpose, key, list_id)
            other = next(p for p in HEADINGS_OF if p is not purpose)
            # A donor whose payload differs (a guardian's link carries what a confirm link does).
            donor = next(
                token
                for p in HEADINGS_OF
                if (token := signed([current], p, key, list_id)).split(".")[0] != good.split(".")[0]
            )
            attacks = {
                "tampered": good[:-4] + ("AAAA" if not good.endswith("AAAA") else "BBBB"),
                "payload changed": _swap_payload(good, donor),
                "truncated": good[: len(good) // 2],
                "one character short": good[:-1],
                "other purpose": signed([current], other, key, list_id),
                "unknown key": signed([UNKNOWN], purpose, key, list_id),
            }
            if purpose in (Purpose.CONFIRM, Purpose.EXPORT, Purpose.GUARDIAN):
                attacks["expired"] = old[purpose]
            for attack, token in attacks.items():
                lang = next(languages)
                response = await client.request(
                    method,
                    path.replace("{token:str}", token),
                    headers={"accept-language": lang, **FORM},
                )
                reason = "expired" if attack == "expired" else "invalid"
                where = f"{method} {path} {attack} ({lang})"
                assert response.status_code == 400, (where, response.status_code)
                assert response.headers["content-type"].startswith("text/html"), where
                assert f'<html lang="{lang}">' in response.text, where
                assert heading(purpose, reason, lang) in response.text, where
                refusals += 1

            # A key that is still listed verifies links it signed before it was retired.
            if method == "GET":
                retired = signed([RETIRED], purpose, key, list_id)
                response = await client.get(path.replace("{token:str}", retired))
                # 410 from the youth pages: the link verified, but the resident signed up here
                # is an adult, so there is nothing for a guardian or an age review to confirm.
                verified = (
                    (200, 410) if purpose in (Purpose.GUARDIAN, Purpose.AGE_REVIEW) else (200,)
                )
                assert response.status_code in verified, (path, response.status_code)

    # Once the key is no longer listed, the same links are refused.
    async with (
        live_server(create_app(replace(settings, secret_keys=(current,)))) as server,
        httpx.AsyncClient(base_url=server.url) as client,
    ):
        for method, path, purpose in routes:
            retired = signed([RETIRED], purpose, key, list_id)
            response = await client.request(
                method,
                path.replace("{token:str}", retired),
                headers={"accept-language": "sv", **FORM},
            )
            assert response.status_code == 400, (method, path, response.status_code)
            assert heading(purpose, "invalid", "sv") in response.text, (method, path)

    # Every route and purpose was attacked, in every language, and nothing changed.
    assert {purpose for _, _, purpose in routes} == set(HEADINGS_OF)
    assert {method for method, _, _ in routes} == {"GET", "POST"}
    assert refusals >= 6 * len(routes)
    assert {row["status"] for row in (await all_subscriptions(engine)).values()} == {"pending"}
    assert len(await all_subscribers(engine)) == 1


HEADINGS_OF = tuple(dict.fromkeys(purpose for purpose, _ in HEADINGS))


def _swap_payload(token: str, donor: str) -> str:
    """``token``'s timestamp and signature over another token's payload."""
    return donor.split(".", maxsplit=1)[0] + "." + ".".join(token.split(".")[1:])
