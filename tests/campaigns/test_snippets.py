"""Embed snippets: URLs from settings, labels, honeypot, escaping."""

from __future__ import annotations

import dataclasses
from html.parser import HTMLParser
from typing import Any

import httpx

from services.campaigns.app import create_app
from shared.settings import Settings
from tests.campaigns.conftest import Api
from tests.campaigns.test_sites import new_site


class Form(HTMLParser):
    """The elements of a form snippet with their attributes, and label texts by ``for``."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict[str, str]]] = []
        self.labels: dict[str, str] = {}
        self.options: list[tuple[str, str]] = []
        self._label: str | None = None
        self._option: str | None = None
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {name: value or "" for name, value in attrs}
        self.elements.append((tag, attributes))
        if tag == "label":
            self._label = attributes["for"]
            self.labels[self._label] = ""
        if tag == "option":
            self._option = attributes["value"]

    def handle_endtag(self, tag: str) -> None:
        if tag == "label":
            self._label = None
        if tag == "option":
            self._option = None

    def handle_data(self, data: str) -> None:
        if self._label is not None:
            self.labels[self._label] += data
        if self._option is not None:
            self.options.append((self._option, data))

    def inputs(self, name: str) -> list[dict[str, str]]:
        return [a for tag, a in self.elements if tag in ("input", "select") and a["name"] == name]

    def one(self, name: str) -> dict[str, str]:
        (found,) = self.inputs(name)
        return found


async def snippets(api: Api, key: str) -> dict[str, str]:
    response = await api.get(f"/api/sites/{key}/snippets", role="viewer")
    assert response.status_code == 200, response.text
    body: dict[str, str] = response.json()
    assert set(body) == {"html_form", "script", "iframe"}
    return body


async def test_form_posts_to_subscriptions_with_labelled_fields(api: Api) -> None:
    html = (await snippets(api, "demo-site"))["html_form"]
    form = Form(html)
    tag, attributes = form.elements[0]
    assert tag == "form"
    assert attributes["method"] == "post"
    assert attributes["action"] == "http://subscriptions.test/subscribe"
    assert attributes["lang"] == "da"
    assert form.one("site") == {"type": "hidden", "name": "site", "value": "demo-site"}
    email = form.one("email")
    assert email["type"] == "email" and "required" in email
    assert form.labels[email["id"]] == "E-mailadresse"
    assert form.labels[form.one("name")["id"]] == "Navn (valgfrit)"
    language = form.one("language")
    assert form.labels[language["id"]] == "Sprog"
    assert form.options == [("da", "Dansk"), ("sv", "Svenska"), ("en", "English")]
    assert 'value="da" selected' in html
    (kultur,) = form.inputs("lists")
    assert kultur["type"] == "checkbox" and kultur["value"] == "kultur"
    assert "checked" in kultur  # the only list offered
    assert form.labels[kultur["id"]] == "Kultur"
    consent = form.one("consent")
    assert consent["type"] == "checkbox" and consent["value"] == "true"
    assert "required" in consent and "checked" not in consent  # consent is never pre-ticked
    assert form.labels[consent["id"]].startswith("Ja tak")
    # Every visible control has its own label; ids are unique on the page.
    ids = [a["id"] for tag, a in form.elements if tag in ("input", "select") and "id" in a]
    assert len(ids) == len(set(ids)) and all(i in form.labels for i in ids)
    assert "<script" not in html.lower() and 'style="display:none' not in html


async def test_form_has_a_honeypot_hidden_from_people(api: Api) -> None:
    html = (await snippets(api, "demo-site"))["html_form"]
    form = Form(html)
    honeypot = form.one("website")
    assert honeypot["type"] == "text" and honeypot["value"] == ""
    assert honeypot["tabindex"] == "-1" and honeypot["autocomplete"] == "off"
    assert "required" not in honeypot
    # Its wrapper is out of sight and out of the accessibility tree, but not display:none,
    # which simple bots detect.
    index = form.elements.index(("input", honeypot))
    wrapper = next(a for tag, a in reversed(form.elements[:index]) if tag == "div")
    assert wrapper["aria-hidden"] == "true"
    assert "position:absolute" in wrapper["style"] and "left:-10000px" in wrapper["style"]
    assert form.labels[honeypot["id"]] == "Lad dette felt stå tomt"


async def test_script_and_iframe(api: Api) -> None:
    body = await snippets(api, "demo-site")
    assert body["script"] == (
        '<div data-brevdue-signup></div><script src="http://subscriptions.test/widget.js" '
        'data-site="demo-site" async></script>'
    )
    assert body["iframe"] == (
        '<iframe src="http://subscriptions.test/embed/demo-site" '
        'title="Tilmelding til nyhedsbrev: Demo: Kulturhuset Øresund" loading="lazy" '
        'style="border:0;width:100%;min-height:420px"></iframe>'
    )


async def test_swedish_site_with_several_lists(api: Api) -> None:
    await new_site(api, default_lists=["idraet", "kultur"])
    body = await snippets(api, "malmo-bibliotek")
    form = Form(body["html_form"])
    assert form.elements[0][1]["lang"] == "sv"
    assert 'value="sv" selected' in body["html_form"]
    boxes = form.inputs("lists")
    assert [box["value"] for box in boxes] == ["idraet", "kultur"]  # the site's order
    assert [form.labels[box["id"]] for box in boxes] == ["Idrott och motion", "Kultur"]
    assert not any("checked" in box for box in boxes)  # residents choose
    assert form.labels[form.one("email")["id"]] == "E-postadress"
    assert "Anmälan till nyhetsbrev: Malmö stadsbibliotek" in body["iframe"]


async def test_site_without_default_lists_offers_every_public_list(api: Api) -> None:
    hidden = {"slug": "intern", "names": {"da": "I", "sv": "I", "en": "I"}, "is_public": False}
    assert (await api.post("/api/lists", role="admin", json=hidden)).status_code == 201
    await new_site(api, default_lists=[], default_language="en")
    form = Form((await snippets(api, "malmo-bibliotek"))["html_form"])
    offered = {box["value"]: form.labels[box["id"]] for box in form.inputs("lists")}
    assert offered == {
        "boern-unge": "Children and young people",
        "idraet": "Sport and exercise",
        "kultur": "Culture",
    }


async def test_list_made_private_leaves_the_form(api: Api) -> None:
    await new_site(api, default_lists=["idraet", "kultur"])
    made_private = await api.patch("/api/lists/idraet", role="admin", json={"is_public": False})
    assert made_private.status_code == 200
    form = Form((await snippets(api, "malmo-bibliotek"))["html_form"])
    assert [box["value"] for box in form.inputs("lists")] == ["kultur"]


async def test_names_are_escaped(api: Api) -> None:
    evil = 'Rock & "Rul" <script>alert(1)</script>'
    created = await api.post(
        "/api/lists",
        role="admin",
        json={"slug": "rock", "names": {"da": evil, "sv": evil, "en": evil}},
    )
    assert created.status_code == 201
    await new_site(
        api, name='Kids\' <b>"Club"</b> & Co', default_lists=["rock"], default_language="en"
    )
    body = await snippets(api, "malmo-bibliotek")
    assert "<script>alert" not in body["html_form"]
    assert "Rock &amp; &#34;Rul&#34; &lt;script&gt;alert(1)&lt;/script&gt;" in body["html_form"]
    form = Form(body["html_form"])
    assert form.labels[form.inputs("lists")[0]["id"]] == evil  # the browser shows it as typed
    assert "<b>" not in body["iframe"]
    assert (
        'title="Newsletter sign-up: Kids&#39; &lt;b&gt;&#34;Club&#34;&lt;/b&gt; &amp; Co"'
        in body["iframe"]
    )


async def test_urls_come_from_settings_and_are_escaped(
    settings: Settings, live_server: Any, api: Api
) -> None:
    odd = dataclasses.replace(settings, subscriptions_public_url='https://x.test/a&b"c/')
    async with (
        live_server(create_app(odd)) as server,
        httpx.AsyncClient(base_url=server.url) as client,
    ):
        response = await client.get("/api/sites/demo-site/snippets", headers=api.headers("viewer"))
    body = response.json()
    assert 'action="https://x.test/a&amp;b&#34;c/subscribe"' in body["html_form"]
    assert 'src="https://x.test/a&amp;b&#34;c/widget.js"' in body["script"]
    assert 'src="https://x.test/a&amp;b&#34;c/embed/demo-site"' in body["iframe"]
