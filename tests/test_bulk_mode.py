"""write_mode bulk: users through Intercom's Preview bulk contacts jobs."""

from __future__ import annotations

from typing import Any, Dict, List

import pytest

from tests.conftest import record, schema, state

BULK = {"write_mode": "bulk"}


def users(count: int, start: int = 0, **extra: Any) -> List[Dict]:
    return [
        record({"user_id": f"u{i}", "email": f"u{i}@example.com", "name": f"User {i}", **extra})
        for i in range(start, start + count)
    ]


def by_user_id(emulator) -> Dict[str, Dict[str, Any]]:
    return {c["external_id"]: c for c in emulator.contacts()}


def test_new_users_go_out_as_bulk_create_tasks_of_one_job(target, emulator) -> None:
    messages = [schema(), *users(150, plan="pro"), state({"n": 150})]
    result = target.run(messages, config=BULK)
    assert result.returncode == 0, result
    assert result.states == [{"n": 150}]
    contacts = by_user_id(emulator)
    assert len(contacts) == 150
    assert contacts["u149"]["custom_attributes"] == {"plan": "pro"}
    assert contacts["u149"]["role"] == "user"
    assert emulator.count("POST /contacts") == 0
    assert emulator.count("POST /contacts/bulk") == 2
    bulk_requests = [r for r in emulator.requests if "/bulk" in r.path]
    assert {r.version for r in bulk_requests} == {"Preview"}
    assert {r.version for r in emulator.requests if r not in bulk_requests} == {"2.14"}
    assert sum(len(job["tasks"]) for job in emulator.bulk_jobs()) == 2


def test_existing_users_go_out_as_bulk_update_tasks(target, emulator) -> None:
    seeded = [emulator.seed_contact(external_id=f"u{i}", email=f"u{i}@example.com", name="Old") for i in range(5)]
    messages = [schema(), *users(8), state(1)]
    result = target.run(messages, config=BULK)
    assert result.returncode == 0, result
    contacts = by_user_id(emulator)
    assert len(contacts) == 8
    assert all(contacts[f"u{i}"]["id"] == seeded[i]["id"] and contacts[f"u{i}"]["name"] == f"User {i}" for i in range(5))
    assert emulator.count("PUT /contacts/bulk") == 1
    assert emulator.count("POST /contacts/bulk") == 1
    assert emulator.count("PUT /contacts/{id}") == 0
    assert "created 3, updated 5" in result.stderr


def test_changes_bulk_update_cannot_make_go_through_the_stable_api(target, emulator) -> None:
    emulator.seed_contact(external_id="u0", email="u0@example.com", name="Old", signed_up_at=1000)
    emulator.seed_contact(external_id="u1", email="u1@example.com", name="Old", signed_up_at=1000)
    messages = [
        schema(),
        record({"user_id": "u0", "name": "New", "signed_up_at": "2024-01-02T03:04:05Z"}),
        record({"user_id": "u1", "name": "New"}),
    ]
    result = target.run(messages, config=BULK)
    assert result.returncode == 0, result
    contacts = by_user_id(emulator)
    assert (contacts["u0"]["name"], contacts["u0"]["signed_up_at"]) == ("New", 1704164645)
    assert (contacts["u1"]["name"], contacts["u1"]["signed_up_at"]) == ("New", 1000)
    assert emulator.count("PUT /contacts/{id}") == 1
    assert emulator.count("PUT /contacts/bulk") == 1


def test_records_for_one_user_in_a_batch_are_written_in_order(target, emulator) -> None:
    messages = [
        schema(),
        record({"user_id": "u1", "email": "u1@example.com", "name": "First"}),
        *users(3, start=2),
        record({"user_id": "u1", "name": "Last"}),
    ]
    result = target.run(messages, config=BULK)
    assert result.returncode == 0, result
    contacts = by_user_id(emulator)
    assert len(contacts) == 4
    assert contacts["u1"]["name"] == "Last"


def run_one_failing_task(target, emulator, messages: List[Dict]):
    """Run with one rejection allowed; the batch must have gone out as one task that reports errors."""
    result = target.run(
        messages, config={**BULK, "max_rejected_records": 1, "rejected_records_file": "rejects.jsonl"}
    )
    assert result.returncode == 0, result
    [job] = emulator.bulk_jobs()
    assert [task["state"] for task in job["tasks"]] == ["completed_with_errors"]
    return result


def test_items_a_task_failed_are_found_out_and_written_or_rejected_with_the_reason(target, emulator) -> None:
    """completed_with_errors says nothing per item: the target checks each item itself."""
    emulator.configure(search_lag=600)
    emulator.seed_data_attribute("tier", "options", options=[{"value": "gold"}, {"value": "silver"}])
    # Created elsewhere moments ago: invisible to search, so the bulk create of u1 fails.
    emulator.seed_contacts([{"external_id": "u1", "email": "u1@example.com", "name": "Elsewhere"}], visible=False)
    messages = [
        schema("users", {"user_id": {"type": "string"}, "email": {"type": "string"},
                         "name": {"type": "string"}, "tier": {"type": "string"}}),
        state(0),
        record({"user_id": "u0", "email": "u0@example.com", "name": "Zero", "tier": "gold"}),
        record({"user_id": "u1", "email": "u1@example.com", "name": "One", "tier": "silver"}),
        record({"user_id": "u2", "email": "u2@example.com", "name": "Two", "tier": "platinum"}),
        state(1),
    ]
    result = run_one_failing_task(target, emulator, messages)
    contacts = by_user_id(emulator)
    assert set(contacts) == {"u0", "u1"}
    assert contacts["u1"]["name"] == "One"
    assert [r["identifiers"]["user_id"] for r in result.rejects] == ["u2"]
    assert "Intercom refused it (400" in result.rejects[0]["reason"]
    assert "tier" in result.rejects[0]["reason"]
    assert result.states == [0, 1]


def test_a_failed_update_task_updates_the_good_items_and_rejects_the_bad_one(target, emulator) -> None:
    emulator.seed_data_attribute("tier", "options", options=[{"value": "gold"}, {"value": "silver"}])
    for i in range(3):
        emulator.seed_contact(external_id=f"u{i}", email=f"u{i}@example.com", name="Old",
                              custom_attributes={"tier": "gold"})
    messages = [
        schema("users", {"user_id": {"type": "string"}, "name": {"type": "string"}, "tier": {"type": "string"}}),
        record({"user_id": "u0", "name": "Zero", "tier": "silver"}),
        record({"user_id": "u1", "name": "One", "tier": "platinum"}),
        record({"user_id": "u2", "name": "Two", "tier": "gold"}),
        state(1),
    ]
    result = run_one_failing_task(target, emulator, messages)
    contacts = by_user_id(emulator)
    assert (contacts["u0"]["name"], contacts["u0"]["custom_attributes"]["tier"]) == ("Zero", "silver")
    assert (contacts["u1"]["name"], contacts["u1"]["custom_attributes"]["tier"]) == ("Old", "gold")
    assert contacts["u2"]["name"] == "Two"
    # One search found the two items written as sent; only the third was sent again.
    assert emulator.count("PUT /contacts/{id}") == 1
    assert [r["identifiers"]["user_id"] for r in result.rejects] == ["u1"]
    assert "tier" in result.rejects[0]["reason"]
    assert result.states == [1]


@pytest.mark.parametrize("status", [400, 403, 404, 405])
def test_a_workspace_that_refuses_the_bulk_endpoints_falls_back_to_the_contacts_api(
    target, emulator, status: int
) -> None:
    emulator.fail_next(None, status=status, match_path=r"^/contacts/bulk")
    result = target.run([schema(), *users(120), state(1)], config=BULK)
    assert result.returncode == 0, result
    assert len(emulator.contacts()) == 120
    lines = [line for line in result.stderr.splitlines() if "bulk contacts endpoints are not available" in line]
    assert len(lines) == 1
    assert f"({status}" in lines[0] or f" {status} " in lines[0]
    assert emulator.count("POST /contacts") == 120
    assert result.states == [1]


def test_an_unknown_bulk_job_when_polling_fails_the_run_in_one_line(target, emulator) -> None:
    emulator.fail_next(None, status=404, match_method="GET", match_path=r"^/contacts/bulk/")
    result = target.run([schema(), state(0), *users(3), state(1)], config=BULK)
    assert result.returncode == 1, result
    assert result.states == [0]
    assert "Traceback" not in result.stderr
    [line] = [line for line in result.stderr.splitlines() if line.startswith("ERROR ")]
    assert line.startswith("ERROR Intercom refused to report on bulk job ") and "(404 not_found:" in line


def test_without_the_preview_endpoints_the_run_falls_back_to_the_contacts_api(target, emulator) -> None:
    emulator.configure(bulk_enabled=False)
    result = target.run([schema(), *users(30), state(1)], config=BULK)
    assert result.returncode == 0, result
    assert len(emulator.contacts()) == 30
    lines = [line for line in result.stderr.splitlines() if "bulk contacts endpoints are not available" in line]
    assert len(lines) == 1
    assert emulator.count("POST /contacts") == 30
    assert result.states == [1]


def test_state_waits_for_the_job_and_a_job_that_never_finishes_fails_the_run(target, emulator) -> None:
    emulator.configure(bulk_task_delay=3600)
    messages = [schema(), state(0), *users(3), state(1)]
    result = target.run(messages, config={**BULK, "bulk_job_timeout": 2})
    assert result.returncode == 1
    assert result.states == [0]
    assert "did not finish task" in result.stderr


def test_a_user_id_with_url_characters_is_found_by_external_id(target, emulator) -> None:
    """find_by_external_id puts the user_id in the path: "/", "?", "#", "%" and spaces must arrive encoded."""
    odd = "a/b?c#d%e f"
    emulator.configure(search_lag=600)
    # Created elsewhere moments ago: search does not show it, so its bulk create fails and is checked.
    emulator.seed_contacts([{"external_id": odd, "email": "odd@example.com", "name": "Odd"}], visible=False)
    messages = [
        schema(),
        record({"user_id": odd, "email": "odd@example.com", "name": "Odd"}),
        record({"user_id": "plain", "email": "plain@example.com", "name": "Plain"}),
        state(1),
    ]
    result = target.run(messages, config=BULK)
    assert result.returncode == 0, result
    [job] = emulator.bulk_jobs()
    assert [task["state"] for task in job["tasks"]] == ["completed_with_errors"]
    finds = [r for r in emulator.requests if r.endpoint == "GET /contacts/find_by_external_id/{external_id}"]
    assert [(r.path, r.status) for r in finds if "plain" not in r.path] == [
        ("/contacts/find_by_external_id/a%2Fb%3Fc%23d%25e%20f", 200)
    ]
    # Found holding the record's values: neither created again nor updated.
    assert emulator.count("POST /contacts") + emulator.count("PUT /contacts/{id}") == 0
    assert sorted(c["external_id"] for c in emulator.contacts()) == sorted([odd, "plain"])
    assert result.states == [1]


def calls(emulator) -> Dict[str, int]:
    """Every request of the run but the bulk job polls, whose number depends on timing."""
    return {e: n for e, n in emulator.counts().items() if e != "GET /contacts/bulk/{id}"}


def test_a_new_user_sharing_an_email_is_created_through_the_stable_api_not_the_bulk_task(target, emulator) -> None:
    """Bulk create rejects an item whose email any contact holds; users sharing an email are normal."""
    other = emulator.seed_contact(external_id="other", email="shared@example.com", name="Other")
    messages = [
        schema(),
        record({"user_id": "u0", "email": "shared@example.com", "name": "User 0"}),
        *users(99, start=1),
        state(1),
    ]
    result = target.run(messages, config=BULK)
    assert result.returncode == 0, result
    assert result.states == [1]
    contacts = by_user_id(emulator)
    assert len(contacts) == 101
    assert (contacts["u0"]["email"], contacts["other"]["id"]) == ("shared@example.com", other["id"])
    [job] = emulator.bulk_jobs()
    assert [task["state"] for task in job["tasks"]] == ["completed"]
    # The lookup (one search, the attribute listing), one bulk task, one stable create: 2 calls for 100 users.
    assert calls(emulator) == {
        "POST /contacts/search": 1,
        "GET /data_attributes": 1,
        "POST /contacts/bulk": 1,
        "POST /contacts": 1,
    }
    assert "created 100, updated 0, unchanged 0, rejected 0;" in result.stderr


def test_a_task_with_errors_is_checked_with_one_search_and_lookups_only_for_its_misses(target, emulator) -> None:
    emulator.seed_data_attribute("tier", "options", options=[{"value": "gold"}, {"value": "silver"}])
    messages = [
        schema("users", {"user_id": {}, "email": {}, "name": {}, "tier": {}}),
        *users(99, tier="gold"),
        record({"user_id": "bad", "email": "bad@example.com", "tier": "platinum"}),
        state(1),
    ]
    result = run_one_failing_task(target, emulator, messages)
    assert len(by_user_id(emulator)) == 99
    assert [r["identifiers"]["user_id"] for r in result.rejects] == ["bad"]
    # Lookup: search and attribute listing. Then 4 calls: the bulk task, one search checking its 100
    # items, one lookup by user_id for the one it did not find, and the stable create that is refused.
    assert calls(emulator) == {
        "POST /contacts/search": 2,
        "GET /data_attributes": 1,
        "POST /contacts/bulk": 1,
        "GET /contacts/find_by_external_id/{external_id}": 1,
        "POST /contacts": 1,
    }
    [check] = [r for r in emulator.requests if r.endpoint == "POST /contacts/search"][1:]
    assert len(check.body["query"]["value"][1]["value"]) == 100
    assert "created 99, updated 0, unchanged 0, rejected 1;" in result.stderr
    assert result.states == [1]
