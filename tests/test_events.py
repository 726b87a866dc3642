"""The events stream: records become Intercom data events (POST /events), through the CLI against the emulator."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List, Optional

import pytest

from tests.conftest import record, schema, state

EVENT_PROPS: Dict[str, Any] = {
    "event_name": {"type": "string"},
    "created_at": {"type": ["string", "integer", "number"], "format": "date-time"},
    "user_id": {"type": ["null", "string"]},
    "email": {"type": ["null", "string"]},
    "id": {"type": ["null", "string"]},
}
EVENTS = {"users_stream": None, "events_stream": "events"}
BOTH = {"users_stream": "users", "events_stream": "events"}
MAY1 = 1714564800  # 2024-05-01T12:00:00Z


def events_schema(extra: Optional[Dict[str, Any]] = None) -> Dict:
    return schema("events", {**EVENT_PROPS, **(extra or {})}, key_properties=())


def event(rec: Dict[str, Any]) -> Dict:
    return record(rec, stream="events")


def summary(result) -> str:
    [line] = [line for line in result.stderr.splitlines() if line.startswith("INFO summary:")]
    return line


def stored(emulator) -> List[tuple]:
    """(event_name, created_at, how the user was named, metadata) of every event Intercom holds, by time
    (events go out concurrently, so Intercom may store them in any order)."""
    out = []
    for e in emulator.events():
        named = next((f"{k}={e[k]}" for k in ("user_id", "email", "id") if e[k]), None)
        out.append((e["event_name"], e["created_at"], named, e["metadata"]))
    return sorted(out, key=lambda e: (e[1], e[0]))


def warnings(result, text: str) -> List[str]:
    return [line for line in result.stderr.splitlines() if line.startswith("WARNING") and text in line]


# ---- 1. the stream and its fields -----------------------------------------------------------------------


def test_event_records_become_data_events_with_their_user_time_and_metadata(target, emulator) -> None:
    emulator.seed_contact(external_id="u1", email="one@example.com")
    emulator.seed_contact(email="two@example.com")
    three = emulator.seed_contact(external_id="u3")
    messages = [
        events_schema({"plan": {"type": "string"}, "seats": {"type": "integer"}}),
        event({"event_name": "signed_up", "created_at": "2024-05-01T12:00:00Z", "user_id": "u1", "plan": "pro"}),
        event({"event_name": "invoice_paid", "created_at": MAY1 + 60, "email": "two@example.com", "seats": 3}),
        event({"event_name": "seat_added", "created_at": MAY1 + 120.9, "id": three["id"]}),
        state(1),
    ]
    result = target.run(messages, config=EVENTS)
    assert result.returncode == 0, result
    assert stored(emulator) == [
        ("signed_up", MAY1, "user_id=u1", {"plan": "pro"}),
        ("invoice_paid", MAY1 + 60, "email=two@example.com", {"seats": 3}),
        ("seat_added", MAY1 + 120, f"id={three['id']}", {}),
    ]
    assert result.states == [1]
    assert "3 events read; sent 3, duplicates 0, rejected 0;" in summary(result)


def test_the_metadata_field_holds_the_metadata_in_its_schema_order(target, emulator) -> None:
    emulator.seed_contact(external_id="u1")
    metadata_schema = {"type": ["null", "object"], "properties": {"invoice": {}, "amount": {}}}
    messages = [
        events_schema({"metadata": metadata_schema, "source": {}}),
        event({
            "event_name": "invoice_paid", "created_at": MAY1, "user_id": "u1", "source": "warehouse",
            "metadata": {"amount": 120, "invoice": "INV-1"},
        }),
        event({"event_name": "seat_added", "created_at": MAY1, "user_id": "u1", "metadata": None}),
    ]
    result = target.run(messages, config=EVENTS)
    assert result.returncode == 0, result
    [paid, seat] = sorted(emulator.events(), key=lambda e: e["event_name"])
    # The other fields of the record are not metadata when it has a metadata field.
    assert list(paid["metadata"].items()) == [("invoice", "INV-1"), ("amount", 120)]
    assert seat["metadata"] == {}


def test_events_field_overrides_name_the_source_fields(target, emulator) -> None:
    emulator.seed_contact(external_id="7", email="seven@example.com")
    props = {"action": {}, "occurred_at": {}, "account_user": {}, "email": {}, "props": {}}
    overrides = {"event_name": "action", "created_at": "occurred_at", "user_id": "account_user",
                 "email": None, "metadata": "props"}
    messages = [
        schema("events", props, key_properties=()),
        event({"action": "seat_added", "occurred_at": "2024-05-01T14:00:00+02:00", "account_user": 7,
               "email": "ignored@example.com", "props": {"seats": 2}}),
    ]
    result = target.run(messages, config={**EVENTS, "events_field_overrides": overrides})
    assert result.returncode == 0, result
    # An integer user_id is sent as its decimal text; a time zone is honoured.
    [only] = emulator.events()
    assert (only["event_name"], only["created_at"], only["metadata"]) == ("seat_added", MAY1, {"seats": 2})
    assert emulator.requests[-1].body == {
        "event_name": "seat_added", "created_at": MAY1, "user_id": "7", "metadata": {"seats": 2}
    }


def test_records_without_a_name_a_time_or_a_user_are_rejected(target, emulator) -> None:
    emulator.seed_contact(external_id="u1")
    messages = [
        events_schema(),
        event({"created_at": MAY1, "user_id": "u1"}),
        event({"event_name": "signed_up", "user_id": "u1"}),
        event({"event_name": "signed_up", "created_at": "yesterday", "user_id": "u1"}),
        event({"event_name": "signed_up", "created_at": MAY1}),
        event({"event_name": "signed_up", "created_at": MAY1, "user_id": "u1"}),
        state(1),
    ]
    config = {**EVENTS, "max_rejected_records": 4, "rejected_records_file": "rejects.jsonl"}
    result = target.run(messages, config=config)
    assert result.returncode == 0, result
    assert [(r["line"], r["error_code"], r["reason"]) for r in result.rejects] == [
        (2, "missing_field", "has no event_name (the event's name)"),
        (3, "missing_field", "has no created_at (when the event happened)"),
        (4, "invalid_value", 'created_at: expected an ISO 8601 date-time, got "yesterday"'),
        (5, "missing_identifier", "has none of user_id, email, id (the event's user)"),
    ]
    assert len(emulator.events()) == 1
    assert "5 events read; sent 1, duplicates 0, rejected 4;" in summary(result)
    assert result.states == [1]


def test_event_bodies_conform_to_intercoms_openapi_description(target, emulator) -> None:
    spec_dir = Path(__file__).resolve().parents[1].parent / "shared" / "intercom-openapi"
    if not spec_dir.is_dir():
        pytest.skip(f"Intercom's OpenAPI files are not available ({spec_dir})")
    pytest.importorskip("yaml")
    from intercom_emulator.openapi import load_spec, request_schema, validate

    lead = emulator.seed_contact(role="lead", email="lead@example.com")
    emulator.seed_contact(external_id="u1", email="one@example.com")
    messages = [
        events_schema({"metadata": {}}),
        event({"event_name": "a", "created_at": MAY1, "user_id": "u1",
               "metadata": {"link": {"url": "https://x.example", "value": "X"}, "price": {"amount": 1999,
                            "currency": "eur"}, "n": 1.5, "ok": True, "tags": ["a", "b"]}}),
        event({"event_name": "b", "created_at": MAY1, "email": "one@example.com"}),
        event({"event_name": "c", "created_at": MAY1, "id": lead["id"]}),
    ]
    result = target.run(messages, config=EVENTS)
    assert result.returncode == 0, result
    bodies = [r.body for r in emulator.requests if r.endpoint == "POST /events"]
    assert len(bodies) == 3 and len(emulator.events()) == 3
    preview = request_schema(load_spec(spec_dir / "intercom-preview.yaml"), "post", "/events")
    assert [problem for body in bodies for problem in validate(body, preview)] == []
    # 2.14 and 2.16 type metadata values as strings, though the operation's own description (2.14:9757-9776)
    # documents numbers, booleans, rich links and monetary amounts, which Preview's schema allows: the rest
    # of each body is checked against them.
    for version in ("2.14", "2.16"):
        body_schema = request_schema(load_spec(spec_dir / f"intercom-{version}.yaml"), "post", "/events")
        texts = [{**body, "metadata": {k: v for k, v in body.get("metadata", {}).items() if isinstance(v, str)}}
                 for body in bodies]
        assert [problem for body in texts for problem in validate(body, body_schema)] == []


# ---- 2. metadata rules ----------------------------------------------------------------------------------


def test_more_than_ten_metadata_keys_keep_the_first_ten_of_the_schema_with_one_warning(target, emulator) -> None:
    emulator.seed_contact(external_id="u1")
    names = [f"k{i:02}" for i in range(12, 0, -1)]  # the SCHEMA declares k12 first
    messages = [events_schema({name: {"type": "integer"} for name in names})]
    for n in range(3):
        values = {f"k{i:02}": i for i in range(1, 13)}  # the records list k01 first
        messages.append(event({"event_name": "e", "created_at": MAY1 + n, "user_id": "u1", **values}))
    result = target.run(messages, config=EVENTS)
    assert result.returncode == 0, result
    kept = names[:10]
    for e in emulator.events():
        assert list(e["metadata"]) == kept
        assert e["ignored_metadata_keys"] == []
    assert warnings(result, "metadata keys") == [
        "WARNING events: Intercom keeps at most 10 metadata keys; sending " + ", ".join(kept)
        + " (the SCHEMA's order) and leaving out k02, k01; list the keys to keep in event_metadata_keys"
    ]


def test_event_metadata_keys_choose_the_keys_to_send(target, emulator) -> None:
    emulator.seed_contact(external_id="u1")
    values = {f"k{i:02}": i for i in range(1, 13)}
    messages = [events_schema(), event({"event_name": "e", "created_at": MAY1, "user_id": "u1", **values})]
    result = target.run(messages, config={**EVENTS, "event_metadata_keys": ["k12", "k03", "absent"]})
    assert result.returncode == 0, result
    [e] = emulator.events()
    assert list(e["metadata"].items()) == [("k12", 12), ("k03", 3)]
    assert warnings(result, "metadata keys") == []


def test_metadata_values_are_made_flat_except_links_and_amounts_and_dates_become_unix_seconds(target, emulator) -> None:
    emulator.seed_contact(external_id="u1")
    props = {"renews_at": {"type": "string", "format": "date-time"}, "plan": {"type": "object"}}
    messages = [
        events_schema(props),
        event({
            "event_name": "invoice_paid", "created_at": MAY1, "user_id": "u1",
            "renews_at": "2024-06-01T00:00:00Z",
            "plan": {"name": "pro", "limits": {"seats": 5}},
            "invoice": {"url": "https://billing.example/inv/1", "value": "INV-1"},
            "price": {"amount": 1999, "currency": "EUR"},
            "lines": ["seat", "addon"],
            "trial_end_date": "2024-05-15",
            "paid_date": "unknown",
            "paid": True, "ratio": 0.5, "coupon": None,
        }),
    ]
    result = target.run(messages, config=EVENTS)
    assert result.returncode == 0, result
    [e] = emulator.events()
    assert e["metadata"] == {
        "renews_at": 1717200000,
        "plan__name": "pro",
        "plan__limits__seats": 5,
        "invoice": {"url": "https://billing.example/inv/1", "value": "INV-1"},
        "price": {"amount": 1999, "currency": "EUR"},
        "lines": '["seat","addon"]',
        "trial_end_date": 1715731200,
        "paid_date": "unknown",
        "paid": True,
        "ratio": 0.5,
    }


def test_metadata_text_over_255_characters_follows_long_text(target, emulator) -> None:
    emulator.seed_contact(external_id="u1")
    long_note = "n" * 300
    messages = [
        events_schema(),
        event({"event_name": "e", "created_at": MAY1, "user_id": "u1", "note": long_note}),
        event({"event_name": "e", "created_at": MAY1 + 1, "user_id": "u1", "note": long_note}),
    ]
    result = target.run(messages, config=EVENTS)
    assert result.returncode == 0, result
    assert [e["metadata"]["note"] for e in emulator.events()] == ["n" * 255] * 2
    assert warnings(result, "are cut to 255") == [
        "WARNING event metadata 'note': values longer than Intercom's 255 characters are cut to 255 "
        "(long_text is truncate; set it to reject to reject such records instead)"
    ]
    assert "2 events read; sent 2, duplicates 0, rejected 0, truncated 2;" in summary(result)

    emulator.reset()
    emulator.seed_contact(external_id="u1")
    config = {**EVENTS, "long_text": "reject", "max_rejected_records": 2, "rejected_records_file": "rejects.jsonl"}
    rejected = target.run(messages, config=config)
    assert rejected.returncode == 0, rejected
    assert emulator.events() == []
    assert [r["reason"] for r in rejected.rejects] == [
        "metadata 'note' is 300 characters long; Intercom stores at most 255"
    ] * 2


def test_metadata_keys_intercom_refuses_and_amounts_not_in_cents_reject_the_record(target, emulator) -> None:
    emulator.seed_contact(external_id="u1")
    messages = [
        events_schema(),
        event({"event_name": "e", "created_at": MAY1, "user_id": "u1", "page.url": "/pricing"}),
        event({"event_name": "e", "created_at": MAY1 + 1, "user_id": "u1", "price": {"amount": 19.99,
                                                                                      "currency": "EUR"}}),
        event({"event_name": "e", "created_at": MAY1 + 2, "user_id": "u1", "plan": "pro"}),
    ]
    config = {**EVENTS, "max_rejected_records": 2, "rejected_records_file": "rejects.jsonl"}
    result = target.run(messages, config=config)
    assert result.returncode == 0, result
    assert [(r["error_code"], r["reason"]) for r in result.rejects] == [
        ("invalid_metadata_key",
         "metadata key 'page.url' holds ., which Intercom refuses in metadata keys "
         "(. $ NUL ~ ` ! @ # % ^ & * ' { } | \\ \"); rename the field in the tap, or leave it out with "
         "event_metadata_keys"),
        ("invalid_value",
         "metadata 'price' is a monetary amount: amount must be a whole number of cents "
         "(expected an integer, got 19.99)"),
    ]
    assert [e["metadata"] for e in emulator.events()] == [{"plan": "pro"}]
    # Left out by event_metadata_keys, the key no longer stands in the way.
    again = target.run(messages[:2], config={**EVENTS, "event_metadata_keys": ["plan"]})
    assert again.returncode == 0, again
    assert len(emulator.events()) == 2


# ---- 3. ordering and users ------------------------------------------------------------------------------


def users_schema() -> Dict:
    return schema("users", {"user_id": {}, "email": {}, "name": {}}, key_properties=("user_id",))


def test_an_event_for_a_user_written_in_the_same_run_is_sent_once_the_write_is_confirmed(target, emulator) -> None:
    # Creates are applied late: an event sent alongside its user's create would find no user (404).
    emulator.delay_next(None, seconds=0.3, after_processing=False, match_method="POST", match_path="^/contacts$")
    messages = [users_schema(), events_schema()]
    for i in range(5):
        messages.append(record({"user_id": f"new{i}", "email": f"new{i}@example.com"}))
    for i in range(5):
        named = {"user_id": f"new{i}"} if i % 2 else {"email": f"NEW{i}@example.com"}
        messages.append(event({"event_name": "signed_up", "created_at": MAY1, **named}))
    messages.append(state(1))
    result = target.run(messages, config={**BOTH, "batch_size": 2})
    assert result.returncode == 0, result
    assert len(emulator.events()) == 5
    assert "5 events read; sent 5, duplicates 0, rejected 0;" in summary(result)
    created = {r.body["external_id"]: r.time + r.duration for r in emulator.requests if r.endpoint == "POST /contacts"}
    for r in (r for r in emulator.requests if r.endpoint == "POST /events"):
        user = r.body.get("user_id") or r.body["email"].lower().split("@")[0]
        assert r.time >= created[user], f"the event of {user} was sent before its user was written"
    assert result.states == [1]


def test_an_event_read_before_its_users_record_is_sent_first_and_the_user_written_after(target, emulator) -> None:
    emulator.seed_contact(external_id="u1", name="Old")
    emulator.delay_next(None, seconds=0.3, after_processing=False, match_method="POST", match_path="^/events$")
    messages = [
        users_schema(), events_schema(),
        event({"event_name": "renamed", "created_at": MAY1, "user_id": "u1"}),
        record({"user_id": "u1", "name": "New"}),
    ]
    result = target.run(messages, config=BOTH)
    assert result.returncode == 0, result
    [sent] = [r for r in emulator.requests if r.endpoint == "POST /events"]
    [updated] = [r for r in emulator.requests if r.endpoint == "PUT /contacts/{id}"]
    assert updated.time >= sent.time + sent.duration


def test_events_for_users_intercom_does_not_hold_are_skipped_and_listed(target, emulator) -> None:
    emulator.seed_contact(external_id="u1")
    emulator.seed_contact(external_id="gone", archived=True)
    lead = emulator.seed_contact(role="lead", email="lead@example.com")
    messages = [
        events_schema(),
        event({"event_name": "e", "created_at": MAY1, "user_id": "nobody"}),
        event({"event_name": "e", "created_at": MAY1, "user_id": "gone"}),
        event({"event_name": "e", "created_at": MAY1, "email": "lead@example.com"}),
        event({"event_name": "e", "created_at": MAY1, "id": lead["id"]}),
        event({"event_name": "e", "created_at": MAY1, "user_id": "u1"}),
        state(1),
    ]
    # max_rejected_records 0: skips do not count toward it.
    result = target.run(messages, config={**EVENTS, "rejected_records_file": "rejects.jsonl"})
    assert result.returncode == 0, result
    assert "5 events read; sent 2, duplicates 0, rejected 0, skipped (user not in Intercom) 3;" in summary(result)
    def reason(field: str) -> str:
        return (f"Intercom has no user with this {field} (never created, or archived or deleted); "
                "an event for a lead must name it by Intercom's id")

    # Events go out concurrently: the file lists them as they settle.
    assert sorted((r["line"], r["error_code"], r["reason"]) for r in result.rejects) == [
        (2, "user_not_found", reason("user_id")),
        (3, "user_not_found", reason("user_id")),
        (4, "user_not_found", reason("email")),
    ]
    assert sorted(e["id"] or e["user_id"] for e in emulator.events()) == sorted([lead["id"], "u1"])
    assert result.states == [1]


def test_an_event_whose_user_was_rejected_earlier_is_still_tried_and_its_skip_says_why(target, emulator) -> None:
    emulator.seed_contact(external_id="known", email="known@example.com")
    messages = [
        users_schema(), events_schema(),
        record({"user_id": "missing", "email": "not an email"}),
        record({"user_id": "known", "email": "also not an email"}),
        event({"event_name": "e", "created_at": MAY1, "user_id": "missing"}),
        event({"event_name": "e", "created_at": MAY1, "user_id": "known"}),
    ]
    config = {**BOTH, "max_rejected_records": 2, "rejected_records_file": "rejects.jsonl"}
    result = target.run(messages, config=config)
    assert result.returncode == 0, result
    [skip] = [r for r in result.rejects if r["error_code"] == "user_not_found"]
    assert skip["line"] == 5
    assert skip["reason"].endswith(
        "; this run did not write the user either: its record at line 3 was not loaded: "
        "email: is not a valid email address"
    ), skip["reason"]
    # The user whose record was rejected still exists in Intercom from before: its event is sent.
    assert [e["user_id"] for e in emulator.events()] == ["known"]
    assert "2 events read; sent 1, duplicates 0, rejected 0, skipped (user not in Intercom) 1;" in summary(result)


# ---- 4. replays -----------------------------------------------------------------------------------------


def test_a_replay_of_the_same_input_counts_no_event_twice(target, emulator) -> None:
    for i in range(3):
        emulator.seed_contact(external_id=f"u{i}")
    messages = [events_schema({"plan": {}})]
    messages += [event({"event_name": "seat_added", "created_at": MAY1 + n, "user_id": f"u{n % 3}", "plan": "pro"})
                 for n in range(6)]
    messages.append(state({"bookmark": 6}))
    first = target.run(messages, config=EVENTS)
    assert first.returncode == 0, first
    assert len(emulator.events()) == 6
    again = target.run(messages, config=EVENTS)
    assert again.returncode == 0, again
    # Intercom drops each repeat of (user, name, created_at): still six events, each user's counted once.
    assert len(emulator.events()) == 6
    assert emulator.stats()["events_deduplicated"] == 6
    assert [len(emulator.events(contact_id=c["id"])) for c in emulator.contacts()] == [2, 2, 2]
    assert again.states == [{"bookmark": 6}]


def test_an_event_repeated_in_the_input_is_sent_once_and_counted_as_a_duplicate(target, emulator) -> None:
    emulator.seed_contact(external_id="u1", email="one@example.com")
    messages = [
        events_schema(),
        event({"event_name": "signed_up", "created_at": "2024-05-01T12:00:00Z", "user_id": "u1"}),
        event({"event_name": "signed_up", "created_at": MAY1, "user_id": "u1"}),  # the same time, as Unix seconds
        event({"event_name": "signed_up", "created_at": MAY1 + 1, "user_id": "u1"}),
        event({"event_name": "signed_up", "created_at": MAY1, "email": "ONE@example.com"}),
        event({"event_name": "signed_up", "created_at": MAY1, "email": "one@example.com"}),
    ]
    result = target.run(messages, config={**EVENTS, "batch_size": 2})
    assert result.returncode == 0, result
    assert emulator.count("POST /events") == 3
    assert "5 events read; sent 3, duplicates 2, rejected 0;" in summary(result)


# ---- 5. cost --------------------------------------------------------------------------------------------


def test_an_event_costs_one_call_and_the_events_of_a_batch_go_out_together(target, emulator) -> None:
    emulator.seed_contacts({"external_id": f"u{i}"} for i in range(10))
    emulator.configure(latency=0.05)
    messages = [events_schema()]
    messages += [event({"event_name": "e", "created_at": MAY1 + n, "user_id": f"u{n % 10}"}) for n in range(60)]
    result = target.run(messages, config=EVENTS)
    assert result.returncode == 0, result
    assert emulator.counts() == {"POST /events": 60}
    spans = sorted((r.time, r.time + r.duration) for r in emulator.requests)
    overlapping = max(sum(1 for start, end in spans if start <= t < end) for t, _ in spans)
    assert overlapping >= 10, overlapping


# ---- 6. limits ------------------------------------------------------------------------------------------


def test_more_than_120_distinct_names_warn_once_before_they_are_sent(target, emulator) -> None:
    emulator.seed_contact(external_id="u1")
    messages = [events_schema()]
    messages += [event({"event_name": f"name_{n}", "created_at": MAY1, "user_id": "u1"}) for n in range(125)]
    config = {**EVENTS, "max_rejected_records": 5, "batch_size": 100}
    result = target.run(messages, config=config)
    assert result.returncode == 0, result
    lines = result.stderr.splitlines()
    [warning] = [i for i, line in enumerate(lines) if "distinct event names" in line]
    assert lines[warning] == (
        "WARNING events: this run sends at least 125 distinct event names, more than the 120 active event names "
        "Intercom stores per workspace; Intercom refuses events under a new name once the workspace holds 120 "
        "(those events are rejected)"
    )
    rejections = [i for i, line in enumerate(lines) if "rejected the record" in line]
    assert len(rejections) == 5 and warning < min(rejections)
    assert "125 events read; sent 120, duplicates 0, rejected 5;" in summary(result)


# ---- 7. dry run and configuration -----------------------------------------------------------------------


def test_a_dry_run_counts_events_duplicates_and_rejections_and_sends_nothing(target, emulator) -> None:
    emulator.seed_contact(external_id="u1")
    messages = [
        events_schema(),
        event({"event_name": "a", "created_at": MAY1, "user_id": "u1"}),
        event({"event_name": "b", "created_at": MAY1, "user_id": "u1"}),
        event({"event_name": "a", "created_at": MAY1, "user_id": "u1"}),
        event({"event_name": "c", "created_at": "later", "user_id": "u1"}),
    ]
    result = target.run(messages, config=EVENTS, args=["--dry-run"])
    assert result.returncode == 0, result
    plan = [line for line in result.stderr.splitlines() if line.startswith("plan")]
    assert plan[0] == "plan (dry run, nothing was written): send 2, duplicates 1, reject 1"
    rejection = 'created_at: expected an ISO 8601 date-time, got "later"'
    assert f"plan: reject the record at line 5 (user_id u1): {rejection}" in plan
    assert emulator.count() == 0 and emulator.events() == []
    assert "4 events read; planned (dry run): sent 2, duplicates 1, rejected 1;" in summary(result)


@pytest.mark.parametrize(
    "settings, error",
    [
        ({"events_field_overrides": {"name": "x"}},
         "config: events_field_overrides names name, which is not an Intercom event field "
         "(event_name, created_at, user_id, email, id, metadata)"),
        ({"event_metadata_keys": [f"k{i}" for i in range(11)]},
         "config: event_metadata_keys: must hold at most 10 items"),
        ({"users_stream": "events"}, 'config: users_stream and events_stream name the same stream ("events")'),
    ],
)
def test_event_settings_are_checked_before_reading(target, settings, error) -> None:
    result = target.run([events_schema()], config={**EVENTS, **settings})
    assert result.returncode == 2, result
    assert error in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
