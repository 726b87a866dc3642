"""A user whose Intercom contact already holds every value of its record is not written again.

Each kind of value the target converts is covered: core fields (name, phone,
dates, the unsubscribed flag) and custom attributes (text, integer, float,
boolean, a date-time with a timezone offset, an array sent as JSON text, a
nested object flattened with __). A record equal to the contact costs no
write; a record that differs in one field costs exactly one update.
"""

from __future__ import annotations

import copy
import json
from datetime import datetime
from typing import Any, Dict, List

import pytest

from tests.conftest import record, schema, state

NULLABLE = lambda kind, **extra: {"type": ["null", kind], **extra}  # noqa: E731

PROPERTIES: Dict[str, Any] = {
    "user_id": NULLABLE("string"),
    "email": NULLABLE("string"),
    "name": NULLABLE("string"),
    "phone": NULLABLE("string"),
    "signed_up_at": NULLABLE("string", format="date-time"),
    "last_seen_at": NULLABLE("string", format="date-time"),
    "unsubscribed_from_emails": NULLABLE("boolean"),
    "plan": NULLABLE("string"),
    "seats": NULLABLE("integer"),
    "mrr": NULLABLE("number"),
    "paid": NULLABLE("boolean"),
    "renews_at": NULLABLE("string", format="date-time"),
    "labels": NULLABLE("array", items={"type": "string"}),
    "address": NULLABLE("object", properties={"city": NULLABLE("string"), "zip": NULLABLE("string")}),
}

# The custom attributes these records write, with the type each has in Intercom.
ATTRIBUTE_TYPES = {
    "plan": "string",
    "seats": "integer",
    "mrr": "float",
    "paid": "boolean",
    "renews_at": "date",
    "labels": "string",
    "address__city": "string",
    "address__zip": "string",
}

USERS = 3


def rich(i: int) -> Dict[str, Any]:
    return {
        "user_id": f"u{i}",
        "email": f"u{i}@example.com",
        "name": f"User {i}",
        "phone": f"+1 555 010{i}",
        "signed_up_at": f"2024-01-0{i + 1}T10:00:00Z",
        "last_seen_at": "2025-06-01T08:30:00+02:00",
        "unsubscribed_from_emails": i % 2 == 0,
        "plan": "pro",
        "seats": 10 + i,
        "mrr": 99.5 + i,
        "paid": True,
        "renews_at": "2026-03-01T00:00:00+05:30",
        "labels": ["beta", "vip"],
        "address": {"city": "Lyon", "zip": "69001"},
    }


def unix(text: str) -> int:
    return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp())


def held(values: Dict[str, Any]) -> Dict[str, Any]:
    """What an Intercom contact holds once the record with these values is written, worked out by hand."""
    return {
        "external_id": values["user_id"],
        "email": values["email"],
        "name": values["name"],
        "phone": values["phone"],
        "signed_up_at": unix(values["signed_up_at"]),
        "last_seen_at": unix(values["last_seen_at"]),
        "unsubscribed_from_emails": values["unsubscribed_from_emails"],
        "custom_attributes": {
            "plan": values["plan"],
            "seats": values["seats"],
            "mrr": values["mrr"],
            "paid": values["paid"],
            "renews_at": unix(values["renews_at"]),
            "labels": json.dumps(values["labels"], separators=(",", ":")),
            "address__city": values["address"]["city"],
            "address__zip": values["address"]["zip"],
        },
    }


def seed(emulator) -> None:
    for name, data_type in ATTRIBUTE_TYPES.items():
        emulator.seed_data_attribute(name, data_type)
    for i in range(USERS):
        emulator.seed_contact(**held(rich(i)))


def messages(records: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    return [schema("users", PROPERTIES), *(record(r) for r in records), state({"done": len(records)})]


def writes(emulator) -> Dict[str, int]:
    return {e: emulator.count(e) for e in ("POST /contacts", "PUT /contacts/{id}", "POST /data_attributes")}


def summary(result) -> str:
    [line] = [line for line in result.stderr.splitlines() if line.startswith("INFO summary:")]
    return line


def by_user(emulator) -> Dict[str, Dict[str, Any]]:
    return {c["external_id"]: c for c in emulator.contacts()}


def test_running_the_same_input_again_writes_nothing(target, emulator) -> None:
    first = target.run(messages([rich(i) for i in range(USERS)]))
    assert first.returncode == 0, first
    assert f"created {USERS}, updated 0" in summary(first)
    after_first = writes(emulator)
    contacts = by_user(emulator)

    second = target.run(messages([rich(i) for i in range(USERS)]))

    assert second.returncode == 0, second
    assert second.states == [{"done": USERS}]
    assert writes(emulator) == after_first
    assert f"{USERS} users read; created 0, updated 0, unchanged {USERS}, rejected 0;" in summary(second)
    assert by_user(emulator) == contacts


def test_contacts_holding_exactly_what_the_records_say_are_not_written(target, emulator) -> None:
    seed(emulator)
    contacts = by_user(emulator)
    result = target.run(messages([rich(i) for i in range(USERS)]))
    assert result.returncode == 0, result
    assert result.states == [{"done": USERS}]
    assert writes(emulator) == {"POST /contacts": 0, "PUT /contacts/{id}": 0, "POST /data_attributes": 0}
    assert f"{USERS} users read; created 0, updated 0, unchanged {USERS}, rejected 0;" in summary(result)
    assert by_user(emulator) == contacts


# One field of one record changed: (field as the record has it, new value).
CHANGES = {
    "name": ("name", "Renamed"),
    "phone": ("phone", "+1 555 0199"),
    "signed_up_at": ("signed_up_at", "2023-12-31T23:00:00-01:00"),
    "last_seen_at": ("last_seen_at", "2025-06-02T08:30:00+02:00"),
    "unsubscribed_from_emails": ("unsubscribed_from_emails", True),
    "string attribute": ("plan", "team"),
    "integer attribute": ("seats", 50),
    "float attribute": ("mrr", 100.75),  # the record had 100.5: a change only in the fraction
    "boolean attribute": ("paid", False),
    # The same wall-clock time in another timezone is another moment.
    "date attribute, another offset": ("renews_at", "2026-03-01T00:00:00+01:00"),
    "array attribute": ("labels", ["beta"]),
    "flattened object attribute": ("address", {"city": "Paris", "zip": "69001"}),
}


@pytest.mark.parametrize("change", sorted(CHANGES))
def test_a_record_that_differs_in_one_field_is_written_once(target, emulator, change) -> None:
    seed(emulator)
    before = by_user(emulator)
    field, value = CHANGES[change]
    changed = rich(1)
    assert changed[field] != value
    changed[field] = value
    expected = held(changed)
    assert expected != held(rich(1))

    result = target.run(messages([rich(0), changed, rich(2)]))

    assert result.returncode == 0, result
    assert result.states == [{"done": USERS}]
    assert writes(emulator) == {"POST /contacts": 0, "PUT /contacts/{id}": 1, "POST /data_attributes": 0}
    [put] = [r for r in emulator.requests if r.endpoint == "PUT /contacts/{id}"]
    assert put.path == "/contacts/" + before["u1"]["id"]
    assert f"{USERS} users read; created 0, updated 1, unchanged {USERS - 1}, rejected 0;" in summary(result)
    after = by_user(emulator)
    assert {k: after["u1"][k] for k in expected} == expected
    # Nothing else about the user changed, and the other users were left alone.
    untouched = copy.deepcopy(after["u1"])
    untouched.update({k: before["u1"][k] for k in expected}, updated_at=before["u1"]["updated_at"])
    assert untouched == before["u1"]
    assert (after["u0"], after["u2"]) == (before["u0"], before["u2"])


def test_hundreds_of_unchanged_users_are_found_across_search_pages_and_not_written(target, emulator) -> None:
    count = 400  # more than fit on one search page (Intercom returns at most 150)
    emulator.seed_contacts(
        {"external_id": f"u{i}", "email": f"u{i}@example.com", "name": f"User {i}"} for i in range(count)
    )
    records = [{"user_id": f"u{i}", "email": f"u{i}@example.com", "name": f"User {i}"} for i in range(count)]
    result = target.run(messages(records), config={"batch_size": count})
    assert result.returncode == 0, result
    assert result.states == [{"done": count}]
    assert writes(emulator) == {"POST /contacts": 0, "PUT /contacts/{id}": 0, "POST /data_attributes": 0}
    assert f"{count} users read; created 0, updated 0, unchanged {count}, rejected 0;" in summary(result)
    searches = [r for r in emulator.requests if r.endpoint == "POST /contacts/search"]
    assert len(searches) >= 3
    cursors = [r.body["pagination"].get("starting_after") for r in searches]
    assert sum(1 for c in cursors if c) >= 2, "the target did not follow the search cursors"


@pytest.mark.parametrize("mode", ["contacts", "bulk"])
def test_last_seen_at_only_moves_forward(target, emulator, mode) -> None:
    """Intercom moves last_seen_at itself (Messenger activity): an older source value is never sent."""
    for user in ("older", "equal", "newer", "older-renamed", "null"):
        emulator.seed_contact(external_id=user, email=f"{user}@example.com", name="Old", last_seen_at=2000)
    props = {"user_id": {}, "email": {}, "name": {}, "last_seen_at": {}, "last_request_at": {}}
    records = [
        {"user_id": "older", "email": "older@example.com", "name": "Old", "last_seen_at": 1000},
        {"user_id": "equal", "email": "equal@example.com", "name": "Old", "last_request_at": 2000},
        {"user_id": "newer", "email": "newer@example.com", "name": "Old", "last_seen_at": 3000},
        {"user_id": "older-renamed", "email": "older-renamed@example.com", "name": "New", "last_seen_at": 1000},
        {"user_id": "null", "email": "null@example.com", "name": "Old", "last_seen_at": None},
    ]
    config = {"write_mode": mode}
    first = target.run([schema("users", props), *(record(r) for r in records), state(1)], config=config)
    assert first.returncode == 0, first
    assert "created 0, updated 2, unchanged 3, rejected 0;" in summary(first)
    contacts = by_user(emulator)
    assert {u: (c["name"], c["last_seen_at"]) for u, c in contacts.items()} == {
        "older": ("Old", 2000),
        "equal": ("Old", 2000),
        "newer": ("Old", 3000),
        "older-renamed": ("New", 2000),
        "null": ("Old", 2000),
    }
    stable_puts = [r for r in emulator.requests if r.endpoint == "PUT /contacts/{id}"]
    if mode == "bulk":
        # The renamed user needs nothing bulk update cannot do; only the newer last_seen_at needs a stable write.
        assert [r.path for r in stable_puts] == ["/contacts/" + contacts["newer"]["id"]]
        assert emulator.count("PUT /contacts/bulk") == 1
    else:
        assert len(stable_puts) == 2
        [renamed] = [r for r in stable_puts if r.path.endswith(contacts["older-renamed"]["id"])]
        assert "last_seen_at" not in renamed.body
    second = target.run([schema("users", props), *(record(r) for r in records), state(2)], config=config)
    assert second.returncode == 0, second
    assert "created 0, updated 0, unchanged 5, rejected 0;" in summary(second)
