"""Segments over HTTP: every rule and their combinations against a known population (exact
sets of residents), the 422s of bad rules, and saving, renaming and deleting segments."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.schema import campaigns
from tests.campaigns.conftest import CAMPAIGN, Api, new_campaign
from tests.support.segment_population import ELIGIBLE, FIELDS, build_population


def cond(field: str, op: str, value: Any = None) -> dict[str, Any]:
    rule: dict[str, Any] = {"type": "condition", "field": field, "op": op}
    if value is not None:
        rule["value"] = value
    return rule


def group(match: str, *rules: dict[str, Any]) -> dict[str, Any]:
    return {"type": "group", "match": match, "rules": list(rules)}


def day(days_ago: int) -> str:
    return (datetime.now(UTC) - timedelta(days=days_ago)).date().isoformat()


# (rules, expected residents); the eligible are a, b, c, d and h.
CASES: list[tuple[dict[str, Any], str]] = [
    (group("all"), "abcdh"),
    (group("all", cond("list", "any_of", ["kultur"])), "ac"),
    (group("all", cond("list", "none_of", ["kultur"])), "bdh"),
    (group("all", cond("list", "any_of", ["boern-unge", "idraet"])), "bcdh"),
    (group("all", cond("language", "any_of", ["sv", "en"])), "bc"),
    (group("all", cond("language", "none_of", ["da"])), "bc"),
    (group("all", cond("municipality", "any_of", ["dk-koebenhavn", "Lund"])), "adh"),
    (group("all", cond("municipality", "none_of", ["dk-koebenhavn"])), "bcd"),
    (group("all", cond("municipality", "is_not_set")), "c"),
    (group("all", cond("municipality", "is_set")), "abdh"),
    (group("all", cond("country", "any_of", ["SE"])), "bd"),
    (group("all", cond("country", "any_of", ["dk"])), "ah"),
    (group("all", cond("country", "none_of", ["SE"])), "ach"),
    (group("all", cond("source_site", "any_of", ["demo-site"])), "ad"),
    (group("all", cond("source_site", "none_of", ["demo-site"])), "bch"),
    (group("all", cond("source_site", "is_not_set")), "ch"),
    (group("all", cond("signed_up", "in_last_days", 30)), "bch"),
    (group("all", cond("signed_up", "before", day(200))), "d"),
    (group("all", cond("signed_up", "on_or_after", day(60))), "bch"),
    (group("all", cond("confirmed", "in_last_days", 7)), "bc"),
    (group("all", cond("confirmed", "before", day(90))), "ad"),
    (group("all", cond("confirmed", "on_or_after", day(21))), "bch"),
    (group("all", cond("custom.age", "greater_than", 20)), "ab"),
    (group("all", cond("custom.age", "less_than", 30)), "d"),
    (group("all", cond("custom.age", "equals", 30)), "a"),
    (group("all", cond("custom.age", "not_equals", 30)), "bcdh"),
    (group("all", cond("custom.age", "is_set")), "abd"),
    (group("all", cond("custom.member", "is_true")), "a"),
    (group("all", cond("custom.member", "is_false")), "bcdh"),
    (group("all", cond("custom.area", "any_of", ["syd"])), "b"),
    (group("all", cond("custom.area", "none_of", ["syd"])), "acdh"),
    (group("all", cond("custom.note", "contains", "JAZZ")), "a"),
    (group("all", cond("custom.note", "equals", "Loves jazz")), "a"),
    (group("all", cond("custom.note", "not_equals", "Loves jazz")), "bcdh"),
    (group("all", cond("custom.birthday", "before", "2000-01-01")), "a"),
    (group("all", cond("custom.birthday", "on_or_after", "2000-01-01")), ""),
    (group("all", cond("custom.birthday", "is_not_set")), "bcdh"),
    (group("all", cond("clicked", "in_last_campaigns", 1)), "a"),
    (group("all", cond("clicked", "in_last_campaigns", 2)), "ad"),
    (group("all", cond("clicked", "in_last_campaigns", 3)), "abd"),
    (group("all", cond("clicked", "never")), "ch"),
    (group("all", cond("bounced", "is_false")), "abcdh"),
    (group("all", cond("bounced", "is_true")), ""),
    # combinations
    (group("all", cond("country", "any_of", ["SE"]), cond("list", "any_of", ["idraet"])), "b"),
    (group("any", cond("language", "any_of", ["en"]), cond("custom.member", "is_true")), "ac"),
    (group("none", cond("country", "any_of", ["DK"]), cond("clicked", "never")), "bd"),
    (group("none", cond("municipality", "any_of", ["se-malmo"])), "acdh"),
    (
        group(
            "all",
            group("any", cond("country", "any_of", ["SE"]), cond("municipality", "is_not_set")),
            group("none", cond("clicked", "in_last_campaigns", 3)),
        ),
        "c",
    ),
    (
        group(
            "any",
            group("all", cond("language", "any_of", ["da"]), cond("custom.age", "less_than", 20)),
            group("all", cond("list", "any_of", ["idraet"]), cond("signed_up", "in_last_days", 5)),
        ),
        "cd",
    ),
    (
        group("all", group("none", group("any", cond("custom.area", "any_of", ["nord", "syd"])))),
        "cdh",
    ),
]


async def _fields(api: Api) -> None:
    for definition in FIELDS:
        labels = {"da": definition["key"], "sv": definition["key"], "en": definition["key"]}
        response = await api.post("/api/fields", "admin", json={**definition, "labels": labels})
        assert response.status_code == 201, response.text


async def test_each_rule_and_combination_selects_exactly_its_residents(
    api: Api, db: AsyncEngine
) -> None:
    await _fields(api)
    ids = await build_population(db)
    letters = {subscriber_id: letter for letter, subscriber_id in ids.items()}
    failures = []
    for rules, expected in CASES:
        response = await api.post("/api/segments/count", "viewer", json={"rules": rules})
        assert response.status_code == 200, (rules, response.text)
        body = response.json()
        found = "".join(sorted(letters[subscriber_id] for subscriber_id in body["sample"]))
        assert set(found) <= ELIGIBLE
        if found != expected or body["count"] != len(expected):
            failures.append((rules, expected, found, body["count"]))
    assert not failures, failures


BAD: list[tuple[dict[str, Any], str, str]] = [
    (group("all", cond("shoe_size", "equals", 42)), "rules.0.field", "unknown field"),
    (group("all", cond("custom.nope", "equals", 1)), "rules.0.field", "unknown field"),
    (group("all", cond("custom.age", "greater_than", "thirty")), "rules.0.value", "number"),
    (group("all", cond("custom.age", "contains", "3")), "rules.0.op", "age takes one of"),
    (group("all", cond("custom.area", "any_of", ["east"])), "rules.0.value", "not a choice"),
    (group("all", cond("custom.birthday", "before", "01/02/2000")), "rules.0.value", "YYYY"),
    (group("all", cond("list", "any_of", ["nope"])), "rules.0.value", "unknown: nope"),
    (group("all", cond("list", "any_of", "kultur")), "rules.0.value", "list of texts"),
    (group("all", cond("language", "any_of", ["de"])), "rules.0.value", "unknown: de"),
    (group("all", cond("country", "any_of", ["NO"])), "rules.0.value", "unknown: NO"),
    (group("all", cond("municipality", "any_of", ["Oslo"])), "rules.0.value", "unknown"),
    (group("all", cond("source_site", "any_of", ["x"])), "rules.0.value", "unknown: x"),
    (group("all", cond("signed_up", "in_last_days", 0)), "rules.0.value", "whole number"),
    (group("all", cond("signed_up", "in_last_days", True)), "rules.0.value", "whole number"),
    (group("all", cond("clicked", "in_last_campaigns", 2.5)), "rules.0.value", "whole number"),
    (group("all", cond("clicked", "never", 3)), "rules.0.value", "takes no value"),
    (
        group("all", group("any", cond("language", "any_of", ["xx"]))),
        "rules.0.rules.0.value",
        "unknown: xx",
    ),
    (
        group("all", group("any", group("none", group("all")))),
        "rules.0.rules.0.rules.0.rules",
        "nest at most",
    ),
    ({"type": "group", "match": "maybe", "rules": []}, "rules.match", "Invalid enum value"),
    ({"type": "group", "rules": [{"field": "language"}]}, "rules.rules[0].type", "is required"),
]


async def test_bad_rules_are_422_with_the_reason(api: Api) -> None:
    await _fields(api)
    for rules, where, reason in BAD:
        response = await api.post("/api/segments/count", "viewer", json={"rules": rules})
        assert response.status_code == 422, (rules, response.text)
        errors = response.json()["errors"]
        assert reason in errors.get(where, ""), (rules, errors)
    # saving checks the same way
    saved = await api.post("/api/segments", json={"name": "Bad", "rules": BAD[0][0]})
    assert saved.status_code == 422
    assert "unknown field" in saved.json()["errors"]["rules.0.field"]


async def test_segments_are_saved_renamed_and_deleted(api: Api, db: AsyncEngine) -> None:
    ids = await build_population(db)
    swedes = group("all", cond("country", "any_of", ["se"]))
    refused = await api.post("/api/segments", "viewer", json={"name": "Svenskere", "rules": swedes})
    assert refused.status_code == 403
    created = await api.post("/api/segments", json={"name": " Svenskere ", "rules": swedes})
    assert created.status_code == 201, created.text
    segment = created.json()
    assert segment["name"] == "Svenskere"
    assert segment["count"] == 2
    # stored in normal form: the country upper-case
    assert segment["rules"]["rules"][0]["value"] == ["SE"]
    assert segment["created_by"].startswith("token:")
    twice = await api.post("/api/segments", json={"name": "Svenskere", "rules": swedes})
    assert twice.status_code == 409

    listed = (await api.get("/api/segments")).json()["items"]
    assert [(item["name"], item["count"]) for item in listed] == [("Svenskere", 2)]
    renamed = await api.patch(
        f"/api/segments/{segment['id']}",
        json={"name": "Lund", "rules": group("all", cond("municipality", "any_of", ["se-lund"]))},
    )
    assert renamed.status_code == 200, renamed.text
    assert (renamed.json()["name"], renamed.json()["count"]) == ("Lund", 1)
    got = (await api.get(f"/api/segments/{segment['id']}")).json()
    assert got["rules"]["rules"][0]["field"] == "municipality"
    assert ids["d"] > 0

    assert (await api.get("/api/segments/999999")).status_code == 404

    # a campaign targets segments beside (or instead of) lists
    none = await api.post("/api/campaigns", json={**CAMPAIGN, "lists": []})
    assert none.status_code == 422
    assert none.json()["errors"]["lists"] == "must name at least one list or segment"
    unknown = await api.post("/api/campaigns", json={**CAMPAIGN, "segments": [999, 2**70]})
    assert unknown.status_code == 422
    assert unknown.json()["errors"]["segments"].startswith("unknown segment: 999")
    campaign = await new_campaign(api, lists=[], segments=[segment["id"], segment["id"]])
    assert (campaign["lists"], campaign["segments"]) == ([], [segment["id"]])
    patched = await api.patch(f"/api/campaigns/{campaign['id']}", json={"lists": ["kultur"]})
    assert (patched.json()["lists"], patched.json()["segments"]) == (["kultur"], [segment["id"]])
    async with db.begin() as conn:
        await conn.execute(
            sa.update(campaigns).where(campaigns.c.id == campaign["id"]).values(status="scheduled")
        )
    in_use = await api.delete(f"/api/segments/{segment['id']}", "editor")
    assert in_use.status_code == 409
    assert in_use.json()["errors"]["campaigns"] == str(campaign["id"])
    async with db.begin() as conn:
        await conn.execute(
            sa.update(campaigns).where(campaigns.c.id == campaign["id"]).values(status="draft")
        )
    assert (await api.delete(f"/api/segments/{segment['id']}", "viewer")).status_code == 403
    deleted = await api.delete(f"/api/segments/{segment['id']}", "editor")
    assert deleted.status_code == 204
    assert (await api.get(f"/api/segments/{segment['id']}")).status_code == 404
    # a draft that targeted it loses it
    after = (await api.get(f"/api/campaigns/{campaign['id']}")).json()
    assert (after["lists"], after["segments"]) == (["kultur"], [])
