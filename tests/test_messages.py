"""Reading Singer input: message types, schemas, bad lines."""

from __future__ import annotations

import json

from tests.conftest import Result, record, schema, state


def errors(result: Result):
    """The lines a user reads as the reason a run failed (or warned)."""
    return [line for line in result.stderr.splitlines() if line.startswith(("ERROR", "WARNING"))]


def test_other_streams_are_ignored_without_any_api_call(target, emulator) -> None:
    messages = [
        schema("orders", {"id": {"type": "integer"}}),
        record({"id": 1}, stream="orders"),
        record({"id": 2}, stream="orders"),
        state({"orders": 2}),
    ]
    result = target.run(messages)
    assert result.returncode == 0, result
    assert result.states == [{"orders": 2}]
    assert emulator.count() == 0


def test_activate_version_is_accepted_and_unknown_types_are_logged_once(target, emulator) -> None:
    messages = [
        schema(),
        {"type": "ACTIVATE_VERSION", "stream": "users", "version": 1},
        {"type": "BATCH", "stream": "users"},
        {"type": "BATCH", "stream": "users"},
        record({"user_id": "u1", "email": "u1@example.com"}),
        state(1),
    ]
    result = target.run(messages)
    assert result.returncode == 0, result
    assert any(
        line.startswith("INFO line 2: ACTIVATE_VERSION for stream 'users' ignored: it would remove every Intercom user")
        for line in result.stderr.splitlines()
    ), result.stderr
    assert result.stderr.count("messages of type BATCH are not supported") == 1
    assert result.states == [1]
    assert len(emulator.contacts()) == 1


def test_record_before_its_schema_fails_naming_the_line(target, emulator) -> None:
    result = target.run([state(0), record({"user_id": "u1"})])
    assert result.returncode == 1
    assert "line 2: RECORD of stream 'users' arrived before its SCHEMA" in result.stderr
    assert result.states == [0]
    assert emulator.contacts() == []


def test_invalid_json_fails_naming_the_line(target) -> None:
    lines = json.dumps(schema()) + "\n" + '{"type": "RECORD", "stream": "users", "record": {\n'
    result = target.run(lines)
    assert result.returncode == 1
    assert errors(result) == ["ERROR line 2: not valid JSON (Expecting property name enclosed in double quotes at column 50)"]
    assert "Traceback" not in result.stderr


def test_a_line_that_is_not_an_object_fails(target) -> None:
    result = target.run(json.dumps(schema()) + "\n[1, 2]\n")
    assert result.returncode == 1
    assert "line 2: a Singer message must be a JSON object, got list" in result.stderr


def test_records_are_validated_against_their_schema(target, emulator) -> None:
    messages = [schema(), record({"user_id": "u1", "seats": "many"})]
    result = target.run(messages, config={"rejected_records_file": "rejects.jsonl"})
    assert result.returncode == 1
    reason = "does not match the stream's schema: seats: 'many' is not of type 'null', 'integer'"
    assert errors(result) == [f"ERROR rejected the record at line 2 (user_id u1): {reason}"]
    assert result.rejects == [
        {
            "stream": "users",
            "line": 2,
            "identifiers": {"user_id": "u1"},
            "reason": reason,
            "error_code": "schema_violation",
            "record": {"user_id": "u1", "seats": "many"},
        }
    ]
    assert emulator.contacts() == []


def test_blank_lines_are_skipped(target, emulator) -> None:
    text = "\n".join(json.dumps(m) for m in [schema(), record({"user_id": "u1"})]) + "\n\n\n"
    result = target.run(text)
    assert result.returncode == 0, result
    assert len(emulator.contacts()) == 1
