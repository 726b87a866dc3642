"""Lifecycle, HTTP plumbing, concurrency, request log and counters."""
from __future__ import annotations

import json
import re
import threading
import time

import httpx
import pytest

from intercom_emulator import Emulator
from intercom_emulator.testing import make_client



def test_starts_fast_on_a_free_loopback_port_and_stops_cleanly() -> None:
    t0 = time.monotonic()
    emu = Emulator(token="t").start()
    try:
        assert time.monotonic() - t0 < 1.0
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", emu.url)
        assert emu.port > 0 and emu.running
        assert httpx.get(emu.url + "/contacts/x", headers={"Authorization": "Bearer t"}).status_code == 404
    finally:
        t0 = time.monotonic()
        emu.stop()
    assert time.monotonic() - t0 < 2.0
    assert not emu.running
    with pytest.raises(httpx.ConnectError):
        httpx.get(emu.url + "/contacts", timeout=1)
    emu.stop()  # stopping twice is harmless


def test_context_manager_and_explicit_port() -> None:
    with Emulator(token="t") as first:
        port = first.port
    with Emulator(token="t", port=port) as emu:
        assert emu.url.endswith(":%d" % port)
        r = httpx.get(emu.url + "/data_attributes", headers={"Authorization": "Bearer t"})
        assert r.status_code == 200


def test_stop_closes_idle_keep_alive_connections() -> None:
    baseline = threading.active_count()
    emu = Emulator(token="t").start()
    client = make_client(emu)
    for _ in range(3):  # several idle keep-alive connections, each with a handler thread blocked on read
        other = make_client(emu)
        assert other.get("/data_attributes").status_code == 200
    assert client.get("/data_attributes").status_code == 200
    assert threading.active_count() > baseline
    t0 = time.monotonic()
    emu.stop()
    assert time.monotonic() - t0 < 2.0
    deadline = time.monotonic() + 2
    while threading.active_count() > baseline and time.monotonic() < deadline:
        time.sleep(0.02)
    assert threading.active_count() <= baseline, [t.name for t in threading.enumerate()]
    client.close()


def test_stop_wakes_a_handler_that_sleeps_in_latency() -> None:
    emu = Emulator(token="t", latency=30).start()
    errors = []

    def call() -> None:
        try:
            make_client(emu, timeout=60).get("/data_attributes")
        except httpx.HTTPError as exc:
            errors.append(exc)

    worker = threading.Thread(target=call)
    worker.start()
    time.sleep(0.2)
    t0 = time.monotonic()
    emu.stop()
    worker.join(5)
    assert time.monotonic() - t0 < 3
    assert not worker.is_alive()


def test_keep_alive_reuses_one_connection(emulator: Emulator, api: httpx.Client) -> None:
    for _ in range(20):
        assert api.get("/data_attributes").status_code == 200
    assert emulator.stats()["connections_accepted"] == 1


def test_concurrent_writes_are_all_applied(emulator: Emulator) -> None:
    def worker(n: int) -> None:
        with make_client(emulator) as client:
            for i in range(25):
                r = client.post("/contacts", json={"external_id": "w%d-%d" % (n, i)})
                assert r.status_code == 200, r.text

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    contacts = emulator.contacts()
    assert len(contacts) == 200
    assert len({c["id"] for c in contacts}) == 200
    assert emulator.count("POST /contacts") == 200


def test_request_records(emulator: Emulator, api: httpx.Client) -> None:
    api.post("/contacts", json={"email": "rec@example.com"}, params={"x": "1"})
    api.get("/data_attributes", params={"model": "contact"}, headers={"Intercom-Version": "2.16"})
    with make_client(emulator, version=None) as bare:
        bare.get("/contacts/abc")
    first, second, third = emulator.requests
    assert (first.method, first.path, first.endpoint) == ("POST", "/contacts", "POST /contacts")
    assert first.query == {"x": "1"}
    assert first.body == {"email": "rec@example.com"}
    assert first.status == 200 and first.version == "2.14"
    assert first.host == "127.0.0.1:%d" % emulator.port
    assert isinstance(first.time, float) and abs(first.time - time.time()) < 5
    assert second.endpoint == "GET /data_attributes" and second.query == {"model": "contact"}
    assert second.version == "2.16"
    assert third.endpoint == "GET /contacts/{id}" and third.status == 404 and third.version is None
    assert emulator.counts() == {"POST /contacts": 1, "GET /data_attributes": 1, "GET /contacts/{id}": 1}
    assert emulator.count() == 3 and emulator.count("PUT /contacts/{id}") == 0


def test_request_log_is_bounded_but_counters_are_exact() -> None:
    with Emulator(token="t", log_maxlen=10) as emu, make_client(emu) as client:
        for _ in range(25):
            client.get("/data_attributes")
        assert len(emu.requests) == 10
        assert emu.count() == 25 and emu.count("GET /data_attributes") == 25


def test_unknown_route_and_bad_json(emulator: Emulator, api: httpx.Client) -> None:
    r = api.get("/tickets/1")
    assert r.status_code == 404 and r.json()["errors"][0]["code"] == "not_found"
    assert emulator.requests[-1].endpoint == "GET (unmatched)"
    r = api.post("/contacts", content=b"{not json", headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and r.json()["errors"][0]["code"] == "bad_request"
    r = api.post("/contacts", json=[1, 2])
    assert r.status_code == 400


def test_reset_clears_everything(emulator: Emulator, api: httpx.Client) -> None:
    emulator.seed_data_attribute("plan", "string")
    api.post("/contacts", json={"email": "a@example.com", "custom_attributes": {"plan": "x"}})
    emulator.fail_next(5)
    emulator.reset()
    assert emulator.contacts() == [] and emulator.count() == 0 and emulator.requests == []
    assert not any(a["custom"] for a in emulator.data_attributes())
    assert emulator.faults()["faults"] == []
    r = api.get("/data_attributes")
    assert r.status_code == 200
    # Recorded headers count the budget before the request: a fresh window reports the whole limit.
    assert r.headers["X-RateLimit-Remaining"] == r.headers["X-RateLimit-Limit"]


def test_token_never_echoed(emulator: Emulator, api: httpx.Client) -> None:
    token = emulator.token
    api.post("/contacts", json={"email": "t@example.com"})
    bad = httpx.get(emulator.url + "/contacts/x", headers={"Authorization": "Bearer wrong-" + token})
    assert token not in bad.text
    api.get("/contacts/nope")
    dump = json.dumps([r.to_dict() for r in emulator.requests]) + json.dumps(emulator.stats())
    dump += json.dumps(emulator.settings)
    assert token not in dump
    assert token not in httpx.get(emulator.url + "/_emulator/config").text


def test_server_cpu_per_simple_request_is_small(emulator: Emulator, api: httpx.Client) -> None:
    contact = api.post("/contacts", json={"email": "cpu@example.com"}).json()
    for _ in range(30):
        api.get("/contacts/" + contact["id"])  # warm up
    before = emulator.stats()["server_cpu"]
    for i in range(300):
        api.put("/contacts/" + contact["id"], json={"name": "n%d" % i})
    after = emulator.stats()["server_cpu"]
    per_request = (after["cpu_seconds"] - before["cpu_seconds"]) / (after["handled"] - before["handled"])
    assert per_request < 0.001, "server CPU per request: %.3f ms" % (per_request * 1000)
