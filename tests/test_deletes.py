"""Records deleted at the source (`_sdc_deleted_at`): users archived or deleted, companies deleted, events skipped."""

from __future__ import annotations

import threading
import time
from typing import Any, Dict, List, Optional

from intercom_emulator.testing import make_client
from tests.conftest import record, schema, state

AT = "2026-01-02T03:04:05Z"
PROPS: Dict[str, Any] = {
    "user_id": {"type": ["null", "string"]},
    "email": {"type": ["null", "string"]},
    "id": {"type": ["null", "string"]},
    "name": {"type": ["null", "string"]},
    "seats": {"type": ["null", "integer"]},
    "_sdc_deleted_at": {"type": ["null", "string"], "format": "date-time"},
}
COMPANY_PROPS: Dict[str, Any] = {
    "company_id": {"type": ["string"]},
    "name": {"type": ["null", "string"]},
    "_sdc_deleted_at": {"type": ["null", "string"]},
}
COMPANIES = {"users_stream": None, "companies_stream": "companies"}
BULK = {"write_mode": "bulk"}


def users_schema() -> Dict:
    return schema("users", PROPS, key_properties=("user_id",))


def user(user_id: str, **fields: Any) -> Dict:
    return record({"user_id": user_id, "email": f"{user_id}@example.com", **fields})


def gone(user_id: str, **fields: Any) -> Dict:
    return record({"user_id": user_id, "_sdc_deleted_at": AT, **fields})


def summary(result) -> str:
    [line] = [line for line in result.stderr.splitlines() if line.startswith("INFO summary:")]
    return line


def contact(emulator, user_id: str) -> Optional[Dict[str, Any]]:
    """The user as Intercom holds it, archived or not (None when deleted or never created)."""
    found = [c for c in emulator.contacts(include_archived=True) if c["external_id"] == user_id]
    return found[0] if found else None


def seed(emulator, *user_ids: str) -> List[Dict[str, Any]]:
    return [emulator.seed_contact(external_id=u, email=f"{u}@example.com", name="Old") for u in user_ids]


# -- users, stable API --------------------------------------------------------------------------------


def test_a_deleted_user_is_archived_by_default(target, emulator) -> None:
    seed(emulator, "u1", "u2")
    result = target.run([users_schema(), gone("u1", name="Stale"), user("u2", name="New"), state(1)])
    assert result.returncode == 0, result
    assert contact(emulator, "u1")["archived"] is True
    assert contact(emulator, "u1")["name"] == "Old"  # archived, not written
    assert contact(emulator, "u2")["name"] == "New"
    assert emulator.count("POST /contacts/{id}/archive") == 1
    assert emulator.count("PUT /contacts/{id}") == 1
    assert "archived 1" in summary(result) and "updated 1" in summary(result)
    assert result.states == [1]


def test_delete_mode_delete_deletes_the_user_for_good(target, emulator) -> None:
    [u1] = seed(emulator, "u1")
    result = target.run([users_schema(), gone("u1"), state(1)], config={"delete_mode": "delete"})
    assert result.returncode == 0, result
    assert contact(emulator, "u1") is None
    assert [c["id"] for c in emulator.deleted_contacts()] == [u1["id"]]
    assert emulator.count("DELETE /contacts/{id}") == 1
    assert emulator.count("POST /contacts/{id}/archive") == 0
    assert "deleted 1" in summary(result)
    assert result.states == [1]


def test_delete_mode_ignore_neither_writes_nor_removes_and_says_so_once(target, emulator) -> None:
    seed(emulator, "u1", "u2")
    messages = [users_schema(), gone("u1", name="Stale"), gone("u2", name="Stale"), state(1)]
    result = target.run(messages, config={"delete_mode": "ignore"})
    assert result.returncode == 0, result
    assert contact(emulator, "u1")["archived"] is False and contact(emulator, "u1")["name"] == "Old"
    assert emulator.count("POST /contacts/{id}/archive") + emulator.count("PUT /contacts/{id}") == 0
    assert emulator.count("POST /contacts/search") == 0  # nothing to look up
    assert "skipped (deleted at source, ignored) 2" in summary(result)
    assert result.stderr.count("delete_mode is ignore") == 1
    assert result.states == [1]


def test_a_user_not_in_intercom_is_already_gone_not_an_error(target, emulator) -> None:
    archived = emulator.seed_contact(external_id="u2", email="u2@example.com", archived=True)
    messages = [
        users_schema(),
        gone("u1"),  # never created
        gone("u2"),  # archived before: search does not show it
        record({"id": "0123456789abcdef01234567", "_sdc_deleted_at": AT}),  # an Intercom id no contact has
        state(1),
    ]
    result = target.run(messages, config={"rejected_records_file": "rejects.jsonl"})
    assert result.returncode == 0, result
    assert "already gone 3" in summary(result) and "rejected 0" in summary(result)
    assert result.rejects == []
    assert emulator.count("POST /contacts/{id}/archive") == 0
    assert emulator.contact(archived["id"])["archived"] is True
    assert result.states == [1]


def test_a_user_archived_meanwhile_404_is_already_gone(target, emulator) -> None:
    seed(emulator, "u1")
    emulator.fail_next(1, status=404, code="not_found", message="User Not Found", match_path=r"/archive$")
    result = target.run([users_schema(), gone("u1"), state(1)])
    assert result.returncode == 0, result
    assert "already gone 1" in summary(result)
    assert result.states == [1]


def test_an_ambiguous_email_is_rejected_as_a_write_would_be(target, emulator) -> None:
    emulator.seed_contact(external_id="a", email="twin@example.com")
    emulator.seed_contact(external_id="b", email="twin@example.com")
    seed(emulator, "u3")
    messages = [users_schema(), record({"email": "twin@example.com", "_sdc_deleted_at": AT}), gone("u3"), state(1)]
    result = target.run(messages, config={"rejected_records_file": "rejects.jsonl", "max_rejected_records": 5})
    assert result.returncode == 0, result
    assert [r["error_code"] for r in result.rejects] == ["ambiguous_email"]
    assert emulator.count("POST /contacts/{id}/archive") == 1
    assert [c["external_id"] for c in emulator.contacts(include_archived=True) if c["archived"]] == ["u3"]
    assert "rejected 1" in summary(result) and "archived 1" in summary(result)


def test_intercom_refusing_an_archive_rejects_the_record_and_holds_state_back(target, emulator) -> None:
    seed(emulator, "u1")
    emulator.fail_next(1, status=400, code="parameter_invalid", message="Nope", match_path=r"/archive$")
    result = target.run([users_schema(), gone("u1"), state(1)], config={"rejected_records_file": "rejects.jsonl"})
    assert result.returncode != 0, result
    assert [r["error_code"] for r in result.rejects] == ["parameter_invalid"]
    assert result.states == []
    assert len([line for line in result.stderr.splitlines() if "ERROR" in line or "error:" in line]) >= 1
    assert "Traceback" not in result.stderr


def test_state_is_printed_once_the_deletes_before_it_are_confirmed(target, emulator) -> None:
    seed(emulator, "u1", "u2")
    messages = [users_schema(), gone("u1"), state(1), gone("u2"), state(2)]
    result = target.run(messages, config={"batch_size": 1})
    assert result.returncode == 0, result
    assert result.states == [1, 2]
    assert contact(emulator, "u1")["archived"] and contact(emulator, "u2")["archived"]


def test_a_deleted_record_with_values_that_would_not_map_still_deletes(target, emulator) -> None:
    seed(emulator, "u1")
    # seats breaks the SCHEMA and could not become an integer attribute; plan would need a new attribute.
    tombstone = gone("u1", seats="lots", plan="pro", email="not an email")
    result = target.run([users_schema(), tombstone, state(1)], config={"rejected_records_file": "rejects.jsonl"})
    assert result.returncode == 0, result
    assert contact(emulator, "u1")["archived"] is True
    assert result.rejects == []
    assert [a["name"] for a in emulator.data_attributes("contact") if a["custom"]] == []
    assert emulator.count("POST /data_attributes") == 0


# -- order within a run ---------------------------------------------------------------------------------


def test_a_user_created_then_deleted_in_one_batch_ends_archived(target, emulator) -> None:
    result = target.run([users_schema(), user("u1", name="A"), gone("u1"), state(1)])
    assert result.returncode == 0, result
    assert contact(emulator, "u1")["archived"] is True
    assert "created 1" in summary(result) and "archived 1" in summary(result)


def test_a_user_created_then_deleted_across_batches_ends_archived(target, emulator) -> None:
    messages = [users_schema(), user("u1", name="A"), gone("u1"), user("u2"), state(1)]
    result = target.run(messages, config={"batch_size": 1})
    assert result.returncode == 0, result
    assert contact(emulator, "u1")["archived"] is True
    assert "created 2" in summary(result) and "archived 1" in summary(result)


def test_a_user_sent_again_after_its_deletion_in_the_same_run_meets_the_archive(target, emulator) -> None:
    seed(emulator, "u1")
    messages = [users_schema(), gone("u1"), user("u1", name="Back"), state(1)]
    result = target.run(messages, config={"rejected_records_file": "rejects.jsonl"})
    assert result.returncode == 0, result
    assert contact(emulator, "u1")["archived"] is True and contact(emulator, "u1")["name"] == "Old"
    assert "skipped (archived in Intercom) 1" in summary(result)
    assert [r["error_code"] for r in result.rejects] == ["archived_in_intercom"]


# -- archived_contacts and delete_mode, over two runs --------------------------------------------------


def test_archived_then_sent_again_is_skipped_by_default(target, emulator) -> None:
    seed(emulator, "u1")
    assert target.run([users_schema(), gone("u1"), state(1)]).returncode == 0
    again = target.run([users_schema(), user("u1", name="Back"), state(2)])
    assert again.returncode == 0, again
    assert contact(emulator, "u1")["archived"] is True and contact(emulator, "u1")["name"] == "Old"
    assert "skipped (archived in Intercom) 1" in summary(again)
    assert again.states == [2]


def test_archived_then_sent_again_is_unarchived_with_archived_contacts_unarchive(target, emulator) -> None:
    [u1] = seed(emulator, "u1")
    assert target.run([users_schema(), gone("u1"), state(1)]).returncode == 0
    again = target.run([users_schema(), user("u1", name="Back"), state(2)], config={"archived_contacts": "unarchive"})
    assert again.returncode == 0, again
    back = contact(emulator, "u1")
    assert (back["id"], back["archived"], back["name"]) == (u1["id"], False, "Back")
    assert "unarchived 1" in summary(again) and "updated 1" in summary(again)


def test_deleted_for_good_then_sent_again_is_skipped_as_deleted(target, emulator) -> None:
    seed(emulator, "u1")
    first = target.run([users_schema(), gone("u1"), state(1)], config={"delete_mode": "delete"})
    assert first.returncode == 0, first
    again = target.run(
        [users_schema(), user("u1", name="Back"), state(2)],
        config={"archived_contacts": "unarchive", "rejected_records_file": "rejects.jsonl"},
    )
    assert again.returncode == 0, again
    assert contact(emulator, "u1") is None
    assert "skipped (deleted in Intercom) 1" in summary(again)
    assert [r["error_code"] for r in again.rejects] == ["deleted_in_intercom"]


def test_deleted_for_good_then_sent_again_in_the_same_run_is_skipped_as_deleted(target, emulator) -> None:
    seed(emulator, "u1")
    messages = [users_schema(), gone("u1"), user("u1", name="Back"), state(1)]
    result = target.run(messages, config={"delete_mode": "delete"})
    assert result.returncode == 0, result
    assert "deleted 1" in summary(result) and "skipped (deleted in Intercom) 1" in summary(result)


# -- dry run -------------------------------------------------------------------------------------------


def test_dry_run_removes_nothing_and_plans_the_removals(target, emulator) -> None:
    seed(emulator, "u1", "u2")
    messages = [users_schema(), gone("u1"), gone("u2"), gone("u3"), state(1)]
    result = target.run(messages, args=["--dry-run"])
    assert result.returncode == 0, result
    assert all(not c["archived"] for c in emulator.contacts(include_archived=True))
    assert emulator.count("POST /contacts/{id}/archive") == 0
    assert "archive 2" in result.stderr and "already gone 1" in result.stderr
    deleting = target.run(messages, args=["--dry-run"], config={"delete_mode": "delete"})
    assert "plan (dry run, nothing was written): " in deleting.stderr and "delete 2" in deleting.stderr
    assert emulator.count("DELETE /contacts/{id}") == 0 and emulator.deleted_contacts() == []


# -- companies -----------------------------------------------------------------------------------------


def companies_schema() -> Dict:
    return schema("companies", COMPANY_PROPS, key_properties=("company_id",))


def company(company_id: str, **fields: Any) -> Dict:
    return record({"company_id": company_id, **fields}, stream="companies")


def test_a_deleted_company_is_deleted_and_its_users_detached(target, emulator) -> None:
    [u1] = seed(emulator, "u1")
    acme = emulator.seed_company(company_id="acme", name="Acme", external_ids=["u1"])
    messages = [companies_schema(), company("acme", _sdc_deleted_at=AT), company("gone", _sdc_deleted_at=AT), state(1)]
    result = target.run(messages, config=COMPANIES)
    assert result.returncode == 0, result
    assert emulator.count("DELETE /companies/{id}") == 1
    assert emulator.company(acme["id"])["archived"] is True
    assert emulator.contact(u1["id"])["companies"]["data"] == []
    assert "deleted 1" in summary(result) and "already gone 1" in summary(result)
    assert result.states == [1]


def test_a_company_written_then_deleted_in_one_run_is_deleted_without_a_lookup(target, emulator) -> None:
    messages = [companies_schema(), company("acme", name="Acme"), company("acme", _sdc_deleted_at=AT), state(1)]
    result = target.run(messages, config=COMPANIES)
    assert result.returncode == 0, result
    assert [c["company_id"] for c in emulator.companies()] == []
    assert emulator.count("GET /companies") == 0
    assert "created 1" in summary(result) and "deleted 1" in summary(result)


def test_delete_mode_ignore_leaves_companies_alone(target, emulator) -> None:
    emulator.seed_company(company_id="acme", name="Acme")
    result = target.run([companies_schema(), company("acme", _sdc_deleted_at=AT)], config={**COMPANIES, "delete_mode": "ignore"})
    assert result.returncode == 0, result
    assert emulator.company(company_id="acme") is not None
    assert "skipped (deleted at source, ignored) 1" in summary(result)


# -- bulk mode -----------------------------------------------------------------------------------------


def test_bulk_mode_deletes_users_through_bulk_delete_jobs(target, emulator) -> None:
    seed(emulator, *[f"u{i}" for i in range(150)])
    messages = [users_schema(), *[gone(f"u{i}") for i in range(150)], state(1)]
    result = target.run(messages, config={**BULK, "delete_mode": "delete", "batch_size": 150})
    assert result.returncode == 0, result
    assert emulator.count("POST /contacts/bulk/delete") == 2
    assert emulator.count("DELETE /contacts/{id}") == 0
    assert len(emulator.deleted_contacts()) == 150 and emulator.contacts() == []
    assert "deleted 150" in summary(result)
    assert result.states == [1]


def test_bulk_mode_archives_through_the_stable_api(target, emulator) -> None:
    seed(emulator, "u1", "u2")
    result = target.run([users_schema(), gone("u1"), gone("u2"), state(1)], config=BULK)
    assert result.returncode == 0, result
    assert emulator.count("POST /contacts/{id}/archive") == 2
    assert emulator.count("POST /contacts/bulk/delete") == 0
    assert "archived 2" in summary(result)


def test_bulk_delete_falls_back_to_the_stable_api_without_the_preview_endpoints(target, emulator) -> None:
    emulator.configure(bulk_enabled=False)
    seed(emulator, "u1", "u2")
    result = target.run([users_schema(), gone("u1"), gone("u2"), state(1)], config={**BULK, "delete_mode": "delete"})
    assert result.returncode == 0, result
    assert emulator.count("DELETE /contacts/{id}") == 2
    assert "deleted 2" in summary(result)
    assert "bulk delete endpoint is not available" in result.stderr


def test_a_bulk_delete_task_with_errors_is_checked_with_one_search(target, emulator) -> None:
    seeded = seed(emulator, "u1", "u2", "u3")
    emulator.configure(bulk_task_delay=1.0)
    # Someone deletes u2 while the task waits to run: its item fails, the task ends completed_with_errors.
    watcher = threading.Thread(target=_delete_when_bulk_delete_sent, args=(emulator, seeded[1]["id"]), daemon=True)
    watcher.start()
    messages = [users_schema(), gone("u1"), gone("u2"), gone("u3"), state(1)]
    result = target.run(messages, config={**BULK, "delete_mode": "delete", "rejected_records_file": "rejects.jsonl"})
    watcher.join(timeout=5)
    assert result.returncode == 0, result
    [job] = emulator.bulk_jobs()
    assert [task["state"] for task in job["tasks"]] == ["completed_with_errors"]
    assert emulator.count("POST /contacts/search") == 2  # the batch's lookup, and the task's check
    assert emulator.count("DELETE /contacts/{id}") == 1  # the watcher's own
    assert len(emulator.deleted_contacts()) == 3 and result.rejects == []
    assert "deleted 3" in summary(result)
    assert result.states == [1]


def _delete_when_bulk_delete_sent(emulator, contact_id: str) -> None:
    deadline = time.monotonic() + 30
    while emulator.count("POST /contacts/bulk/delete") == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    with make_client(emulator) as client:
        client.delete(f"/contacts/{contact_id}")


def test_a_company_bulk_delete_task_with_errors_is_checked_company_by_company(target, emulator) -> None:
    seeded = [emulator.seed_company(company_id=name, name=name.upper()) for name in ("a", "b")]
    emulator.configure(bulk_task_delay=1.0)
    watcher = threading.Thread(target=_delete_company_when_bulk_delete_sent, args=(emulator, seeded[0]["id"]), daemon=True)
    watcher.start()
    messages = [companies_schema(), company("a", _sdc_deleted_at=AT), company("b", _sdc_deleted_at=AT), state(1)]
    result = target.run(messages, config={**COMPANIES, **BULK, "delete_mode": "delete"})
    watcher.join(timeout=5)
    assert result.returncode == 0, result
    [job] = emulator.bulk_jobs()
    assert [task["state"] for task in job["tasks"]] == ["completed_with_errors"]
    assert emulator.count("DELETE /companies/{id}") == 1  # the watcher's own
    assert emulator.companies() == []
    assert "deleted 2" in summary(result)
    assert result.states == [1]


def _delete_company_when_bulk_delete_sent(emulator, company_id: str) -> None:
    deadline = time.monotonic() + 30
    while emulator.count("POST /companies/bulk/delete") == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    with make_client(emulator) as client:
        client.delete(f"/companies/{company_id}")


def test_bulk_mode_deletes_companies_through_bulk_delete_jobs(target, emulator) -> None:
    for name in ("a", "b", "c"):
        emulator.seed_company(company_id=name, name=name.upper())
    messages = [companies_schema(), *[company(n, _sdc_deleted_at=AT) for n in ("a", "b", "c")], state(1)]
    result = target.run(messages, config={**COMPANIES, **BULK, "delete_mode": "delete"})
    assert result.returncode == 0, result
    assert emulator.count("POST /companies/bulk/delete") == 1
    assert emulator.count("DELETE /companies/{id}") == 0
    assert emulator.companies() == []
    assert "deleted 3" in summary(result)


# -- events, ACTIVATE_VERSION, config ------------------------------------------------------------------


def test_a_deleted_event_is_skipped_with_one_warning(target, emulator) -> None:
    seed(emulator, "u1")
    props = {"user_id": {"type": "string"}, "event_name": {"type": "string"}, "created_at": {"type": "integer"}}
    events = [record({"user_id": "u1", "event_name": "paid", "created_at": 1700000000 + i, "_sdc_deleted_at": AT}, "events") for i in range(2)]
    result = target.run([schema("events", props, ()), *events, state(1)], config={"users_stream": None, "events_stream": "events"})
    assert result.returncode == 0, result
    assert emulator.count("POST /events") == 0
    assert "skipped (deleted at source) 2" in summary(result)
    assert result.stderr.count("Intercom cannot remove an event: ") + result.stderr.count("are skipped: Intercom cannot remove an event") == 1


def test_activate_version_is_ignored_and_the_log_says_why(target, emulator) -> None:
    seed(emulator, "u1")
    messages = [users_schema(), {"type": "ACTIVATE_VERSION", "stream": "users", "version": 1}, state(1)]
    result = target.run(messages)
    assert result.returncode == 0, result
    assert "ACTIVATE_VERSION for stream 'users' ignored: it would remove every Intercom user or company the stream did not send" in result.stderr
    assert contact(emulator, "u1")["archived"] is False


def test_an_unknown_delete_mode_is_a_one_line_error(target, emulator) -> None:
    result = target.run([users_schema()], config={"delete_mode": "purge"})
    assert result.returncode != 0
    assert "config: delete_mode: must be one of archive, delete, ignore (got \"purge\")" in result.stderr
    assert "Traceback" not in result.stderr
