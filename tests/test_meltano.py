"""Meltano: `meltano run` with a real tap from PyPI into target-intercom, pointed at the emulator.

singer-python pins jsonschema 2.x, so Meltano cannot live in the target's virtualenv. The `meltano`
fixture builds a separate one with meltano==4.4.* from PyPI, once, and caches it between runs under
~/.cache/target-intercom-tests/ (or $XDG_CACHE_HOME). The pipeline test then works as a user would:
`meltano init`, a meltano.yml with tap-jsonl 0.3.1 and the loader definition of the README,
the token through `meltano config set`, `meltano install`, `meltano run`, `meltano state get`.

The test is skipped only if PyPI cannot be reached (or on Python < 3.10, which Meltano 4.4 needs).
"""

from __future__ import annotations

import contextlib
import copy
import datetime
import json
import os
import re
import shutil
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional

import pytest
import yaml

from target_intercom.about import CAPABILITIES
from target_intercom.config import SETTINGS_SCHEMA

REPO = Path(__file__).resolve().parents[1]
DOC = REPO / "README.md"

MELTANO_SERIES = "4.4"
MELTANO_REQUIREMENT = f"meltano=={MELTANO_SERIES}.*"
TAP_REQUIREMENT = "tap-jsonl==0.3.1"
STATE_ID = "dev:tap-jsonl-to-target-intercom"
BIN = "Scripts" if os.name == "nt" else "bin"

FIRST_SYNC = datetime.datetime(2024, 5, 1, 12, 0, tzinfo=datetime.timezone.utc)
SECOND_SYNC = datetime.datetime(2024, 5, 2, 12, 0, tzinfo=datetime.timezone.utc)


# ---- the documented loader definition ----------------------------------------------------------------

def documented_loader() -> Dict[str, Any]:
    """The `loaders:` YAML block of the README that follows the loader-definition marker."""
    text = DOC.read_text(encoding="utf-8")
    marker = text.index("<!-- loader-definition:")
    match = re.compile(r"```yaml\n(.*?)```", re.S).search(text, marker)
    assert match, "README.md: no yaml block after the loader-definition marker"
    (loader,) = yaml.safe_load(match.group(1))["loaders"]
    return loader


def expected_kind(spec: Dict[str, Any]) -> str:
    if "enum" in spec:
        return "options"
    # A setting of several types (managed_tags: a list, or "all") is declared by its first.
    kind = spec["type"][0] if isinstance(spec["type"], list) else spec["type"]
    return {"string": "string", "integer": "integer", "number": "decimal", "boolean": "boolean",
            "object": "object", "array": "array"}[kind]


def test_the_documented_loader_definition_covers_every_setting() -> None:
    loader = documented_loader()
    assert loader["name"] == "target-intercom"
    assert loader["namespace"] == "target_intercom"
    assert loader["executable"] == "target-intercom"
    assert loader["pip_url"]
    assert loader["capabilities"] == CAPABILITIES
    settings = {s["name"]: s for s in loader["settings"]}
    properties = SETTINGS_SCHEMA["properties"]
    assert sorted(settings) == sorted(properties), "one Meltano setting per target setting"
    for name, spec in properties.items():
        assert settings[name]["kind"] == expected_kind(spec), name
        assert bool(settings[name].get("sensitive")) == bool(spec.get("secret")), name
        if "enum" in spec:
            assert sorted(o["value"] for o in settings[name]["options"]) == sorted(spec["enum"]), name
    assert settings["access_token"] == {**settings["access_token"], "kind": "string", "sensitive": True}


# ---- Meltano, in its own cached virtualenv -------------------------------------------------------------

def _cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "target-intercom-tests"


def _package_index() -> str:
    """The index uv (Meltano's installer) will use for tap-jsonl."""
    for name in ("UV_DEFAULT_INDEX", "UV_INDEX_URL"):
        if os.environ.get(name):
            return os.environ[name].rstrip("/")
    return "https://pypi.org/simple"


def _why_pypi_is_unreachable() -> Optional[str]:
    url = f"{_package_index()}/tap-jsonl/"
    try:
        with urllib.request.urlopen(url, timeout=20) as response:
            response.read(1)
    except Exception as exc:  # noqa: BLE001 - any failure means: no index to install from
        return f"{url}: {type(exc).__name__}: {exc}"
    return None


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """An exclusive lock, so that concurrent test runs build the virtualenv once."""
    try:
        import fcntl
    except ImportError:  # Windows: no lock, a rare double build at worst
        yield
        return
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _meltano_version(meltano: Path) -> str:
    try:
        out = subprocess.run([str(meltano), "--version"], capture_output=True, text=True, timeout=60)
    except OSError:
        return ""
    return out.stdout.strip() if out.returncode == 0 else ""


def _build_meltano_venv(venv: Path) -> None:
    shutil.rmtree(venv, ignore_errors=True)
    steps = [
        [sys.executable, "-m", "venv", str(venv)],
        [str(venv / BIN / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
         MELTANO_REQUIREMENT],
    ]
    for step in steps:
        done = subprocess.run(step, capture_output=True, text=True, timeout=600)
        if done.returncode != 0:
            shutil.rmtree(venv, ignore_errors=True)
            raise AssertionError(f"{' '.join(step)} failed (exit {done.returncode}):\n{done.stdout}\n{done.stderr}")


@pytest.fixture(scope="session")
def meltano() -> Path:
    """The `meltano` command of a cached virtualenv with meltano==4.4.*."""
    if sys.version_info < (3, 10):
        pytest.skip(f"Meltano {MELTANO_SERIES} needs Python 3.10 or later")
    problem = _why_pypi_is_unreachable()
    if problem:
        pytest.skip(f"PyPI cannot be reached, so neither {MELTANO_REQUIREMENT} nor {TAP_REQUIREMENT} can be "
                    f"installed ({problem})")
    root = _cache_root()
    root.mkdir(parents=True, exist_ok=True)
    venv = root / f"meltano-{MELTANO_SERIES}-py{sys.version_info[0]}{sys.version_info[1]}"
    command = venv / BIN / "meltano"
    wanted = f"meltano, version {MELTANO_SERIES}."
    with _locked(root / f"{venv.name}.lock"):
        version = _meltano_version(command)
        if not version.startswith(wanted):  # not built yet, or broken (e.g. its base Python is gone)
            _build_meltano_venv(venv)
            version = _meltano_version(command)
        assert version.startswith(wanted), f"{command} --version: {version!r}"
    return command


# ---- the pipeline ----------------------------------------------------------------------------------

def target_script() -> str:
    script = shutil.which("target-intercom", path=str(Path(sys.executable).parent))
    assert script, "pip install must provide the target-intercom command next to the interpreter"
    return script


def write_users(path: Path, users: List[Dict[str, Any]], modified: datetime.datetime) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(u) + "\n" for u in users), encoding="utf-8")
    os.utime(path, (modified.timestamp(), modified.timestamp()))


def pipeline_config(emulator: Any) -> Dict[str, Any]:
    """tap-jsonl and the documented loader, with the target of this interpreter and the emulator."""
    loader = copy.deepcopy(documented_loader())
    del loader["pip_url"]
    loader["executable"] = target_script()
    loader["config"] = {
        "users_stream": "users",
        "base_url": emulator.url,
        # The JSONL's `id` is our user id (Intercom's external_id), not an Intercom contact id.
        "reserved_field_overrides": {"user_id": "id", "id": None},
        "request_timeout": 30,
        "max_retry_time": 30,
    }
    tap = {
        "name": "tap-jsonl",
        "namespace": "tap_jsonl",
        "pip_url": TAP_REQUIREMENT,
        "executable": "tap-jsonl",
        "capabilities": ["catalog", "discover", "state", "about"],
        "settings": [
            {"name": "path", "kind": "string"},
            {"name": "stream_name", "kind": "string"},
            {"name": "primary_keys", "kind": "array"},
        ],
        # tap-jsonl adds _sdc_filename, _sdc_stream and _sdc_last_modified to every
        # record; the target must not send them to Intercom.
        "config": {"path": "data/users.jsonl", "stream_name": "users", "primary_keys": ["id"]},
    }
    return {"extractors": [tap], "loaders": [loader]}


class Project:
    def __init__(self, meltano: Path, path: Path, token: str) -> None:
        self.meltano, self.path, self.token = meltano, path, token

    def env(self, **extra: str) -> Dict[str, str]:
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("TARGET_INTERCOM_", "TAP_JSONL_", "MELTANO_"))}
        env.update(MELTANO_SEND_ANONYMOUS_USAGE_STATS="false", NO_COLOR="1")
        env.update(extra)
        return env

    def run(self, *args: str, input: Optional[str] = None, env: Optional[Dict[str, str]] = None
            ) -> subprocess.CompletedProcess:
        """Runs `meltano ARGS` in the project; it must succeed and must not show the token."""
        done = subprocess.run(
            [str(self.meltano), *args], cwd=str(self.path), input=input, capture_output=True, text=True,
            env=env or self.env(), timeout=300,
        )
        assert self.token not in done.stdout, f"meltano {' '.join(args)} printed the access token"
        assert self.token not in done.stderr, f"meltano {' '.join(args)} logged the access token"
        assert done.returncode == 0, f"meltano {' '.join(args)}: exit {done.returncode}\n{done.stdout}\n{done.stderr}"
        return done

    def state(self) -> Dict[str, Any]:
        return json.loads(self.run("state", "get", STATE_ID).stdout)


def contacts_of(emulator: Any) -> List[tuple]:
    return sorted((c["external_id"], c["email"], c["name"], c["custom_attributes"]) for c in emulator.contacts())


def files_holding(root: Path, secret: str) -> List[str]:
    """Files of the project (plugin virtualenvs aside) that contain `secret`."""
    return sorted(
        str(path.relative_to(root)) for path in root.rglob("*")
        if path.is_file() and "venv" not in path.relative_to(root).parts and secret.encode() in path.read_bytes()
    )


def users_bookmark(state: Dict[str, Any]) -> Dict[str, Any]:
    assert list(state) == ["singer_state"], state
    singer_state = state["singer_state"]
    assert list(singer_state) == ["bookmarks"], (
        f"Meltano must have stored the bare state value, not a STATE message: {singer_state}"
    )
    return singer_state["bookmarks"]["users"]


def test_meltano_run_loads_users_and_stores_the_state(meltano: Path, emulator, tmp_path: Path) -> None:
    token = emulator.token
    project = Project(meltano, tmp_path / "proj", token)
    done = subprocess.run([str(meltano), "init", "proj", "--no-usage-stats"], cwd=str(tmp_path),
                          capture_output=True, text=True, env=project.env(), timeout=300)
    assert done.returncode == 0, done.stderr

    meltano_yml = project.path / "meltano.yml"
    definition = yaml.safe_load(meltano_yml.read_text())
    definition["plugins"] = pipeline_config(emulator)
    meltano_yml.write_text(yaml.safe_dump(definition, sort_keys=False))

    users_file = project.path / "data" / "users.jsonl"
    write_users(users_file, [
        {"id": "u1", "email": "ada@example.com", "name": "Ada Lovelace", "plan": "pro"},
        {"id": "u2", "email": "alan@example.com", "name": "Alan Turing", "plan": "free"},
        {"id": "u3", "email": "grace@example.com", "name": "Grace Hopper", "plan": "pro"},
    ], FIRST_SYNC)

    # The token: sensitive, so it goes to .env, never to meltano.yml, and is redacted when shown.
    done = project.run("config", "set", "target-intercom", "access_token", "--from-file", "-", input=token)
    assert "(redacted)" in done.stdout + done.stderr
    assert token not in meltano_yml.read_text()
    assert f"TARGET_INTERCOM_ACCESS_TOKEN='{token}'" in (project.path / ".env").read_text()
    listing = project.run("config", "list", "target-intercom").stdout
    assert re.search(r"access_token .*\(redacted\)", listing), listing

    done = project.run("install")
    assert "Skipped installing loader 'target-intercom'" in done.stderr  # no pip_url: the script given is used

    # First run.
    first = project.run("run", "tap-jsonl", "target-intercom")
    assert "summary: 3 users read; created 3, updated 0, unchanged 0, rejected 0" in first.stderr, first.stderr
    assert contacts_of(emulator) == [
        ("u1", "ada@example.com", "Ada Lovelace", {"plan": "pro"}),
        ("u2", "alan@example.com", "Alan Turing", {"plan": "free"}),
        ("u3", "grace@example.com", "Grace Hopper", {"plan": "pro"}),
    ]
    assert [a["name"] for a in emulator.data_attributes() if a["custom"]] == ["plan"]

    # The token is in .env only: not in meltano.yml, the system database or a leftover run config.
    assert files_holding(project.path, token) == [".env"]

    bookmark = users_bookmark(project.state())
    assert bookmark["replication_key"] == "_sdc_last_modified"
    assert bookmark["replication_key_value"] == FIRST_SYNC.isoformat()
    (partition,) = bookmark["partitions"]
    assert Path(partition["context"]["_sdc_filename"]) == users_file
    assert partition["replication_key_value"] == FIRST_SYNC.isoformat()

    # Second run: u2 changed plan, u4 is new. The token now comes from the environment instead of .env.
    project.run("config", "unset", "target-intercom", "access_token")
    assert token not in (project.path / ".env").read_text()
    write_users(users_file, [
        {"id": "u1", "email": "ada@example.com", "name": "Ada Lovelace", "plan": "pro"},
        {"id": "u2", "email": "alan@example.com", "name": "Alan Turing", "plan": "pro"},
        {"id": "u3", "email": "grace@example.com", "name": "Grace Hopper", "plan": "pro"},
        {"id": "u4", "email": "edsger@example.com", "name": "Edsger Dijkstra", "plan": "free"},
    ], SECOND_SYNC)
    creates, updates = emulator.count("POST /contacts"), emulator.count("PUT /contacts/{id}")

    second = project.run("run", "tap-jsonl", "target-intercom", env=project.env(TARGET_INTERCOM_ACCESS_TOKEN=token))
    # Meltano handed the stored state back to the tap: it is usable as a bookmark.
    assert f"bookmark value: {FIRST_SYNC.isoformat()}" in second.stderr, second.stderr
    assert "summary: 4 users read; created 1, updated 1, unchanged 2, rejected 0" in second.stderr, second.stderr
    assert contacts_of(emulator) == [
        ("u1", "ada@example.com", "Ada Lovelace", {"plan": "pro"}),
        ("u2", "alan@example.com", "Alan Turing", {"plan": "pro"}),
        ("u3", "grace@example.com", "Grace Hopper", {"plan": "pro"}),
        ("u4", "edsger@example.com", "Edsger Dijkstra", {"plan": "free"}),
    ]
    assert emulator.count("POST /contacts") - creates == 1
    assert emulator.count("PUT /contacts/{id}") - updates == 1

    bookmark = users_bookmark(project.state())
    (partition,) = bookmark["partitions"]
    assert partition["replication_key_value"] == SECOND_SYNC.isoformat()
    assert files_holding(project.path, token) == []
