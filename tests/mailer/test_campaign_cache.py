"""Compiling a campaign once per process: templates, skeleton, List-Id and the LRU cache."""

from __future__ import annotations

import dataclasses

import pytest

from services.mailer.campaign_cache import CampaignCache, compile_campaign, list_id_for
from services.mailer.campaign_types import CampaignSource
from shared.campaign_templates import CampaignTemplateError

MAIL_FROM = "Kultur <nyhedsbrev@kultur.test>"
SOURCE = CampaignSource(
    id=5,
    subject="Hej {{ subscriber.name }}",
    body="<p>{{ campaign.subject }}</p>",
    body_text=None,
    from_address=None,
    list_slugs=("musik", "born"),
    updated_at=1,
    list_ids=(2, 3),
)


def test_list_id_is_stable_and_safe() -> None:
    assert list_id_for(("musik", "born"), "kultur.test") == "<born.musik.lists.kultur.test>"
    assert list_id_for(("b;rn x",), "kultur.test") == "<b-rn-x.lists.kultur.test>"
    assert list_id_for((), "kultur.test") == "<news.lists.kultur.test>"


def test_compile_uses_the_campaigns_own_sender_or_the_default() -> None:
    compiled = compile_campaign(SOURCE, MAIL_FROM)
    assert compiled.envelope_from == "nyhedsbrev@kultur.test"
    assert compiled.list_ids == (2, 3)
    assert compiled.body_text is None  # derived per recipient from the rendered HTML
    own = compile_campaign(
        dataclasses.replace(SOURCE, from_address="Musik <musik@lyd.test>"), MAIL_FROM
    )
    assert own.envelope_from == "musik@lyd.test"


def test_a_written_text_version_is_compiled() -> None:
    compiled = compile_campaign(dataclasses.replace(SOURCE, body_text="Hej"), MAIL_FROM)
    assert compiled.body_text is not None
    assert compiled.body_text.render() == "Hej"


def test_a_template_that_does_not_compile_names_its_field() -> None:
    with pytest.raises(CampaignTemplateError) as raised:
        compile_campaign(dataclasses.replace(SOURCE, body="{% if %}"), MAIL_FROM)
    assert raised.value.field == "body"


def test_cache_compiles_once_per_version() -> None:
    cache = CampaignCache(MAIL_FROM)
    first = cache.get(SOURCE)
    assert cache.get(dataclasses.replace(SOURCE)) is first
    edited = cache.get(dataclasses.replace(SOURCE, updated_at=2, subject="Ny"))
    assert edited is not first
    assert edited.subject_source == "Ny"


def test_cache_evicts_the_least_recently_used() -> None:
    cache = CampaignCache(MAIL_FROM, size=2)
    one, two, three = (dataclasses.replace(SOURCE, id=n) for n in (1, 2, 3))
    compiled_one = cache.get(one)
    cache.get(two)
    assert cache.get(one) is compiled_one  # now the most recently used
    cache.get(three)  # evicts two
    assert cache.get(one) is compiled_one
    compiled_two = cache.get(two)
    assert cache.get(two) is compiled_two
    cache.clear()
    assert cache.get(two) is not compiled_two
