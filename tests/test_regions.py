"""Regions: `region` us, eu and au reach Intercom's matching host, over TLS, with no network at all.

The target is configured with `region` only (no base_url), so it aims at the real
https://api.intercom.io, https://api.eu.intercom.io or https://api.au.intercom.io. Its HTTP client
honours the standard proxy and CA variables, so each run is given:

- HTTPS_PROXY: `intercom_emulator.tls_proxy.InterceptingProxy` on 127.0.0.1. It accepts CONNECT only
  to port 443 of those three hosts, terminates TLS with a certificate for the requested host signed
  by a throwaway CA, records the CONNECT host, SNI and Host header of every request, and forwards the
  requests as plain HTTP to the emulator on loopback;
- SSL_CERT_FILE: that CA alone, so no real server could be trusted either;
- a `sitecustomize` on PYTHONPATH that lets the process resolve and connect to loopback only. A
  client that ignored the proxy variables would fail at its first DNS lookup instead of sending
  anything off the machine.

The caller's own proxy settings (NO_PROXY, no_proxy, ALL_PROXY, ...) are removed first; every test
here runs with hostile values of them set, to show they do not interfere.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Optional

import pytest

from tests.conftest import record, schema, state

pytest.importorskip(
    "cryptography",
    reason="the region tests make a throwaway CA with the cryptography package: pip install -e '.[test]'",
)

from intercom_emulator.tls_proxy import (  # noqa: E402 - after the skip above
    INTERCOM_HOSTS,
    LOOPBACK_GUARD_MARK,
    InterceptingProxy,
    scrub_env,
    write_loopback_guard,
)

USERS = [
    schema(),
    record({"user_id": "u1", "email": "ada@example.com", "name": "Ada Lovelace", "plan": "pro"}),
    record({"user_id": "u2", "email": "alan@example.com", "name": "Alan Turing", "plan": "free"}),
    state({"bookmarks": {"users": {"run": 1}}}),
]

EXPECTED_CONTACTS = [
    ("u1", "ada@example.com", "Ada Lovelace", {"plan": "pro"}),
    ("u2", "alan@example.com", "Alan Turing", {"plan": "free"}),
]

# A run that cannot reach Intercom retries for max_retry_time (300 s by default): fail fast instead.
QUICK = {"max_retry_time": 5}

REGIONS = [
    pytest.param("us", "api.intercom.io", id="us"),
    pytest.param("eu", "api.eu.intercom.io", id="eu"),
    pytest.param("au", "api.au.intercom.io", id="au"),
    pytest.param(None, "api.intercom.io", id="no-region-means-us"),
]


@dataclass
class LoopbackIntercom:
    proxy: InterceptingProxy
    env: Dict[str, str]  # what the target's process is given on top of the scrubbed environment


@pytest.fixture
def callers_proxy_settings(monkeypatch) -> None:
    """Proxy settings a developer's or CI machine may have; the harness must neutralise all of them."""
    monkeypatch.setenv("NO_PROXY", "intercom.io,.intercom.io,127.0.0.1")
    monkeypatch.setenv("no_proxy", "*")
    monkeypatch.setenv("ALL_PROXY", "http://127.0.0.1:9")
    monkeypatch.setenv("http_proxy", "http://127.0.0.1:9")
    monkeypatch.setenv("SSL_CERT_DIR", str(Path(__file__).parent))


@pytest.fixture
def loopback_intercom(callers_proxy_settings, emulator, tmp_path, monkeypatch) -> LoopbackIntercom:
    kept = scrub_env(dict(os.environ))
    for name in set(os.environ) - set(kept):
        monkeypatch.delenv(name)
    guard = write_loopback_guard(tmp_path / "loopback-guard")
    pythonpath = os.pathsep.join(p for p in (str(guard), os.environ.get("PYTHONPATH")) if p)
    with InterceptingProxy(upstream=emulator.url, workdir=tmp_path / "tls") as proxy:
        yield LoopbackIntercom(proxy, {**proxy.client_env(), "PYTHONPATH": pythonpath})


def api_requests_in_summary(stderr: str) -> int:
    match = re.search(r"summary: .*; (\d+) API requests", stderr)
    assert match, f"no summary line in stderr:\n{stderr}"
    return int(match.group(1))


def contacts_of(emulator) -> list:
    return sorted((c["external_id"], c["email"], c["name"], c["custom_attributes"]) for c in emulator.contacts())


@pytest.mark.parametrize("region, host", REGIONS)
def test_region_sends_every_request_to_its_intercom_host_over_tls(
    target, emulator, loopback_intercom, region: Optional[str], host: str
) -> None:
    config = {"base_url": None, "region": region, **QUICK}
    result = target.run(USERS, config=config, env=loopback_intercom.env)

    assert result.returncode == 0, result
    assert LOOPBACK_GUARD_MARK not in result.stderr, result
    assert result.states == [{"bookmarks": {"users": {"run": 1}}}]
    assert contacts_of(emulator) == EXPECTED_CONTACTS

    proxy = loopback_intercom.proxy
    assert proxy.refused == []
    assert proxy.tunnels, "the target opened no tunnel through the proxy"
    assert [t.error for t in proxy.tunnels if t.error] == []
    assert {(t.connect_host, t.connect_port) for t in proxy.tunnels} == {(host, 443)}
    assert {t.sni for t in proxy.tunnels} == {host}, "the TLS server name must be the region's host"
    assert {t.tls_version for t in proxy.tunnels} <= {"TLSv1.2", "TLSv1.3"}
    assert {(r.connect_host, r.sni, r.host_header) for r in proxy.requests} == {(host, host, host)}
    assert {r.host for r in emulator.requests} == {host}
    # Every request the target says it made went through the proxy, and each reached the emulator.
    assert len(proxy.requests) == emulator.count() == api_requests_in_summary(result.stderr)
    assert {r.method for r in proxy.requests} >= {"POST"}


def test_each_region_only_ever_sees_its_own_host(target, emulator, loopback_intercom) -> None:
    """Three runs against one workspace: each run's requests went to its own region's host only."""
    seen = {}
    for region in ("eu", "au", "us"):
        before = len(loopback_intercom.proxy.requests)
        result = target.run(USERS, config={"base_url": None, "region": region, **QUICK}, env=loopback_intercom.env)
        assert result.returncode == 0, result
        seen[region] = {r.connect_host for r in loopback_intercom.proxy.requests[before:]}
    assert seen == {"eu": {"api.eu.intercom.io"}, "au": {"api.au.intercom.io"}, "us": {"api.intercom.io"}}
    assert contacts_of(emulator) == EXPECTED_CONTACTS, "the later runs found the users the first one wrote"


def test_base_url_overrides_region(target, emulator, loopback_intercom) -> None:
    result = target.run(USERS, config={"region": "eu", "base_url": emulator.url, **QUICK}, env=loopback_intercom.env)
    assert result.returncode == 0, result
    assert contacts_of(emulator) == EXPECTED_CONTACTS
    assert loopback_intercom.proxy.tunnels == []
    assert {r.host for r in emulator.requests} == {emulator.url.split("//", 1)[1]}


def test_the_target_verifies_the_certificate(target, emulator, loopback_intercom) -> None:
    """With the public CAs (certifi's, as httpx uses) and not the test CA, the proxy's certificate is refused."""
    import certifi

    env = {**loopback_intercom.env, "SSL_CERT_FILE": certifi.where()}
    result = target.run(USERS, config={"base_url": None, "region": "eu", "max_retry_time": 1}, env=env)
    assert result.returncode == 1, result
    assert result.states == []
    tunnels = loopback_intercom.proxy.tunnels
    assert tunnels and all("UNKNOWN_CA" in (t.error or "") for t in tunnels), tunnels
    assert {(t.connect_host, t.sni) for t in tunnels} == {("api.eu.intercom.io", "api.eu.intercom.io")}
    assert loopback_intercom.proxy.requests == []
    assert emulator.count() == 0 and emulator.contacts() == []


def _proxy_exchange(proxy: InterceptingProxy, request: bytes) -> bytes:
    port = int(proxy.url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request)
        answer = b""
        while b"\r\n\r\n" not in answer:
            chunk = sock.recv(4096)
            if not chunk:
                break
            answer += chunk
    return answer


@pytest.mark.parametrize(
    "request_line",
    [
        "CONNECT example.com:443 HTTP/1.1",
        "CONNECT api.intercom.io:80 HTTP/1.1",
        "CONNECT intercom.io:443 HTTP/1.1",
        "CONNECT 127.0.0.1:{emulator_port} HTTP/1.1",
        "GET http://api.intercom.io/contacts HTTP/1.1",
    ],
    ids=["other-host", "other-port", "apex-domain", "emulator-itself", "plain-proxying"],
)
def test_the_proxy_refuses_everything_but_intercom_hosts(emulator, loopback_intercom, request_line: str) -> None:
    proxy = loopback_intercom.proxy
    line = request_line.format(emulator_port=emulator.url.rsplit(":", 1)[1])
    target_host = line.split()[1]
    answer = _proxy_exchange(proxy, f"{line}\r\nHost: {target_host}\r\n\r\n".encode())
    status = int(answer.split(b" ", 2)[1])
    assert status in (403, 405), answer
    assert [r.target for r in proxy.refused] == [target_host]
    assert proxy.tunnels == [] and proxy.requests == []
    assert emulator.count() == 0


def test_a_client_that_ignored_the_proxy_could_not_leave_the_machine(loopback_intercom, tmp_path) -> None:
    """The guard's fail-safe: a direct connection attempt fails at the name lookup, before any packet."""
    code = (
        "import httpx\n"
        "try:\n"
        "    httpx.Client(trust_env=False).get('https://api.intercom.io/contacts')\n"
        "except httpx.ConnectError as exc:\n"
        "    print('refused:', exc)\n"
    )
    env = {**os.environ, **loopback_intercom.env}
    completed = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.startswith("refused:"), completed.stdout
    assert f"{LOOPBACK_GUARD_MARK} name lookup of 'api.intercom.io'" in completed.stderr
    assert loopback_intercom.proxy.tunnels == []


def test_the_three_hosts_are_the_ones_the_target_maps_regions_to() -> None:
    from target_intercom.config import REGION_URLS

    assert sorted(url.split("//", 1)[1] for url in REGION_URLS.values()) == sorted(INTERCOM_HOSTS)
