"""No user lost under faults, crashes and signals; every user written exactly once."""

from __future__ import annotations

import json
import select
import signal
import subprocess
import sys
import time
from typing import Any, Callable, Dict, Iterator, List

import pytest

from tests.conftest import assert_no_token, encode_input, record, schema, state, Result

CREATE = {"match_method": "POST", "match_path": "^/contacts$"}
UPDATE = {"match_method": "PUT", "match_path": "^/contacts/[^/]+$"}
SEARCH = {"match_method": "POST", "match_path": "^/contacts/search$"}


def stream(count: int, every: int = 10, start: int = 0, name: str = "User") -> List[Dict]:
    messages: List[Dict] = []
    for i in range(start, start + count):
        messages.append(record({"user_id": f"u{i}", "email": f"u{i}@example.com", "name": f"{name} {i}"}))
        if (i + 1) % every == 0:
            messages.append(state({"offset": i + 1}))
    return messages


def assert_each_user_once(emulator, count: int) -> Dict[str, Dict[str, Any]]:
    contacts = emulator.contacts()
    ids = [c["external_id"] for c in contacts]
    assert len(ids) == len(set(ids)), "a user was written twice"
    assert sorted(ids) == sorted(f"u{i}" for i in range(count))
    return {c["external_id"]: c for c in contacts}


FAULTS = {
    "429 burst": lambda emu: emu.fail_next(6, status=429, retry_after=0),
    "500 burst": lambda emu: emu.fail_next(6, status=500),
    "502 burst": lambda emu: emu.fail_next(6, status=502),
    "503 burst with an HTML body": lambda emu: emu.fail_next(6, status=503, body="html"),
    "504 burst": lambda emu: emu.fail_next(6, status=504),
    "connection dropped before Intercom processed a create": lambda emu: emu.drop_next(3, **CREATE),
    "connection dropped after Intercom processed a create": lambda emu: emu.drop_next(
        3, after_processing=True, **CREATE
    ),
    "connection dropped after Intercom processed an update": lambda emu: emu.drop_next(
        3, after_processing=True, **UPDATE
    ),
    "truncated JSON after a create": lambda emu: emu.malformed_next(3, kind="truncated", **CREATE),
    "garbage instead of JSON from search": lambda emu: emu.malformed_next(2, kind="garbage", **SEARCH),
    "a create answered after the client's timeout": lambda emu: emu.delay_next(2, seconds=2.5, **CREATE),
    "a search answered after the client's timeout": lambda emu: emu.delay_next(1, seconds=2.5, **SEARCH),
}


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_a_transient_fault_is_retried_and_every_user_is_written_once(target, emulator, fault) -> None:
    for i in range(0, 40, 2):  # half the users exist already, so updates meet the faults too
        emulator.seed_contact(external_id=f"u{i}", email=f"u{i}@example.com", name="Old")
    FAULTS[fault](emulator)
    result = target.run([schema(), *stream(40)], config={"batch_size": 10, "request_timeout": 1})
    assert result.returncode == 0, result
    assert emulator.faults()["faults"] == [], "the fault did not fire every time it was set to"
    contacts = assert_each_user_once(emulator, 40)
    assert all(contacts[f"u{i}"]["name"] == f"User {i}" for i in range(40))
    assert result.states == [{"offset": n} for n in range(10, 41, 10)]


def test_a_fault_that_outlasts_the_retry_budget_fails_clearly(target, emulator) -> None:
    emulator.drop_next(None, **CREATE)
    result = target.run([schema(), state({"offset": 0}), *stream(10, every=5)], config={"max_retry_time": 2})
    assert result.returncode == 1
    assert result.states == [{"offset": 0}]
    [error] = [line for line in result.stderr.splitlines() if line.startswith("ERROR")]
    assert error.startswith("ERROR Intercom did not complete POST /contacts within max_retry_time (2 s)")


def test_after_sigkill_a_resumed_run_ends_with_each_user_once_holding_its_last_values(target, emulator, tmp_path) -> None:
    emulator.configure(latency=0.01, search_lag=600)
    # Every user twice: the second record for a user carries its final values.
    messages = [schema(), *stream(200, every=20), *stream(200, every=20, name="Final")]
    for index, message in enumerate(m for m in messages if m["type"] == "STATE"):
        message["value"] = {"offset": index}
    lines = [json.dumps(m) for m in messages]
    config = {**target.config, "batch_size": 20}
    (tmp_path / "config.json").write_text(json.dumps(config))
    with open(tmp_path / "killed.stderr", "wb") as stderr:  # a file: a full pipe would stall the run
        process = subprocess.Popen(
            [sys.executable, "-m", "target_intercom", "--config", str(tmp_path / "config.json"),
             "--log-level", "DEBUG"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr,
        )
    assert process.stdin and process.stdout
    process.stdin.write(("\n".join(lines) + "\n").encode())
    process.stdin.flush()
    printed = [json.loads(process.stdout.readline()) for _ in range(3)]
    process.kill()
    process.wait()
    killed = Result(process.returncode, "", (tmp_path / "killed.stderr").read_text(encoding="utf-8"))
    assert "DEBUG" in killed.stderr
    assert_no_token(emulator.token, killed)
    assert len(emulator.contacts()) < 200, "the run ended before it could be killed"

    # As a tap would: start again after the last state it printed.
    last = printed[-1]["offset"]
    states_seen = 0
    rest: List[str] = [json.dumps(schema())]
    for message, line in zip(messages[1:], lines[1:]):
        if states_seen > last:
            rest.append(line)
        if message["type"] == "STATE":
            states_seen += 1
    resumed = target.run("\n".join(rest) + "\n", config={"batch_size": 20})
    assert resumed.returncode == 0, resumed
    contacts = assert_each_user_once(emulator, 200)
    assert all(contacts[f"u{i}"]["name"] == f"Final {i}" for i in range(200))


@pytest.fixture
def open_pipe(target, tmp_path) -> Iterator[Callable[[Dict[str, Any]], "OpenPipe"]]:
    pipes: List[OpenPipe] = []

    def start(config: Dict[str, Any]) -> OpenPipe:
        pipes.append(OpenPipe(target, tmp_path, config))
        return pipes[-1]

    yield start
    for pipe in pipes:  # a failed test must not leave a target holding the emulator's connections
        if pipe.process.poll() is None:
            pipe.process.kill()
            pipe.process.wait()


class OpenPipe:
    """The target run as a tap runs it: stdin stays open until the test closes it."""

    def __init__(self, target, tmp_path, config: Dict[str, Any]) -> None:
        (tmp_path / "config.json").write_text(json.dumps({**target.config, **config}))
        self.process = subprocess.Popen(
            [sys.executable, "-m", "target_intercom", "--config", str(tmp_path / "config.json")],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )
        self.lines: List[str] = []

    def send(self, messages: List[Dict]) -> None:
        assert self.process.stdin
        self.process.stdin.write(encode_input(messages))
        self.process.stdin.flush()

    def read_state(self, timeout: float = 30.0) -> Any:
        assert self.process.stdout
        ready, _, _ = select.select([self.process.stdout], [], [], timeout)
        assert ready, "no STATE was printed while the input stayed open"
        line = self.process.stdout.readline().decode()
        self.lines.append(line)
        return json.loads(line)

    def wait(self, emulator, timeout: float = 30.0) -> Result:
        """Wait for the exit with stdin still open, then collect the output."""
        returncode = self.process.wait(timeout=timeout)
        assert self.process.stdout and self.process.stderr and self.process.stdin
        result = Result(returncode, "".join(self.lines) + self.process.stdout.read().decode(),
                        self.process.stderr.read().decode())
        self.process.stdin.close()
        assert "Fatal Python error" not in result.stderr and "Traceback" not in result.stderr, result.stderr
        assert_no_token(emulator.token, result)
        return result


@pytest.mark.parametrize("signum, exit_code", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_signal_stops_the_run_after_printing_the_state_confirmed_so_far(
    target, emulator, open_pipe, signum, exit_code
) -> None:
    emulator.configure(latency=0.02)
    pipe = open_pipe({"batch_size": 10})
    pipe.send([schema(), *stream(60)])
    pipe.read_state()
    pipe.process.send_signal(signum)
    result = pipe.wait(emulator)
    assert result.returncode == exit_code, result
    assert f"stopped by {signal.Signals(signum).name}" in result.stderr
    offsets = [s["offset"] for s in result.states]
    assert offsets == sorted(offsets)
    written = {c["external_id"] for c in emulator.contacts()}
    assert {f"u{i}" for i in range(offsets[-1])} <= written


def test_a_signal_abandons_writes_that_outlast_the_grace_and_keeps_their_state(
    target, emulator, open_pipe
) -> None:
    grace = 3  # the grace is at most request_timeout
    emulator.delay_next(None, seconds=grace * 4, after_processing=False, **CREATE)
    pipe = open_pipe({"request_timeout": grace, "max_retry_time": 60})
    pipe.send([schema(), state("before"), *stream(5, every=100), state("after")])
    assert pipe.read_state() == "before"
    deadline = time.monotonic() + 30
    while emulator.count("POST /contacts/search") == 0:
        assert time.monotonic() < deadline and pipe.process.poll() is None, "the target never looked the users up"
        time.sleep(0.1)
    time.sleep(0.5)  # the creates are under way, held by Intercom
    started = time.monotonic()
    pipe.process.send_signal(signal.SIGTERM)
    result = pipe.wait(emulator)
    elapsed = time.monotonic() - started
    assert result.returncode == 143, result
    assert result.states == ["before"]
    assert f"finishing the writes under way (at most {grace} s)" in result.stderr
    assert "ERROR stopped by SIGTERM; writes still under way were abandoned" in result.stderr
    # One grace, not one per phase of the stop (with room for a slow machine).
    assert elapsed < 2 * grace, elapsed


def test_a_failure_while_the_tap_still_writes_ends_in_one_line(target, emulator, open_pipe) -> None:
    pipe = open_pipe({})
    pipe.send([schema(), state(0)])
    assert pipe.read_state() == 0
    assert pipe.process.stdin
    pipe.process.stdin.write(b"garbage\n")
    pipe.process.stdin.flush()
    result = pipe.wait(emulator)
    assert result.returncode == 1, result
    assert [line for line in result.stderr.splitlines() if line.startswith("ERROR")] == [
        "ERROR line 3: not valid JSON (Expecting value at column 1)"
    ]


def test_a_paused_tap_gets_its_state_without_closing_the_input(target, emulator, open_pipe) -> None:
    pipe = open_pipe({"batch_size": 100})
    pipe.send([schema(), *stream(3, every=100), state("three")])
    assert pipe.read_state() == "three"
    assert sorted(c["external_id"] for c in emulator.contacts()) == ["u0", "u1", "u2"]
    pipe.send([*stream(2, every=100, start=3), state("five")])
    assert pipe.read_state() == "five"
    assert pipe.process.stdin
    pipe.process.stdin.close()
    assert pipe.process.wait(timeout=30) == 0


def test_rejected_records_are_written_to_the_rejects_file_and_tolerated_up_to_the_limit(target, emulator) -> None:
    emulator.seed_data_attribute("seats", "integer")
    props = {"user_id": {"type": "string"}, "email": {"type": ["null", "string"]}, "seats": {}}
    messages = [
        schema("users", props),
        record({"user_id": "ok1", "seats": 1}),
        record({"user_id": "bad1", "seats": "lots"}),
        record({"email": "not-an-email"}),
        record({"user_id": "ok2", "seats": 2}),
        state("done"),
    ]
    config = {"rejected_records_file": "rejects.jsonl", "max_rejected_records": 2}
    result = target.run(messages, config=config)
    assert result.returncode == 0, result
    assert result.states == ["done"]
    assert sorted(c["external_id"] for c in emulator.contacts()) == ["ok1", "ok2"]
    assert "rejected 2" in result.stderr
    assert sorted(result.rejects, key=lambda r: r["line"]) == [
        {
            "stream": "users",
            "line": 3,
            "identifiers": {"user_id": "bad1"},
            "reason": "custom attribute 'seats' (integer) expected an integer, got \"lots\"",
            "error_code": "invalid_value",
            "record": {"user_id": "bad1", "seats": "lots"},
        },
        {
            "stream": "users",
            "line": 4,
            "identifiers": {"email": "not-an-email"},
            "reason": "email: is not a valid email address",
            "error_code": "invalid_value",
            "record": {"email": "not-an-email"},
        },
    ]


def test_one_rejection_past_the_limit_fails_the_run(target, emulator) -> None:
    messages = [schema(), state(0), record({"name": "a"}), record({"name": "b"}), record({"user_id": "u"}), state(1)]
    result = target.run(messages, config={"rejected_records_file": "rejects.jsonl", "max_rejected_records": 1})
    assert result.returncode == 1
    assert "line 4: has none of the identifiers id, user_id, email (2 records rejected, max_rejected_records is 1)" in result.stderr
    assert len(result.rejects) == 2
    assert result.states == [0]


def test_json_nested_too_deeply_fails_naming_the_line(target) -> None:
    result = target.run(encode_input([schema()]) + b"[" * 100_000 + b"\n")
    assert result.returncode == 1
    assert result.stderr.splitlines()[-1] == "ERROR line 2: not valid JSON (nested too deeply)"


def test_bytes_that_are_not_utf8_fail_naming_the_line(target) -> None:
    data = encode_input([schema()]) + b'{"type": "RECORD", "stream": "users", "record": {"name": "\xff"}}\n'
    result = target.run(data)
    assert result.returncode == 1
    assert "line 2: not valid UTF-8 (byte 59)" in result.stderr


def test_wrong_types_and_huge_strings_are_rejected_with_the_field_named(target, emulator) -> None:
    props = {"user_id": {}, "bio": {"type": "string"}, "signed_up_at": {}}
    cases = [
        (record({"user_id": "a", "signed_up_at": "last tuesday"}), 'signed_up_at: expected an ISO 8601 date-time, got "last tuesday"'),
        (record({"user_id": "b", "signed_up_at": True}), "signed_up_at: expected a date-time, got true"),
        (record({"user_id": "c", "bio": "x" * 256}), "custom attribute 'bio' (string) is 256 characters long; Intercom stores at most 255"),
        (record({"user_id": ["d"]}), "user_id: expected text or an integer"),
    ]
    for message, reason in cases:
        result = target.run([schema("users", props), message], config={"long_text": "reject"})
        assert result.returncode == 1
        [error] = [line for line in result.stderr.splitlines() if line.startswith(("ERROR", "WARNING"))]
        assert error.startswith("ERROR rejected the record at line 2") and error.endswith(reason), result
    assert emulator.contacts() == []
    # The rejected value left no attribute behind.
    assert "bio" not in [a["name"] for a in emulator.data_attributes()]
