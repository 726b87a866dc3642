"""STATE follows confirmation; errors end the run with one clear line."""

from __future__ import annotations

from tests.conftest import record, schema, state


def users_and_states(count: int, every: int):
    messages = [schema(), state({"seen": 0})]
    for i in range(1, count + 1):
        messages.append(record({"user_id": f"u{i}", "email": f"u{i}@example.com"}))
        if i % every == 0:
            messages.append(state({"seen": i}))
    return messages


def test_states_come_out_in_order_as_bare_values_and_nothing_else(target, emulator) -> None:
    result = target.run(users_and_states(12, 4), config={"batch_size": 5})
    assert result.returncode == 0, result
    assert result.stdout == "".join(f'{{"seen": {i}}}\n' for i in (0, 4, 8, 12))
    assert len(emulator.contacts()) == 12


def test_a_failed_run_prints_no_state_past_the_failure(target, emulator) -> None:
    emulator.fail_writes_after(5, status=500)
    # One request at a time, so the failing writes are exactly those of the second batch.
    config = {"batch_size": 5, "max_retry_time": 1, "max_concurrency": 1}
    result = target.run(users_and_states(15, 5), config=config)
    assert result.returncode == 1
    assert result.states == [{"seen": 0}, {"seen": 5}]
    assert "Intercom did not complete POST /contacts within max_retry_time (1 s); last answer: 500" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_bad_token_is_one_line_and_a_failure(target, emulator) -> None:
    result = target.run(users_and_states(3, 3), config={"access_token": "wrong-token"})
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("ERROR")]
    assert errors == ["ERROR Intercom rejected the access token (401 unauthorized)"]
    assert "wrong-token" not in result.stderr
    assert emulator.contacts() == []
    assert result.states == [{"seen": 0}]


def test_forbidden_quotes_intercoms_code_and_message(target, emulator) -> None:
    """A 403 is not a bad token (that is a 401) but a plan, scope or access Intercom names."""
    emulator.fail_next(None, status=403, match_path=r"^/contacts/search$")
    result = target.run(users_and_states(1, 1))
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("ERROR")]
    assert errors == [
        "ERROR Intercom refused access to POST /contacts/search "
        "(403 forbidden: You do not have access to this resource)"
    ]
    assert "access token" not in result.stderr
    assert result.states == [{"seen": 0}]


def test_throttling_and_server_errors_are_retried_and_every_user_is_written_once(target, emulator) -> None:
    emulator.fail_next(3, status=429, retry_after=0)
    emulator.fail_next(2, status=503, body="html")
    emulator.fail_next(2, status=502)
    result = target.run(users_and_states(20, 10), config={"batch_size": 10})
    assert result.returncode == 0, result
    contacts = emulator.contacts()
    assert sorted(c["external_id"] for c in contacts) == sorted(f"u{i}" for i in range(1, 21))
    assert result.states == [{"seen": 0}, {"seen": 10}, {"seen": 20}]


def test_a_record_intercom_refuses_fails_the_run_after_the_confirmed_state(target, emulator) -> None:
    messages = [
        schema(),
        record({"user_id": "ok", "email": "ok@example.com"}),
        state({"seen": 1}),
        record({"user_id": "bad", "email": "bad@example.com"}),
        state({"seen": 2}),
    ]
    emulator.fail_writes_after(1, status=400)
    result = target.run(messages, config={"batch_size": 1, "max_concurrency": 1})
    assert result.returncode == 1
    assert result.states == [{"seen": 1}]
    assert "rejected the record at line 4 (user_id bad): Intercom refused it (400" in result.stderr


def test_empty_input_is_not_an_error(target, emulator) -> None:
    result = target.run(b"")
    assert (result.returncode, result.stdout) == (0, "")
    assert emulator.count() == 0


def test_intercom_unreachable_fails_within_the_retry_budget(target) -> None:
    result = target.run(users_and_states(1, 1), config={"base_url": "http://127.0.0.1:9", "max_retry_time": 1})
    assert result.returncode == 1
    assert "Intercom did not complete" in result.stderr
    assert "ConnectError" in result.stderr


def test_a_record_intercom_refuses_goes_to_the_rejects_file_with_intercoms_error_code(target, emulator) -> None:
    # A list ("options") attribute takes only its options; Intercom answers anything else with a 400.
    emulator.seed_data_attribute("tier", "options", options=[{"value": "gold"}, {"value": "silver"}])
    messages = [
        schema(),
        record({"user_id": "ok", "email": "ok@example.com", "tier": "gold"}),
        record({"user_id": "bad", "email": "bad@example.com", "tier": "platinum"}),
        state({"seen": 2}),
    ]
    config = {"rejected_records_file": "rejects.jsonl", "max_rejected_records": 1}
    result = target.run(messages, config=config)
    assert result.returncode == 0, result
    assert result.states == [{"seen": 2}]
    assert [(c["external_id"], c["custom_attributes"]) for c in emulator.contacts()] == [("ok", {"tier": "gold"})]
    reason = "Intercom refused it (400 parameter_invalid: Custom attribute 'tier' must be one of: gold, silver)"
    assert result.rejects == [
        {
            "stream": "users",
            "line": 3,
            "identifiers": {"user_id": "bad", "email": "bad@example.com"},
            "reason": reason,
            "error_code": "parameter_invalid",
            "record": {"user_id": "bad", "email": "bad@example.com", "tier": "platinum"},
        }
    ]
    assert f"WARNING rejected the record at line 3 (user_id bad): {reason}" in result.stderr.splitlines()
    assert "created 1, updated 0, unchanged 0, rejected 1;" in result.stderr


def test_the_rejects_file_is_readable_by_its_owner_only(target, emulator, tmp_path) -> None:
    """It holds whole records (emails, names): mode 0600, also for a file that existed with 0644."""
    messages = [schema(), record({"name": "no identifier"}), record({"user_id": "ok"}), state(1)]
    config = {"rejected_records_file": "rejects.jsonl", "max_rejected_records": 5}
    result = target.run(messages, config=config)
    assert result.returncode == 0, result
    path = tmp_path / "rejects.jsonl"
    assert path.stat().st_mode & 0o777 == 0o600
    assert len(result.rejects) == 1

    existing = tmp_path / "existing.jsonl"
    existing.write_text('{"earlier": true}\n')
    existing.chmod(0o644)
    result = target.run(messages, config={**config, "rejected_records_file": "existing.jsonl"})
    assert result.returncode == 0, result
    assert existing.stat().st_mode & 0o777 == 0o600
    assert result.rejects[0] == {"earlier": True} and len(result.rejects) == 2
