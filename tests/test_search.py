"""The batch lookup's searches: only plausible values, both casings of an email, and refusals split, not fatal.

Nothing documents how many values one IN filter may hold, so a search Intercom
refuses (400) is split and searched again in halves; only a single value
Intercom refuses on its own rejects the records that need it.
"""

from __future__ import annotations

from typing import Any, Dict, List

from tests.conftest import record, schema, state

PROPS: Dict[str, Any] = {"id": {}, "user_id": {}, "email": {}, "name": {}}
SEARCH = r"^/contacts/search$"


def searches(emulator) -> List[Any]:
    return [r for r in emulator.requests if r.endpoint == "POST /contacts/search"]


def in_filters(query: Dict[str, Any]) -> List[Dict[str, Any]]:
    """The IN filters of a query, at any depth."""
    if query.get("operator") in ("AND", "OR"):
        return [f for child in query["value"] for f in in_filters(child)]
    return [query] if query.get("operator") == "IN" else []


def searched_values(emulator, field: str) -> List[str]:
    filters = [f for r in searches(emulator) for f in in_filters(r.body["query"])]
    return [v for f in filters if f["field"] == field for v in f["value"]]


def by_user(emulator) -> Dict[str, Dict[str, Any]]:
    return {c["external_id"]: c for c in emulator.contacts()}


def test_only_values_that_can_be_intercom_ids_are_searched_as_ids(target, emulator) -> None:
    seeded = emulator.seed_contact(external_id="u1", email="u1@example.com", name="Old")
    messages = [
        schema("users", PROPS),
        record({"id": seeded["id"], "name": "New"}),
        record({"id": "42", "user_id": "u2", "name": "Two"}),
        record({"id": "not/an-id", "email": "u3@example.com"}),
    ]
    result = target.run(messages)
    assert result.returncode == 0, result
    assert searched_values(emulator, "id") == [seeded["id"]]
    assert by_user(emulator)["u1"]["name"] == "New"


def test_emails_are_searched_in_both_casings_and_compared_without_case(target, emulator) -> None:
    emulator.seed_contact(external_id="u1", email="ada@example.com", name="Ada")
    emulator.seed_contact(email="bob@example.com", name="Bob")
    messages = [
        schema("users", PROPS),
        record({"user_id": "u1", "email": "Ada@Example.COM", "name": "Ada"}),
        record({"email": "BOB@example.com", "name": "Bob"}),
        state(1),
    ]
    for run in range(2):
        result = target.run(messages)
        assert result.returncode == 0, result
        assert "created 0, updated 0, unchanged 2, rejected 0;" in result.stderr
    assert emulator.count("PUT /contacts/{id}") + emulator.count("POST /contacts") == 0
    emails = searched_values(emulator, "email")
    assert {"Ada@Example.COM", "ada@example.com", "BOB@example.com", "bob@example.com"} <= set(emails)


def users(count: int, **extra: Any) -> List[Dict]:
    return [
        record({"user_id": f"u{i}", "email": f"u{i}@example.com", "name": f"User {i}", **extra}) for i in range(count)
    ]


def test_a_refused_search_is_split_and_every_user_is_still_written_once(target, emulator) -> None:
    existing = {f"u{i}": emulator.seed_contact(external_id=f"u{i}", email=f"u{i}@example.com", name="Old")["id"]
                for i in range(0, 10, 2)}
    # The first three searches are refused: the whole query, its first half, and that half's first half.
    emulator.fail_next(3, status=400, match_path=SEARCH)
    result = target.run([schema("users", PROPS), *users(10), state(1)], config={"batch_size": 10})
    assert result.returncode == 0, result
    assert result.states == [1]
    contacts = by_user(emulator)
    assert sorted(contacts) == sorted(f"u{i}" for i in range(10))
    assert all(contacts[u]["id"] == contact_id for u, contact_id in existing.items())
    assert all(c["name"] == f"User {u[1:]}" for u, c in contacts.items())
    assert "created 5, updated 5, unchanged 0, rejected 0;" in result.stderr
    warnings = [line for line in result.stderr.splitlines() if "refused a contact search" in line]
    assert warnings == [
        "WARNING Intercom refused a contact search of 2 IN filters with 20 values in all (400 bad_request); "
        "searching again in smaller parts (records are rejected only for a value Intercom refuses on its own)"
    ]
    assert "@example.com" not in warnings[0]


def test_a_query_shape_intercom_refuses_is_not_sent_again(target, emulator) -> None:
    """The whole query refused, both halves accepted: later batches search in that smaller shape."""
    emulator.fail_next(1, status=400, match_path=SEARCH)
    result = target.run([schema("users", PROPS), *users(6), state(1)], config={"batch_size": 3, "max_concurrency": 1})
    assert result.returncode == 0, result
    assert len(by_user(emulator)) == 6
    shapes = [len(in_filters(r.body["query"])) for r in searches(emulator)]
    assert shapes == [2, 1, 1, 1, 1]


def test_records_are_rejected_only_for_a_single_value_intercom_refuses(target, emulator) -> None:
    emulator.seed_contact(external_id="u0", email="u0@example.com", name="Old")
    emulator.fail_next(None, status=400, match_path=SEARCH)
    config = {"max_rejected_records": 5, "rejected_records_file": "rejects.jsonl"}
    result = target.run([schema("users", PROPS), *users(2), state(1)], config=config)
    assert result.returncode == 0, result
    assert result.states == [1]
    assert [(r["identifiers"]["user_id"], r["reason"], r["error_code"]) for r in result.rejects] == [
        ("u0", "Intercom refused the search for its user_id (400 bad_request: Bad Request)", "bad_request"),
        ("u1", "Intercom refused the search for its user_id (400 bad_request: Bad Request)", "bad_request"),
    ]
    # Split down to single values of single filters (2 user_ids, 2 emails): 1 + 2 + 4 searches.
    assert emulator.count("POST /contacts/search") == 7
    assert emulator.count("POST /contacts") + emulator.count("PUT /contacts/{id}") == 0
    assert by_user(emulator)["u0"]["name"] == "Old"
    assert len([line for line in result.stderr.splitlines() if "refused a contact search" in line]) == 1
