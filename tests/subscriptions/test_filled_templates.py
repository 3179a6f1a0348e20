"""Templates rendered once and filled in per request are exactly what a full rendering gives."""

from __future__ import annotations

import pytest

from services.subscriptions.i18n import load_translations
from services.subscriptions.links import confirm_url
from services.subscriptions.outbox import render_confirmation
from services.subscriptions.pages import Renderer
from shared.languages import LANGUAGES
from shared.settings import Settings

# Values with every character HTML escapes, and text that looks like a mark.
NAMES = (None, "Maja", 'Åse "Ø" <b>&amp;</b> 100%(name)s')
LIST_NAMES = (("Kultur",), ("Sport & fritid", "Børn <og> unge"))
TOKENS = ("tok.en-1", "other<&>'\"token")


@pytest.fixture(scope="module")
def renderer() -> Renderer:
    return Renderer(load_translations())


# A public address with a query separator: escaped in HTML, kept as it is in text.
SETTINGS = Settings(subscriptions_public_url="https://tilmeld.example.dk/a?b=1&c=2")


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("list_names", LIST_NAMES)
@pytest.mark.parametrize("preferences", (None, "https://x.example/p?t=1&u=<2>"))
def test_the_confirmation_mail_is_the_full_rendering(
    renderer: Renderer,
    language: str,
    name: str | None,
    list_names: tuple[str, ...],
    preferences: str | None,
) -> None:
    settings = SETTINGS
    for token in TOKENS:  # the second fills what the first rendered
        mail = render_confirmation(
            renderer,
            settings,
            to="maja@example.dk",
            subscriber_key="k" * 32,
            name=name,
            language=language,
            token=token,
            list_names=list_names,
            preferences_url=preferences,
        )
        context = {
            "name": name,
            "list_names": list(list_names),
            "confirm_url": confirm_url(settings, token),
            "max_age_days": max(1, settings.confirm_token_max_age // 86400),
            "preferences_url": preferences,
        }
        assert mail.text == renderer.render("mail/confirm.txt", language, **context)
        assert mail.html == renderer.render("mail/confirm.html", language, **context)
        subject = renderer.render("mail/confirm_subject.txt", language, **context)
        assert mail.subject == " ".join(subject.split())
        assert token in mail.text
        assert "\x00" not in (mail.html or "") + mail.text


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("template", ("unsubscribe.html", "unsubscribed.html"))
@pytest.mark.parametrize("lists", ((), ("Kultur",), ("Sport & fritid", "Børn <og> unge")))
@pytest.mark.parametrize("preferences_token", (None, "pref.token<&>"))
def test_the_unsubscribe_pages_are_the_full_rendering(
    renderer: Renderer,
    language: str,
    template: str,
    lists: tuple[str, ...],
    preferences_token: str | None,
) -> None:
    for token in TOKENS:
        path = f"/unsubscribe/{token}"
        filled = renderer.page(
            template,
            language,
            path=path,
            slots={"token": token, "preferences_token": preferences_token},
            lists=lists,
        )
        full = renderer.page(
            template,
            language,
            path=path,
            token=token,
            lists=list(lists),
            preferences_token=preferences_token,
        )
        assert filled.content == full.content
        assert filled.headers == full.headers
        assert str(filled.content).count("\x00") == 0


def test_text_that_looks_like_a_mark_is_put_in_as_it_is(renderer: Renderer) -> None:
    """Neither a value nor a list name can forge a mark: it holds a secret of the renderer's."""
    forged = "\x00token\x00 and \x00:preferences_token\x00"
    page = renderer.render_filled(
        "unsubscribed.html",
        "da",
        {"token": forged, "preferences_token": "p", "path": "/x"},
        constants={"languages": {"da": "Dansk"}},
        lists=(forged,),
    )
    full = renderer.render(
        "unsubscribed.html",
        "da",
        token=forged,
        preferences_token="p",
        path="/x",
        languages={"da": "Dansk"},
        lists=[forged],
    )
    assert page == full
