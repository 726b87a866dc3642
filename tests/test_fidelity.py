"""Values arrive in Intercom exactly: unicode, limits, big integers, floats, booleans, nulls, time zones."""

from __future__ import annotations

from typing import Any, Dict

from tests.conftest import record, schema, state

PROPS: Dict[str, Any] = {
    "user_id": {},
    "email": {"type": ["null", "string"]},
    "name": {"type": ["null", "string"]},
    "bio": {"type": ["null", "string"]},
    "seats": {"type": ["null", "integer"]},
    "ratio": {"type": ["null", "number"]},
    "vip": {"type": ["null", "boolean"]},
    "label": {"type": ["null", "string"]},
    "unsubscribed_from_emails": {},
    "signed_up_at": {},
}


def contact(emulator, user_id: str) -> Dict[str, Any]:
    [found] = [c for c in emulator.contacts() if c["external_id"] == user_id]
    return found


def test_unicode_names_and_emails_arrive_unchanged(target, emulator) -> None:
    rec = {"user_id": "ü1", "email": "zoë.ångström@exämple.com", "name": "Zoë Ångström 山田太郎 🚀", "bio": "naïve café"}
    result = target.run([schema("users", PROPS), record(rec)])
    assert result.returncode == 0, result
    found = contact(emulator, "ü1")
    assert (found["email"], found["name"], found["custom_attributes"]["bio"]) == (
        rec["email"], rec["name"], rec["bio"],
    )


def test_strings_up_to_intercoms_limit_are_kept_whole(target, emulator) -> None:
    longest = "é" * 254 + "🚀"
    result = target.run([schema("users", PROPS), record({"user_id": "u1", "bio": longest})])
    assert result.returncode == 0, result
    assert contact(emulator, "u1")["custom_attributes"]["bio"] == longest


def test_integers_beyond_2_to_the_53_keep_every_digit(target, emulator) -> None:
    big = 2**53 + 1
    result = target.run([schema("users", PROPS), record({"user_id": big, "seats": big})])
    assert result.returncode == 0, result
    found = contact(emulator, str(big))
    assert found["custom_attributes"]["seats"] == big


def test_an_integer_intercom_cannot_store_is_rejected(target, emulator) -> None:
    result = target.run([schema("users", PROPS), record({"user_id": "u1", "seats": 2**63})])
    assert result.returncode == 1
    assert "custom attribute 'seats' (integer) 9223372036854775808 is outside the 64-bit integer range" in result.stderr


def test_floats_round_trip(target, emulator) -> None:
    values = {"a": 0.1, "b": 1e-7, "c": 123456789.12345679, "d": -2.5e300}
    messages = [schema("users", PROPS)] + [record({"user_id": k, "ratio": v}) for k, v in values.items()]
    result = target.run(messages)
    assert result.returncode == 0, result
    assert {k: contact(emulator, k)["custom_attributes"]["ratio"] for k in values} == values


def test_booleans_and_true_strings(target, emulator) -> None:
    emulator.seed_data_attribute("label", "string")
    emulator.seed_data_attribute("vip", "boolean")
    props = {"user_id": {}, "vip": {}, "label": {}, "unsubscribed_from_emails": {}}
    messages = [
        schema("users", props),
        record({"user_id": "u1", "vip": "TRUE", "label": True, "unsubscribed_from_emails": "false"}),
        record({"user_id": "u2", "vip": False, "label": "false", "unsubscribed_from_emails": True}),
        record({"user_id": "u3", "vip": "yes"}),
    ]
    result = target.run(messages, config={"max_rejected_records": 1})
    assert result.returncode == 0, result
    first, second = contact(emulator, "u1"), contact(emulator, "u2")
    assert (first["custom_attributes"], first["unsubscribed_from_emails"]) == ({"vip": True, "label": "true"}, False)
    assert (second["custom_attributes"], second["unsubscribed_from_emails"]) == ({"vip": False, "label": "false"}, True)
    assert "custom attribute 'vip' (boolean) expected true or false, got \"yes\"" in result.stderr


def test_nulls_clear_fields_but_never_identifiers(target, emulator) -> None:
    emulator.seed_data_attribute("label", "string")
    emulator.seed_contact(external_id="u1", email="u1@example.com", name="Named", custom_attributes={"label": "x"})
    emulator.seed_contact(external_id="u2", email="u2@example.com", name="Kept")
    messages = [
        schema("users", PROPS),
        record({"user_id": "u1", "email": None, "name": None, "label": None}),
        record({"user_id": None, "email": "u2@example.com", "name": "Renamed"}),
        state(1),
    ]
    result = target.run(messages)
    assert result.returncode == 0, result
    first, second = contact(emulator, "u1"), contact(emulator, "u2")
    assert (first["email"], first["name"], first["custom_attributes"].get("label")) == ("u1@example.com", None, None)
    assert (second["external_id"], second["name"]) == ("u2", "Renamed")


def test_time_zones_are_converted_to_utc(target, emulator) -> None:
    cases = {
        "a": ("2024-06-01T12:00:00+05:30", 1717223400),
        "b": ("2024-06-01T12:00:00-08:00", 1717272000),
        "c": ("2024-06-01T12:00:00.75Z", 1717243200),
        "d": ("2024-06-01", 1717200000),
    }
    messages = [schema("users", PROPS)] + [record({"user_id": k, "signed_up_at": v}) for k, (v, _) in cases.items()]
    result = target.run(messages)
    assert result.returncode == 0, result
    assert {k: contact(emulator, k)["signed_up_at"] for k in cases} == {k: t for k, (_, t) in cases.items()}


def bodies_with_null(emulator, key: str):
    """Requests whose JSON body holds `key` with the value null, at any depth."""

    def holds_null(value: Any) -> bool:
        if isinstance(value, dict):
            return (key in value and value[key] is None) or any(holds_null(v) for v in value.values())
        if isinstance(value, list):
            return any(holds_null(v) for v in value)
        return False

    return [r for r in emulator.requests if holds_null(r.body)]


def test_a_null_unsubscribed_from_emails_is_never_sent_and_costs_no_write(target, emulator) -> None:
    """Null means "no value": sending it might subscribe an opted-out user again."""
    emulator.seed_contact(external_id="u1", email="u1@example.com", name="One", unsubscribed_from_emails=True)
    emulator.seed_contact(external_id="u2", email="u2@example.com", name="Two", unsubscribed_from_emails=True)
    props = {"user_id": {}, "email": {}, "name": {}, "unsubscribed_from_emails": {"type": ["null", "boolean"]}}
    unchanged = record({"user_id": "u1", "email": "u1@example.com", "name": "One", "unsubscribed_from_emails": None})
    renamed = record({"user_id": "u2", "email": "u2@example.com", "name": "Renamed", "unsubscribed_from_emails": None})
    new = record({"user_id": "u3", "email": "u3@example.com", "unsubscribed_from_emails": None})
    for run in range(3):
        result = target.run([schema("users", props), unchanged, state(run)])
        assert result.returncode == 0, result
        assert "created 0, updated 0, unchanged 1" in result.stderr
    assert emulator.count("PUT /contacts/{id}") == 0
    result = target.run([schema("users", props), unchanged, renamed, new, state(3)])
    assert result.returncode == 0, result
    assert "created 1, updated 1, unchanged 1" in result.stderr
    result = target.run([schema("users", props), renamed, state(4)], config={"write_mode": "bulk"})
    assert result.returncode == 0, result
    assert "created 0, updated 0, unchanged 1" in result.stderr
    result = target.run([schema("users", props), {**unchanged, "record": {**unchanged["record"], "name": "Bulk"}}],
                        config={"write_mode": "bulk"})
    assert result.returncode == 0, result
    assert emulator.count("PUT /contacts/bulk") == 1
    assert (contact(emulator, "u1")["name"], contact(emulator, "u2")["name"]) == ("Bulk", "Renamed")
    assert [contact(emulator, u)["unsubscribed_from_emails"] for u in ("u1", "u2", "u3")] == [True, True, False]
    assert bodies_with_null(emulator, "unsubscribed_from_emails") == []


def test_text_over_255_characters_is_cut_with_one_warning_per_attribute_and_counted(target, emulator) -> None:
    # Python counts code points, as Intercom's 255 does: the cut never splits the emoji's surrogate pair.
    long_bio = "é" * 254 + "🚀🚀" + "x" * 50
    records = [
        record({"user_id": "u1", "bio": long_bio, "label": "y" * 300}),
        record({"user_id": "u2", "bio": "z" * 256}),
        record({"user_id": "u3", "bio": "short"}),
    ]
    result = target.run([schema("users", PROPS), *records, state(1)])
    assert result.returncode == 0, result
    assert contact(emulator, "u1")["custom_attributes"] == {"bio": "é" * 254 + "🚀", "label": "y" * 255}
    assert contact(emulator, "u2")["custom_attributes"]["bio"] == "z" * 255
    warnings = [line for line in result.stderr.splitlines() if "are cut to 255" in line]
    assert warnings == [
        f"WARNING custom attribute '{name}': values longer than Intercom's 255 characters are cut to 255 "
        "(long_text is truncate; set it to reject to reject such records instead)"
        for name in ("bio", "label")
    ]
    assert "3 users read; created 3, updated 0, unchanged 0, rejected 0, truncated 2;" in result.stderr
    # Intercom holds the cut text: the next run writes nothing.
    again = target.run([schema("users", PROPS), *records, state(2)])
    assert "created 0, updated 0, unchanged 3, rejected 0, truncated 2;" in again.stderr


def test_long_text_reject_rejects_the_record_naming_the_attribute(target, emulator) -> None:
    records = [record({"user_id": "u1", "bio": "x" * 256}), record({"user_id": "u2", "bio": "x" * 255})]
    config = {"long_text": "reject", "max_rejected_records": 1, "rejected_records_file": "rejects.jsonl"}
    result = target.run([schema("users", PROPS), *records, state(1)], config=config)
    assert result.returncode == 0, result
    assert [r["reason"] for r in result.rejects] == [
        "custom attribute 'bio' (string) is 256 characters long; Intercom stores at most 255"
    ]
    assert [c["external_id"] for c in emulator.contacts()] == ["u2"]
