"""The bulk users API's upsert rules: lookup by id, then user_id, then email."""

from __future__ import annotations

from typing import Any, Dict, List

import httpx

from tests.conftest import record, schema, state


def users(emulator) -> List[Dict[str, Any]]:
    return sorted(emulator.contacts(), key=lambda c: c["created_at"])


def test_no_match_creates_a_user(target, emulator) -> None:
    result = target.run([schema(), record({"user_id": "u1", "email": "u1@example.com", "name": "One"})])
    assert result.returncode == 0, result
    [contact] = users(emulator)
    assert (contact["role"], contact["external_id"], contact["email"], contact["name"]) == (
        "user", "u1", "u1@example.com", "One",
    )


def test_rule_1_id_match_updates_user_id_and_email(target, emulator) -> None:
    seeded = emulator.seed_contact(external_id="old", email="old@example.com", name="Old")
    rec = {"id": seeded["id"], "user_id": "new", "email": "new@example.com", "name": "New"}
    result = target.run([schema(), record(rec)])
    assert result.returncode == 0, result
    [contact] = users(emulator)
    assert contact["id"] == seeded["id"]
    assert (contact["external_id"], contact["email"], contact["name"]) == ("new", "new@example.com", "New")


def test_rule_1_id_wins_over_a_user_id_that_matches_another_user(target, emulator) -> None:
    by_id = emulator.seed_contact(external_id="a", email="a@example.com")
    emulator.seed_contact(external_id="b", email="b@example.com")
    result = target.run([schema(), record({"id": by_id["id"], "email": "a2@example.com"})])
    assert result.returncode == 0, result
    assert emulator.contact(by_id["id"])["email"] == "a2@example.com"
    assert len(users(emulator)) == 2


def test_rule_2_user_id_match_updates_the_email(target, emulator) -> None:
    seeded = emulator.seed_contact(external_id="u1", email="before@example.com")
    result = target.run([schema(), record({"user_id": "u1", "email": "after@example.com"})])
    assert result.returncode == 0, result
    [contact] = users(emulator)
    assert contact["id"] == seeded["id"]
    assert contact["email"] == "after@example.com"


def test_rule_3_email_match_without_user_id_sets_the_user_id(target, emulator) -> None:
    seeded = emulator.seed_contact(email="ann@example.com", name="Ann")
    result = target.run([schema(), record({"user_id": "u7", "email": "ann@example.com"})])
    assert result.returncode == 0, result
    [contact] = users(emulator)
    assert contact["id"] == seeded["id"]
    assert contact["external_id"] == "u7"


def test_rule_4_email_match_with_another_user_id_creates_a_new_user(target, emulator) -> None:
    seeded = emulator.seed_contact(external_id="u1", email="shared@example.com")
    result = target.run([schema(), record({"user_id": "u2", "email": "shared@example.com", "name": "Two"})])
    assert result.returncode == 0, result
    contacts = users(emulator)
    assert [c["external_id"] for c in contacts] == ["u1", "u2"]
    assert contacts[0]["id"] == seeded["id"]
    assert contacts[1]["email"] == "shared@example.com"


def test_email_only_record_updates_the_user_with_that_email(target, emulator) -> None:
    seeded = emulator.seed_contact(external_id="u1", email="solo@example.com")
    result = target.run([schema(), record({"email": "solo@example.com", "name": "Solo"})])
    assert result.returncode == 0, result
    [contact] = users(emulator)
    assert (contact["id"], contact["external_id"], contact["name"]) == (seeded["id"], "u1", "Solo")


def test_leads_with_the_same_email_are_not_matched(target, emulator) -> None:
    lead = emulator.seed_contact(email="lead@example.com", role="lead")
    result = target.run([schema(), record({"email": "lead@example.com", "name": "Now a user"})])
    assert result.returncode == 0, result
    contacts = users(emulator)
    assert len(contacts) == 2
    assert emulator.contact(lead["id"])["role"] == "lead"
    assert [c["role"] for c in contacts if c["id"] != lead["id"]] == ["user"]


def test_a_record_without_identifiers_is_rejected_with_the_reason(target, emulator) -> None:
    result = target.run([schema(), state(0), record({"name": "Nobody"}), state(1)])
    assert result.returncode == 1
    assert "line 3: has none of the identifiers id, user_id, email" in result.stderr
    assert result.states == [0]
    assert emulator.contacts() == []


def test_email_shared_by_several_users_is_ambiguous(target, emulator) -> None:
    emulator.seed_contact(external_id="a", email="twin@example.com")
    emulator.seed_contact(external_id="b", email="twin@example.com")
    result = target.run([schema(), record({"email": "twin@example.com", "name": "Which?"})])
    assert result.returncode == 1
    assert "2 Intercom users have this email; send a user_id to pick one" in result.stderr


def test_two_records_for_one_user_in_a_batch_end_as_one_contact_with_the_later_values(target, emulator) -> None:
    messages = [
        schema(),
        record({"user_id": "u1", "email": "first@example.com", "name": "First", "plan": "free"}),
        record({"user_id": "u2", "email": "other@example.com"}),
        record({"email": "first@example.com", "name": "Second"}),
        record({"user_id": "u1", "plan": "pro"}),
        state(1),
    ]
    result = target.run(messages)
    assert result.returncode == 0, result
    contacts = {c["external_id"]: c for c in users(emulator)}
    assert set(contacts) == {"u1", "u2"}
    assert contacts["u1"]["name"] == "Second"
    assert contacts["u1"]["custom_attributes"]["plan"] == "pro"


def test_users_created_earlier_in_the_run_are_found_although_search_lags(target, emulator) -> None:
    emulator.configure(search_lag=600)
    messages = [schema()]
    messages += [record({"user_id": f"u{i}", "email": f"u{i}@example.com"}) for i in range(5)]
    messages += [record({"user_id": f"u{i}", "name": f"User {i}"}) for i in range(5)]
    messages += [record({"email": f"u{i}@example.com", "plan": "pro"}) for i in range(5)]
    result = target.run(messages, config={"batch_size": 2})
    assert result.returncode == 0, result
    contacts = users(emulator)
    assert len(contacts) == 5
    assert all(c["name"].startswith("User") and c["custom_attributes"]["plan"] == "pro" for c in contacts)
    assert emulator.count("POST /contacts") == 5


def test_a_conflict_on_create_updates_the_contact_intercom_names(target, emulator) -> None:
    """A user created elsewhere moments ago is invisible to search; the 409 names it."""
    emulator.configure(search_lag=600)
    response = httpx.post(
        emulator.url + "/contacts",
        json={"role": "user", "external_id": "fresh", "email": "fresh@example.com"},
        headers={"Authorization": f"Bearer {emulator.token}", "Intercom-Version": "2.14"},
    )
    assert response.status_code == 200
    existing = response.json()["id"]
    result = target.run([schema(), record({"user_id": "fresh", "name": "Fresh"}), state(1)])
    assert result.returncode == 0, result
    [contact] = users(emulator)
    assert (contact["id"], contact["name"]) == (existing, "Fresh")
    assert result.states == [1]


def test_running_the_same_input_twice_creates_no_duplicates_and_writes_nothing_new(target, emulator) -> None:
    messages = [schema()] + [
        record({"user_id": f"u{i}", "email": f"u{i}@example.com", "name": f"User {i}", "seats": i, "paid": i % 2 == 0})
        for i in range(30)
    ] + [state({"n": 30})]
    first = target.run(messages)
    assert first.returncode == 0, first
    writes_after_first = emulator.count("POST /contacts") + emulator.count("PUT /contacts/{id}")
    second = target.run(messages)
    assert second.returncode == 0, second
    assert len(emulator.contacts()) == 30
    assert emulator.count("POST /contacts") + emulator.count("PUT /contacts/{id}") == writes_after_first
    assert "unchanged 30" in second.stderr
    assert second.states == [{"n": 30}]


def test_a_taps_own_id_can_be_declared_the_user_id(target, emulator) -> None:
    overrides = {"user_id": "id", "id": None}
    messages = [schema("users", {"id": {"type": "integer"}, "email": {}}), record({"id": 7, "email": "seven@example.com"})]
    result = target.run(messages, config={"reserved_field_overrides": overrides})
    assert result.returncode == 0, result
    [contact] = users(emulator)
    assert (contact["external_id"], contact["email"]) == ("7", "seven@example.com")
    assert emulator.count("GET /contacts/{id}") == 0


def test_ids_that_are_not_intercom_ids_are_warned_about_once_and_cost_no_lookups(target, emulator) -> None:
    messages = [schema()] + [record({"id": str(i), "email": f"p{i}@example.com"}) for i in range(5)]
    result = target.run(messages)
    assert result.returncode == 0, result
    assert len(users(emulator)) == 5
    assert result.stderr.count("records name Intercom contact ids that do not exist") == 1
    assert emulator.count("GET /contacts/{id}") == 0
