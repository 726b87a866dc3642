"""Intercom's answers as recordings of the real API show them: archived and deleted contacts, leads, rule 3
across search lag, owners, merged contacts, and the rate-limit headers."""

from __future__ import annotations

import time
from typing import Any, Dict

from tests.conftest import record, schema, state

REJECTS = {"rejected_records_file": "rejects.jsonl"}


def summary(result) -> str:
    [line] = [line for line in result.stderr.splitlines() if line.startswith("INFO summary:")]
    return line


def by_user_id(emulator) -> Dict[str, Dict[str, Any]]:
    return {c["external_id"]: c for c in emulator.contacts()}


def test_a_user_archived_in_intercom_is_skipped_by_default_and_the_run_succeeds(target, emulator) -> None:
    archived = emulator.seed_contact(external_id="u1", email="u1@example.com", name="Old", archived=True)
    messages = [schema(), record({"user_id": "u1", "email": "u1@example.com", "name": "New"}),
                record({"user_id": "u2", "email": "u2@example.com"}), state(1)]
    result = target.run(messages, config={**REJECTS, "max_rejected_records": 0})
    assert result.returncode == 0, result
    assert result.states == [1]
    assert emulator.contact(archived["id"])["name"] == "Old"
    assert emulator.contact(archived["id"])["archived"] is True
    assert [(r["error_code"], r["identifiers"]["user_id"]) for r in result.rejects] == [("archived_in_intercom", "u1")]
    assert "rejected 0, skipped (archived in Intercom) 1" in summary(result)
    assert "unarchive it in Intercom" not in result.stderr


def test_unarchive_brings_an_archived_user_back_and_updates_it(target, emulator) -> None:
    archived = emulator.seed_contact(external_id="u1", email="u1@example.com", name="Old", archived=True)
    messages = [schema(), record({"user_id": "u1", "email": "u1@example.com", "name": "New"}), state(1)]
    result = target.run(messages, config={"archived_contacts": "unarchive"})
    assert result.returncode == 0, result
    back = emulator.contact(archived["id"])
    assert (back["archived"], back["name"]) == (False, "New")
    assert len(emulator.contacts()) == 1
    assert "updated 1" in summary(result) and "unarchived 1" in summary(result)


def test_a_user_deleted_in_intercom_is_skipped_whatever_the_setting(target, emulator) -> None:
    emulator.seed_contact(external_id="gone", email="gone@example.com", deleted=True)
    messages = [schema(), record({"user_id": "gone", "email": "gone@example.com", "name": "Back?"}), state(1)]
    skip = target.run(messages, config=REJECTS)
    assert skip.returncode == 0, skip
    assert [r["error_code"] for r in skip.rejects] == ["archived_in_intercom"]
    unarchive = target.run(messages, config={**REJECTS, "archived_contacts": "unarchive",
                                             "rejected_records_file": "rejects2.jsonl"})
    assert unarchive.returncode == 0, unarchive
    assert [r["error_code"] for r in unarchive.rejects] == ["deleted_in_intercom"]
    assert "not restorable" in unarchive.rejects[0]["reason"]
    assert "skipped (deleted in Intercom) 1" in summary(unarchive)
    assert emulator.contacts() == []
    assert unarchive.states == [1]


def test_a_record_naming_a_lead_by_its_intercom_id_turns_it_into_that_user(target, emulator) -> None:
    lead = emulator.seed_contact(email="lead@example.com", role="lead")
    messages = [schema(), record({"id": lead["id"], "user_id": "u9", "name": "Now a user"}), state(1)]
    result = target.run(messages)
    assert result.returncode == 0, result
    contact = emulator.contact(lead["id"])
    assert (contact["role"], contact["external_id"], contact["name"]) == ("user", "u9", "Now a user")
    again = target.run(messages)
    assert again.returncode == 0, again
    assert "unchanged 1" in summary(again)


def test_a_user_created_while_search_did_not_show_its_email_twin_is_reported_by_the_next_run(target, emulator) -> None:
    emulator.configure(search_lag=2)
    # Created elsewhere (the Messenger, another tool) moments ago: an email, no user_id, invisible to search.
    emulator.seed_contacts([{"email": "ann@example.com", "name": "Ann"}], visible=False)
    messages = [schema(), record({"user_id": "u7", "email": "ann@example.com"})]
    first = target.run(messages)
    assert first.returncode == 0, first
    # Intercom does not match on email when a user_id is sent: a second user, not a 409.
    assert sorted(c["external_id"] or "" for c in emulator.contacts()) == ["", "u7"]
    time.sleep(2.5)
    second = target.run(messages)
    assert second.returncode == 0, second
    assert "1 users share an email with a user that has no user_id" in second.stderr
    assert "share an email" not in first.stderr


def test_rule_3_holds_once_search_shows_the_user_created_elsewhere(target, emulator) -> None:
    emulator.configure(search_lag=2)
    emulator.seed_contacts([{"email": "ann@example.com", "name": "Ann"}], visible=False)
    [ann] = emulator.contacts()
    time.sleep(2.5)  # the window is the search lag: past it, rule 3 gives the user_id
    result = target.run([schema(), record({"user_id": "u7", "email": "ann@example.com"})])
    assert result.returncode == 0, result
    assert [(c["id"], c["external_id"]) for c in emulator.contacts()] == [(ann["id"], "u7")]


def test_owner_ids_that_name_no_admin_are_rejected_before_sending(target, emulator) -> None:
    emulator.seed_admin(id=7, name="Ops")
    props = {"user_id": {}, "email": {}, "owner_id": {}}
    messages = [schema("users", props)] + [
        record({"user_id": f"u{i}", "email": f"u{i}@example.com", "owner_id": owner})
        for i, owner in enumerate([7, 99, 7, "7"])
    ]
    result = target.run(messages, config={**REJECTS, "max_rejected_records": 1})
    assert result.returncode == 0, result
    assert sorted(by_user_id(emulator)) == ["u0", "u2", "u3"]
    [reject] = result.rejects
    assert (reject["error_code"], reject["identifiers"]["user_id"]) == ("unknown_owner", "u1")
    assert "owner_id 99 is not an admin of the Intercom workspace" in reject["reason"]
    assert emulator.count("GET /admins") == 1
    assert emulator.count("POST /contacts") == 3


def test_a_record_naming_a_merged_contact_updates_the_contact_it_became(target, emulator) -> None:
    user = emulator.seed_contact(external_id="u1", email="u1@example.com", name="Kept")
    lead = emulator.seed_contact(email="u1@example.com", role="lead")
    emulator.merge_contacts(lead["id"], user["id"])
    messages = [schema(), record({"id": lead["id"], "name": "Renamed"}), state(1)]
    result = target.run(messages, config={"intercom_version": "2.16"})
    assert result.returncode == 0, result
    assert emulator.contact(user["id"])["name"] == "Renamed"
    assert len(emulator.contacts()) == 1


def test_recorded_rate_limit_headers_cost_at_most_one_429_over_several_windows(target, emulator) -> None:
    """Intercom counts Remaining before the request and refills 2 s before its advertised reset."""
    assert emulator.settings["recorded_rate_limit_headers"] is True
    emulator.configure(rate_limit_per_minute=60)
    users = [schema()] + [record({"user_id": f"u{i}", "email": f"u{i}@example.com"}) for i in range(18)] + [state(1)]
    result = target.run(users, config={"batch_size": 10})
    assert result.returncode == 0, result
    assert len(emulator.contacts()) == 18
    assert emulator.rate_limited <= 1
    assert result.states == [1]
