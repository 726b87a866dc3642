"""The admin HTTP interface, the command line and the pytest fixture."""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from intercom_emulator import Emulator
from intercom_emulator.pytest_plugin import TEST_TOKEN
from intercom_emulator.testing import make_client

REPO = Path(__file__).resolve().parents[2]


def test_fixture_gives_a_started_emulator_with_a_distinctive_token(emulator: Emulator) -> None:
    assert emulator.running and emulator.token == TEST_TOKEN
    assert httpx.get(emulator.url + "/_emulator/stats").status_code == 200


def test_admin_interface(emulator: Emulator) -> None:
    admin = httpx.Client(base_url=emulator.url + "/_emulator", timeout=10)
    r = admin.post("/seed", json={"data_attributes": [{"name": "plan", "data_type": "string"}],
                                  "contacts": [{"external_id": "s1", "custom_attributes": {"plan": "pro"}},
                                               {"email": "s2@example.com", "role": "lead"}]})
    assert r.status_code == 200 and r.json() == {"contacts": 2, "data_attributes": 1}
    contacts = admin.get("/contacts").json()
    assert contacts["count"] == 2 and {c["email"] for c in contacts["contacts"]} == {"", "s2@example.com"}
    assert admin.get("/contacts", params={"limit": 1}).json()["count"] == 1
    assert admin.post("/config", json={"rate_limit_per_minute": 60, "search_lag": 0.5}).json()["search_lag"] == 0.5
    assert admin.get("/config").json()["rate_limit_per_minute"] == 60
    assert admin.post("/config", json={"latency": -3}).status_code == 400
    assert admin.post("/config", json={"nonsense": 1}).status_code == 400
    r = admin.post("/faults", json={"fault": "fail_next", "n": 1, "status": 503, "match_method": "GET"})
    assert r.status_code == 200 and r.json()["faults"][0]["status"] == 503
    assert admin.post("/faults", json={"fault": "explode"}).status_code == 400
    with make_client(emulator) as api:
        r = api.get("/data_attributes")
        assert r.status_code == 503 and r.headers["X-RateLimit-Limit"] == "10"
        api.get("/contacts/x")
    stats = admin.get("/stats").json()
    assert stats["total"] == 2 and stats["counts"] == {"GET /data_attributes": 1, "GET /contacts/{id}": 1}
    assert stats["contacts"] == 2 and stats["rate_limited"] == 0 and stats["custom_attributes"] == 1
    # A handler adds its CPU time after the answer has left, so the last request may not be counted yet.
    deadline = time.monotonic() + 2
    while stats["server_cpu"]["handled"] < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
        stats = admin.get("/stats").json()
    assert stats["server_cpu"]["handled"] >= 2
    requests = admin.get("/requests", params={"limit": 1}).json()["requests"]
    assert len(requests) == 1 and requests[0]["endpoint"] == "GET /contacts/{id}"
    assert admin.get("/bulk_jobs").json() == {"jobs": []}
    assert admin.post("/faults", json={"fault": "fail_writes_after", "k": 0}).status_code == 200
    assert admin.post("/faults", json={"fault": "malformed_next", "malformed": "garbage"}).status_code == 200
    assert admin.post("/faults", json={"fault": "clear"}).json()["faults"] == []
    assert admin.post("/reset").json() == {"ok": True}
    assert admin.get("/contacts").json()["count"] == 0 and admin.get("/stats").json()["total"] == 0
    assert admin.get("/nothing").status_code == 404
    assert admin.post("/seed", content=b"[").status_code == 400
    # Admin calls are neither counted nor rate limited.
    assert emulator.count() == 0
    admin.close()


def test_command_line(tmp_path: Path) -> None:
    seed = tmp_path / "seed.json"
    seed.write_text(json.dumps({"data_attributes": [{"name": "plan", "data_type": "string"}],
                                "contacts": [{"external_id": "cli-1", "custom_attributes": {"plan": "pro"}}]}))
    env = dict(os.environ, PYTHONPATH=str(REPO))
    token = "cli-secret-token-93ad"
    proc = subprocess.Popen([sys.executable, "-m", "intercom_emulator", "--port", "0", "--token", token,
                             "--verbose", "--latency", "0.01", "--seed", str(seed)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=str(tmp_path))
    try:
        line = proc.stdout.readline()
        match = re.search(r"http://127\.0\.0\.1:\d+", line)
        assert match, line
        url = match.group(0)
        headers = {"Authorization": "Bearer " + token, "Intercom-Version": "2.14"}
        r = httpx.get(url + "/contacts/find_by_external_id/cli-1", headers=headers)
        assert r.status_code == 200 and r.json()["custom_attributes"] == {"plan": "pro"}
        assert httpx.post(url + "/contacts", json={"email": "x@example.com"}, headers=headers).status_code == 200
        assert httpx.get(url + "/contacts/abc", headers={"Authorization": "Bearer nope"}).status_code == 401
        time.sleep(0.1)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0
    request_lines = [ln for ln in err.splitlines() if "->" in ln]
    assert len(request_lines) == 3, err
    assert "GET" in request_lines[0] and "/contacts/find_by_external_id/cli-1" in request_lines[0]
    assert "401" in request_lines[2]
    assert token not in out + err


def test_command_line_is_quiet_without_verbose(tmp_path: Path) -> None:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.Popen([sys.executable, "-m", "intercom_emulator", "--port", "0", "--token", "t"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=str(tmp_path))
    try:
        url = re.search(r"http://\S+", proc.stdout.readline()).group(0)  # type: ignore[union-attr]
        httpx.get(url + "/data_attributes", headers={"Authorization": "Bearer t"})
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0
    assert "->" not in err


def test_command_line_rejects_bad_settings() -> None:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    done = subprocess.run([sys.executable, "-m", "intercom_emulator", "--port", "0", "--latency", "-1"],
                          capture_output=True, text=True, env=env, timeout=20)
    assert done.returncode == 2 and "latency" in done.stderr
