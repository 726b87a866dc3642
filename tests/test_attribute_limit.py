"""Custom attributes and the workspace: the 250-attribute limit, excluded columns, standard attribute names.

Intercom's help (article 179): "There's a limit of 250 CDAs per workspace, but
you can archive unused attributes to free up space": archived attributes do
not count.
"""

from __future__ import annotations

from typing import Any, Dict, List

import httpx

from tests.conftest import record, schema, state

NEW_COLUMNS = [f"c{i}" for i in range(9)]
PROPS: Dict[str, Any] = {"user_id": {}, "email": {}, **{c: {"type": ["null", "string"]} for c in NEW_COLUMNS}}


def seed_attributes(emulator, count: int) -> List[Dict[str, Any]]:
    return [emulator.seed_data_attribute(f"existing_{i}", "string") for i in range(count)]


def custom_names(emulator) -> List[str]:
    return [a["name"] for a in emulator.data_attributes() if a["custom"]]


def users(count: int, **values: Any) -> List[Dict]:
    return [record({"user_id": f"u{i}", "email": f"u{i}@example.com", **values}) for i in range(count)]


WIDE = {c: "x" for c in NEW_COLUMNS}


def test_a_run_that_would_pass_the_attribute_limit_stops_before_writing_that_batch(target, emulator) -> None:
    seed_attributes(emulator, 245)
    messages = [schema("users", PROPS), state(0), *users(2, **WIDE), state(1)]
    result = target.run(messages)
    assert result.returncode == 1, result
    errors = [line for line in result.stderr.splitlines() if line.startswith("ERROR")]
    assert errors == [
        "ERROR creating 9 custom attributes (c0, c1, c2, c3, c4, c5, c6, c7, c8) would pass Intercom's limit "
        "of 250 (245 used); exclude columns with custom_attributes_exclude or archive unused attributes"
    ]
    assert "Traceback" not in result.stderr
    assert result.states == [0]
    assert emulator.count("POST /data_attributes") == 0
    assert len(custom_names(emulator)) == 245
    assert emulator.contacts() == []


def test_excluded_columns_are_not_created_and_archived_attributes_do_not_count(target, emulator) -> None:
    seeded = seed_attributes(emulator, 250)
    # Archive ten through the API, as an admin would to free up space.
    for attribute in seeded[:10]:
        answer = httpx.put(
            f"{emulator.url}/data_attributes/{attribute['id']}",
            json={"archived": True},
            headers={"Authorization": f"Bearer {emulator.token}", "Intercom-Version": "2.14"},
        )
        assert answer.status_code == 200, answer.text
    props = {**PROPS, "address": {"type": "object", "properties": {"city": {}, "zip": {}}}, "a__b": {}}
    values = {**WIDE, "address": {"city": "Lyon", "zip": "69001"}, "a__b": "flat"}
    config = {"custom_attributes_exclude": ["c0", "c1", "address", "a"]}
    result = target.run([schema("users", props), *users(2, **values), state(1)], config=config)
    assert result.returncode == 0, result
    created = sorted(set(custom_names(emulator)) - {a["name"] for a in seeded})
    assert created == NEW_COLUMNS[2:]
    contact = emulator.contacts()[0]
    assert sorted(contact["custom_attributes"]) == NEW_COLUMNS[2:]
    assert not [r for r in emulator.requests if "c0" in str(r.body) or "Lyon" in str(r.body) or "flat" in str(r.body)]


def test_an_excluded_flattened_name_leaves_out_only_that_attribute(target, emulator) -> None:
    props = {"user_id": {}, "address": {"type": "object", "properties": {"city": {}, "zip": {}}}}
    messages = [schema("users", props), record({"user_id": "u1", "address": {"city": "Lyon", "zip": "69001"}})]
    result = target.run(messages, config={"custom_attributes_exclude": ["address__city"]})
    assert result.returncode == 0, result
    assert emulator.contacts()[0]["custom_attributes"] == {"address__zip": "69001"}


def test_a_dry_run_shows_how_many_attributes_are_used_and_would_be_created(target, emulator) -> None:
    seed_attributes(emulator, 241)
    result = target.run([schema("users", PROPS), *users(2, **WIDE)], args=["--dry-run"])
    assert result.returncode == 0, result
    assert "plan: attributes: 241 of 250 used, this run would create 9" in result.stderr.splitlines()
    for i in range(4):
        emulator.seed_data_attribute(f"more_{i}", "string")
    result = target.run([schema("users", PROPS), *users(2, **WIDE)], args=["--dry-run"])
    assert result.returncode == 0, result
    assert (
        "plan: attributes: 245 of 250 used, this run would create 9, more than Intercom's limit: the run would "
        "stop before writing (exclude columns with custom_attributes_exclude or archive unused attributes)"
    ) in result.stderr.splitlines()
    assert emulator.count("POST /data_attributes") == 0


def test_standard_attributes_are_never_sent_as_custom_attributes(target, emulator) -> None:
    """city, country, browser, os, ... are listed with custom: false; a column so named is left out, warned once."""
    props = {"user_id": {}, "city": {}, "Country": {}, "browser": {}, "os": {}, "plan": {}}
    values = {"city": "Lyon", "Country": "FR", "browser": "Firefox", "os": "Linux", "plan": "pro"}
    result = target.run([schema("users", props), *users(3, **values), state(1)])
    assert result.returncode == 0, result
    assert "created 3, updated 0, unchanged 0, rejected 0;" in result.stderr
    assert custom_names(emulator) == ["plan"]
    assert all(c["custom_attributes"] == {"plan": "pro"} for c in emulator.contacts())
    for name in ("city", "Country", "browser", "os"):
        warnings = [line for line in result.stderr.splitlines() if f"field '{name}' is not sent" in line]
        assert len(warnings) == 1, (name, result.stderr)
