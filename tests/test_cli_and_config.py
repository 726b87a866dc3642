"""The command line and the configuration, as a user meets them."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from tests.conftest import record, schema, state

import target_intercom

ONE_USER = [schema(), record({"user_id": "u1", "email": "u1@example.com"}), state({"done": 1})]


def test_console_script_reports_its_version() -> None:
    script = shutil.which("target-intercom", path=str(Path(sys.executable).parent))
    assert script, "pip install must provide the target-intercom command"
    out = subprocess.run([script, "--version"], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == f"target-intercom {target_intercom.__version__}"


def test_help_lists_the_options() -> None:
    out = subprocess.run([sys.executable, "-m", "target_intercom", "--help"], capture_output=True, text=True)
    assert out.returncode == 0
    for option in ("--config", "--input", "--dry-run", "--log-level", "--version"):
        assert option in out.stdout


def test_short_config_flag_runs_end_to_end(target, emulator, tmp_path) -> None:
    path = tmp_path / "c.json"
    path.write_text(json.dumps(target.config))
    result = target.run(ONE_USER, args=["-c", str(path)], use_config_file=False)
    assert result.returncode == 0, result
    assert result.states == [{"done": 1}]
    assert [c["external_id"] for c in emulator.contacts()] == ["u1"]


def test_every_request_pins_the_intercom_version(target, emulator) -> None:
    result = target.run(ONE_USER)
    assert result.returncode == 0, result
    versions = {r.version for r in emulator.requests}
    assert versions == {"2.14"}


def test_intercom_version_is_configurable(target, emulator) -> None:
    result = target.run(ONE_USER, config={"intercom_version": "2.16"})
    assert result.returncode == 0, result
    assert {r.version for r in emulator.requests} == {"2.16"}


def test_missing_required_key_is_named_before_reading_input(target, emulator) -> None:
    result = target.run("this is not JSON\n", config={"users_stream": None})
    assert result.returncode == 2
    assert "config: missing required key 'users_stream'" in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""
    assert emulator.count() == 0


def test_wrong_type_names_the_key(target) -> None:
    result = target.run(ONE_USER, config={"batch_size": "ten"})
    assert result.returncode == 2
    assert result.stderr.splitlines() == ['ERROR config: batch_size: must be of type integer (got "ten")']
    assert result.stdout == ""


def test_unknown_key_is_warned_about_and_the_run_goes_on(target) -> None:
    result = target.run(ONE_USER, config={"acess_token": "typo"})
    assert result.returncode == 0, result
    assert "config: unknown key 'acess_token' is ignored" in result.stderr


def test_unknown_region_is_refused(target) -> None:
    result = target.run(ONE_USER, config={"region": "mars", "base_url": None})
    assert result.returncode == 2
    assert "config: region: must be one of au, eu, us" in result.stderr


def test_plain_http_base_url_is_refused_except_for_localhost(target) -> None:
    result = target.run(ONE_USER, config={"base_url": "http://intercom.example.com"})
    assert result.returncode == 2
    assert "base_url must use https" in result.stderr


def test_a_token_with_the_wrong_type_is_not_echoed(target) -> None:
    result = target.run(ONE_USER, config={"access_token": 12345})
    assert result.returncode == 2
    assert "config: access_token: must be of type string (got <hidden>)" in result.stderr
    assert "12345" not in result.stderr


def test_missing_config_file_is_one_clear_line(target, tmp_path) -> None:
    result = target.run(ONE_USER, args=["--config", str(tmp_path / "nope.json")], use_config_file=False)
    assert result.returncode == 2
    assert f"config file {tmp_path / 'nope.json'} does not exist" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_the_readme_documents_every_setting() -> None:
    from target_intercom.config import SETTINGS_SCHEMA

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    missing = [name for name in SETTINGS_SCHEMA["properties"] if f"| `{name}` |" not in readme]
    assert missing == []


def test_missing_access_token_is_the_one_line_on_stderr(target, emulator) -> None:
    result = target.run(ONE_USER, config={"access_token": None})
    assert result.returncode == 2
    assert result.stderr.splitlines() == ["ERROR config: missing required key 'access_token'"]
    assert result.stdout == ""
    assert emulator.count() == 0
