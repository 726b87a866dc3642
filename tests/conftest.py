"""Shared test harness: the real CLI as a subprocess against the emulator.

Every run asserts that the access token appears nowhere in stdout, stderr or
the rejects file, so each test also checks that secrets stay secret.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Sequence, Union

import pytest

pytest_plugins = ["intercom_emulator.pytest_plugin"]

REPO = Path(__file__).resolve().parents[1]


def schema(stream: str = "users", properties: Optional[Dict[str, Any]] = None, key_properties=("id",)) -> Dict:
    props = properties if properties is not None else USERS_PROPERTIES
    return {
        "type": "SCHEMA",
        "stream": stream,
        "schema": {"type": "object", "properties": props},
        "key_properties": list(key_properties),
    }


def record(rec: Dict[str, Any], stream: str = "users") -> Dict:
    return {"type": "RECORD", "stream": stream, "record": rec}


def state(value: Any) -> Dict:
    return {"type": "STATE", "value": value}


USERS_PROPERTIES: Dict[str, Any] = {
    "id": {"type": ["null", "string"]},
    "user_id": {"type": ["null", "string", "integer"]},
    "email": {"type": ["null", "string"]},
    "name": {"type": ["null", "string"]},
    "plan": {"type": ["null", "string"]},
    "seats": {"type": ["null", "integer"]},
    "mrr": {"type": ["null", "number"]},
    "paid": {"type": ["null", "boolean"]},
    "renews_at": {"type": ["null", "string"], "format": "date-time"},
    "signed_up_at": {"type": ["null", "string"], "format": "date-time"},
}


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str
    rejects: List[Dict[str, Any]] = field(default_factory=list)

    @property
    def states(self) -> List[Any]:
        return [json.loads(line) for line in self.stdout.splitlines()]

    def __str__(self) -> str:
        return f"exit {self.returncode}\n--- stdout\n{self.stdout}\n--- stderr\n{self.stderr}"


Input = Union[str, bytes, Sequence[Union[Dict[str, Any], str]]]


def encode_input(messages: Input) -> bytes:
    if isinstance(messages, bytes):
        return messages
    if isinstance(messages, str):
        return messages.encode("utf-8")
    lines = [m if isinstance(m, str) else json.dumps(m) for m in messages]
    return ("\n".join(lines) + "\n").encode("utf-8")


class TargetRunner:
    """Runs `python -m target_intercom` with a config pointed at the emulator."""

    def __init__(self, emulator: Any, tmp_path: Path) -> None:
        self.emulator = emulator
        self.tmp_path = tmp_path
        self.config: Dict[str, Any] = {
            "access_token": emulator.token,
            "users_stream": "users",
            "base_url": emulator.url,
        }

    def run(
        self,
        messages: Input,
        config: Optional[Dict[str, Any]] = None,
        args: Iterable[str] = (),
        env: Optional[Dict[str, str]] = None,
        timeout: float = 120,
        use_config_file: bool = True,
    ) -> Result:
        merged = {**self.config, **(config or {})}
        merged = {k: v for k, v in merged.items() if v is not None}
        command = [sys.executable, "-m", "target_intercom"]
        if use_config_file:
            path = self.tmp_path / "config.json"
            path.write_text(json.dumps(merged))
            command += ["--config", str(path)]
        command += list(args)
        full_env = {k: v for k, v in os.environ.items() if not k.startswith("TARGET_INTERCOM_")}
        full_env.update(env or {})
        completed = subprocess.run(
            command,
            input=encode_input(messages),
            capture_output=True,
            timeout=timeout,
            env=full_env,
            cwd=str(self.tmp_path),
        )
        result = Result(
            completed.returncode,
            completed.stdout.decode("utf-8", "replace"),
            completed.stderr.decode("utf-8", "replace"),
        )
        rejects_path = merged.get("rejected_records_file")
        if rejects_path and Path(self.tmp_path, rejects_path).exists():
            text = Path(self.tmp_path, rejects_path).read_text(encoding="utf-8")
            assert self.emulator.token not in text, "the access token leaked into the rejects file"
            result.rejects = [json.loads(line) for line in text.splitlines()]
        assert_no_token(self.emulator.token, result)
        return result


def assert_no_token(token: str, result: Result) -> None:
    assert token not in result.stdout, "the access token leaked to stdout"
    assert token not in result.stderr, "the access token leaked to stderr"


@pytest.fixture
def target(emulator: Any, tmp_path: Path) -> TargetRunner:
    return TargetRunner(emulator, tmp_path)
