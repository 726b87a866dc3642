"""Fitting shells, cron and Meltano: --about, environment config, --input, metrics, progress, dry run."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any, Dict, List

from tests.conftest import record, schema, state

from target_intercom.config import SETTINGS_SCHEMA

ONE_USER = [schema(), record({"user_id": "u1", "email": "u1@example.com"}), state({"done": 1})]


def metrics(stderr: str) -> List[Dict[str, Any]]:
    return [json.loads(line.split("METRIC: ", 1)[1]) for line in stderr.splitlines() if line.startswith("INFO METRIC: ")]


def test_about_describes_the_target_and_every_setting() -> None:
    out = subprocess.run([sys.executable, "-m", "target_intercom", "--about"], capture_output=True, text=True)
    assert out.returncode == 0
    about = json.loads(out.stdout)
    assert about["name"] == "target-intercom"
    assert "about" in about["capabilities"]
    assert set(about["settings"]["properties"]) == set(SETTINGS_SCHEMA["properties"])
    assert about["settings"]["required"] == ["access_token"]
    assert {"required": ["users_stream"]} in about["settings"]["anyOf"]
    assert about["settings"]["properties"]["access_token"]["writeOnly"] is True


def test_about_in_markdown() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "target_intercom", "--about", "--format", "markdown"], capture_output=True, text=True
    )
    assert out.returncode == 0
    assert out.stdout.startswith("# target-intercom ")
    assert "| `access_token` | string | yes |" in out.stdout
    assert "`TARGET_INTERCOM_BATCH_SIZE`" in out.stdout


def test_settings_come_from_the_environment_so_the_token_never_touches_disk(target, emulator) -> None:
    env = {
        "TARGET_INTERCOM_ACCESS_TOKEN": emulator.token,
        "TARGET_INTERCOM_USERS_STREAM": "people",
        "TARGET_INTERCOM_BASE_URL": emulator.url,
        "TARGET_INTERCOM_RESERVED_FIELD_OVERRIDES": '{"email": "mail"}',
        "TARGET_INTERCOM_BATCH_SIZE": "1",
    }
    messages = [schema("people", {"user_id": {}, "mail": {}}), record({"user_id": "p1", "mail": "p1@example.com"}, "people")]
    result = target.run(messages, env=env, use_config_file=False)
    assert result.returncode == 0, result
    [contact] = emulator.contacts()
    assert (contact["external_id"], contact["email"]) == ("p1", "p1@example.com")


def test_config_files_win_over_the_environment_and_merge_left_to_right(target, emulator, tmp_path) -> None:
    first = tmp_path / "base.json"
    first.write_text(json.dumps({"access_token": emulator.token, "base_url": emulator.url, "users_stream": "nope"}))
    second = tmp_path / "stream.json"
    second.write_text(json.dumps({"users_stream": "users"}))
    env = {"TARGET_INTERCOM_USERS_STREAM": "also-nope", "TARGET_INTERCOM_ACCESS_TOKEN": "wrong-token-123"}
    result = target.run(ONE_USER, args=["--config", str(first), "--config", str(second)], env=env, use_config_file=False)
    assert result.returncode == 0, result
    assert len(emulator.contacts()) == 1


def test_a_malformed_environment_value_is_named(target) -> None:
    result = target.run(ONE_USER, env={"TARGET_INTERCOM_BATCH_SIZE": "many"})
    assert result.returncode == 2
    assert "TARGET_INTERCOM_BATCH_SIZE: expected a JSON integer, got 'many'" in result.stderr


def test_input_from_a_file(target, emulator, tmp_path) -> None:
    path = tmp_path / "messages.jsonl"
    path.write_text("\n".join(json.dumps(m) for m in ONE_USER) + "\n")
    result = target.run(b"", args=["--input", str(path)])
    assert result.returncode == 0, result
    assert result.states == [{"done": 1}]
    assert len(emulator.contacts()) == 1


def test_metrics_count_records_by_outcome_and_time_requests_by_endpoint(target, emulator) -> None:
    emulator.seed_contact(external_id="same", email="same@example.com")
    emulator.seed_contact(external_id="old", email="old@example.com")
    messages = [
        schema(),
        record({"user_id": "new", "email": "new@example.com"}),
        record({"user_id": "old", "email": "changed@example.com"}),
        record({"user_id": "same", "email": "same@example.com"}),
        record({"name": "no identifier"}),
    ]
    result = target.run(messages, config={"max_rejected_records": 1})
    assert result.returncode == 0, result
    found = metrics(result.stderr)
    counts = {m["tags"]["outcome"]: m["value"] for m in found if m["metric"] == "record_count"}
    assert counts == {"created": 1, "updated": 1, "unchanged": 1, "rejected": 1}
    timers = {(m["tags"]["endpoint"], m["tags"]["status"]) for m in found if m["metric"] == "http_request_duration"}
    assert {("POST /contacts", "succeeded"), ("PUT /contacts/{id}", "succeeded"), ("POST /contacts/search", "succeeded")} <= timers
    [summary] = [line for line in result.stderr.splitlines() if line.startswith("INFO summary:")]
    assert "4 users read; created 1, updated 1, unchanged 1, rejected 1;" in summary


def test_progress_lines_during_a_long_run_and_no_personal_data_at_info(target, emulator) -> None:
    emulator.configure(latency=0.05)
    messages = [schema()] + [
        record({"user_id": f"id-{i}", "email": f"person{i}@example.com", "name": f"Person Number{i}"}) for i in range(60)
    ]
    result = target.run(messages, config={"progress_interval": 0.3, "max_concurrency": 2})
    assert result.returncode == 0, result
    progress = [line for line in result.stderr.splitlines() if line.startswith("INFO progress:")]
    assert progress, result.stderr
    assert "users read" in progress[0] and "users/s" in progress[0] and "waiting for the rate limit" in progress[0]
    info = [line for line in result.stderr.splitlines() if line.startswith("INFO")]
    for line in info:
        assert "@example.com" not in line and "Person Number" not in line and "id-" not in line


def test_log_level_warning_keeps_stderr_quiet(target) -> None:
    result = target.run(ONE_USER, args=["--log-level", "warning"])
    assert result.returncode == 0, result
    assert result.stderr == ""


def test_dry_run_looks_up_writes_nothing_and_prints_the_plan(target, emulator) -> None:
    emulator.seed_contact(external_id="old", email="old@example.com", name="Old")
    emulator.seed_contact(external_id="same", email="same@example.com", name="Same")
    messages = [
        schema(),
        record({"user_id": "new1", "email": "new1@example.com", "plan": "pro"}),
        record({"user_id": "new2", "email": "new2@example.com", "seats": 3}),
        record({"user_id": "old", "name": "Renamed"}),
        record({"user_id": "same", "name": "Same"}),
        record({"name": "nobody"}),
        state({"done": True}),
    ]
    result = target.run(messages, args=["--dry-run"])
    assert result.returncode == 0, result
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert "plan (dry run, nothing was written): create 2, update 1, unchanged 1, reject 1" in lines
    assert "plan: custom attributes to create: plan (string), seats (integer)" in lines
    assert "plan: reject the record at line 6: has none of the identifiers id, user_id, email" in lines
    writes = [r for r in emulator.requests if r.method in ("PUT", "DELETE") or r.endpoint in ("POST /contacts", "POST /data_attributes")]
    assert writes == []
    assert emulator.count("POST /contacts/search") >= 1
    assert {c["external_id"]: c["name"] for c in emulator.contacts()} == {"old": "Old", "same": "Same"}


def failed_request_timers(target, emulator) -> List[Dict[str, Any]]:
    emulator.fail_next(1, status=500, match_method="POST", match_path="^/contacts$")
    result = target.run(ONE_USER)
    assert result.returncode == 0, result
    assert len(emulator.contacts()) == 1
    return [
        m for m in metrics(result.stderr)
        if m["metric"] == "http_request_duration" and m["tags"]["endpoint"] == "POST /contacts"
    ]


def test_a_failed_request_is_timed_as_failed_with_its_http_status(target, emulator) -> None:
    timers = failed_request_timers(target, emulator)
    by_status = {m["tags"]["status"]: m for m in timers}
    assert sorted(by_status) == ["failed", "succeeded"]
    failed = by_status["failed"]
    assert failed["type"] == "timer" and isinstance(failed["value"], (int, float)) and failed["value"] >= 0
    assert failed["tags"]["http_status_code"] == 500  # a number, as in the Singer spec
    assert failed["tags"]["requests"] == 1
