"""How record fields become Intercom core fields and custom attributes."""

from __future__ import annotations

from typing import Any, Dict

import pytest

from tests.conftest import record, schema, state


def only_contact(emulator) -> Dict[str, Any]:
    contacts = emulator.contacts()
    assert len(contacts) == 1, contacts
    return contacts[0]


def attribute_types(emulator) -> Dict[str, str]:
    return {a["name"]: a["data_type"] for a in emulator.data_attributes() if a.get("custom")}


def test_core_fields_and_role_user(target, emulator) -> None:
    props = {
        "user_id": {"type": "integer"},
        "email": {"type": "string"},
        "name": {"type": "string"},
        "phone": {"type": "string"},
        "avatar": {"type": "string"},
        "signed_up_at": {"type": "string", "format": "date-time"},
        "last_request_at": {"type": "string", "format": "date-time"},
        "unsubscribed_from_emails": {"type": "boolean"},
    }
    rec = {
        "user_id": 42,
        "email": "ada@example.com",
        "name": "Ada Lovelace",
        "phone": "+353871234567",
        "avatar": "https://example.com/ada.png",
        "signed_up_at": "2024-01-02T03:04:05Z",
        "last_request_at": "2024-01-02T05:04:05+02:00",
        "unsubscribed_from_emails": True,
    }
    result = target.run([schema("users", props), record(rec), state(1)])
    assert result.returncode == 0, result
    contact = only_contact(emulator)
    assert contact["role"] == "user"
    assert contact["external_id"] == "42"
    assert contact["email"] == "ada@example.com"
    assert contact["name"] == "Ada Lovelace"
    assert contact["phone"] == "+353871234567"
    assert contact["avatar"]["image_url"] == "https://example.com/ada.png"
    assert contact["signed_up_at"] == 1704164645
    assert contact["last_seen_at"] == 1704164645
    assert contact["unsubscribed_from_emails"] is True
    assert contact["custom_attributes"] == {}
    assert attribute_types(emulator) == {}


def test_external_id_field_is_the_user_id_too(target, emulator) -> None:
    props = {"external_id": {"type": "string"}, "email": {"type": "string"}}
    result = target.run([schema("users", props), record({"external_id": "x-9", "email": "x9@example.com"})])
    assert result.returncode == 0, result
    assert only_contact(emulator)["external_id"] == "x-9"


def test_the_seed_readme_overrides_example(target, emulator) -> None:
    """The original README's example: name from full_name, email from email_address."""
    props = {
        "id": {"type": "integer"},
        "full_name": {"type": "string"},
        "email_address": {"type": "string"},
        "plan": {"type": "string"},
    }
    overrides = {"name": "full_name", "email": "email_address"}
    messages = [
        schema("contacts", props),
        record({"full_name": "Grace Hopper", "email_address": "grace@example.com", "plan": "pro"}, "contacts"),
    ]
    result = target.run(messages, config={"users_stream": "contacts", "reserved_field_overrides": overrides})
    assert result.returncode == 0, result
    contact = only_contact(emulator)
    assert contact["name"] == "Grace Hopper"
    assert contact["email"] == "grace@example.com"
    assert contact["custom_attributes"] == {"plan": "pro"}
    assert "full_name" not in attribute_types(emulator)


def test_custom_attributes_are_created_with_types_from_the_schema(target, emulator) -> None:
    props = {
        "user_id": {"type": "string"},
        "plan": {"type": ["null", "string"]},
        "seats": {"type": ["null", "integer"]},
        "mrr": {"type": ["null", "number"]},
        "paid": {"type": ["null", "boolean"]},
        "renews_at": {"type": ["null", "string"], "format": "date-time"},
        "birthday": {"anyOf": [{"type": "string", "format": "date"}, {"type": "null"}]},
    }
    rec = {
        "user_id": "u1",
        "plan": "pro",
        "seats": 12,
        "mrr": 99,
        "paid": True,
        "renews_at": "2025-03-01T00:00:00Z",
        "birthday": "1990-05-17",
    }
    result = target.run([schema("users", props), record(rec)])
    assert result.returncode == 0, result
    assert attribute_types(emulator) == {
        "plan": "string",
        "seats": "integer",
        "mrr": "float",
        "paid": "boolean",
        "renews_at": "date",
        "birthday": "date",
    }
    assert only_contact(emulator)["custom_attributes"] == {
        "plan": "pro",
        "seats": 12,
        "mrr": 99,
        "paid": True,
        "renews_at": 1740787200,
        "birthday": 642902400,
    }


def test_fields_the_schema_does_not_type_are_typed_from_their_values(target, emulator) -> None:
    props = {"user_id": {"type": "string"}}
    rec = {"user_id": "u1", "score": 7, "ratio": 0.5, "vip": False, "tier": "gold"}
    result = target.run([schema("users", props), record(rec)])
    assert result.returncode == 0, result
    assert attribute_types(emulator) == {"score": "integer", "ratio": "float", "vip": "boolean", "tier": "string"}


def test_nested_objects_are_flattened_and_arrays_sent_as_json(target, emulator) -> None:
    props = {
        "user_id": {"type": "string"},
        "address": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "geo": {"type": "object", "properties": {"lat": {"type": "number"}}}},
        },
        "roles": {"type": "array", "items": {"type": "string"}},
    }
    rec = {"user_id": "u1", "address": {"city": "Dublin", "geo": {"lat": 53.35}}, "roles": ["a", "b"]}
    result = target.run([schema("users", props), record(rec)])
    assert result.returncode == 0, result
    assert only_contact(emulator)["custom_attributes"] == {
        "address__city": "Dublin",
        "address__geo__lat": 53.35,
        "roles": '["a","b"]',
    }
    assert attribute_types(emulator)["address__geo__lat"] == "float"


def test_existing_attribute_types_win_and_values_are_converted(target, emulator) -> None:
    emulator.seed_data_attribute("seats", "string")
    emulator.seed_data_attribute("active", "boolean")
    props = {"user_id": {"type": "string"}, "seats": {"type": "integer"}, "active": {"type": "string"}}
    result = target.run([schema("users", props), record({"user_id": "u1", "seats": 3, "active": "true"})])
    assert result.returncode == 0, result
    assert only_contact(emulator)["custom_attributes"] == {"seats": "3", "active": True}


def test_a_value_that_does_not_fit_an_existing_attribute_rejects_the_record(target, emulator) -> None:
    emulator.seed_data_attribute("seats", "integer")
    props = {"user_id": {"type": "string"}, "seats": {"type": "string"}}
    messages = [schema("users", props), state(0), record({"user_id": "u1", "seats": "a few"}), state(1)]
    result = target.run(messages)
    assert result.returncode == 1
    assert "line 3 (user_id u1)" in result.stderr
    assert "custom attribute 'seats' (integer) expected an integer" in result.stderr
    assert result.states == [0]
    assert emulator.contacts() == []


@pytest.mark.parametrize(
    "value, expected",
    [
        ("2024-01-02T03:04:05Z", 1704164645),
        ("2024-01-02T03:04:05.999+00:00", 1704164645),
        ("2024-01-02 04:04:05+01:00", 1704164645),
        ("2024-01-02T03:04:05", 1704164645),
        (1704164645, 1704164645),
    ],
)
def test_dates_become_unix_seconds_in_utc(target, emulator, value, expected) -> None:
    props = {"user_id": {"type": "string"}, "signed_up_at": {}}
    result = target.run([schema("users", props), record({"user_id": "u1", "signed_up_at": value})])
    assert result.returncode == 0, result
    assert only_contact(emulator)["signed_up_at"] == expected


def test_singer_metadata_fields_are_never_sent(target, emulator) -> None:
    props = {"user_id": {"type": "string"}, "plan": {"type": "string"}, "_sdc_extracted_at": {"type": "string"}}
    rec = {"user_id": "u1", "plan": "pro", "_sdc_extracted_at": "2026-11-27T00:00:00Z", "_sdc_filename": "x.jsonl"}
    result = target.run([schema("users", props), record(rec)])
    assert result.returncode == 0, result
    assert only_contact(emulator)["custom_attributes"] == {"plan": "pro"}
    assert attribute_types(emulator) == {"plan": "string"}
