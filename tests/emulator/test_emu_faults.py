"""Latency and injected faults: error bursts, HTML pages, drops, slow and malformed answers, failing writes."""
from __future__ import annotations

import json
import threading
import time
from typing import Callable, List

import httpx
import pytest
from intercom import Intercom
from intercom.core.api_error import ApiError

from intercom_emulator import Emulator
from intercom_emulator.testing import error_of, make_client


@pytest.mark.parametrize("status, code", [(500, "server_error"), (502, "bad_gateway"), (503, "service_unavailable"),
                                          (504, "gateway_timeout"), (429, "rate_limit_exceeded"),
                                          (401, "unauthorized"), (403, "forbidden")])
def test_fail_next_json(emulator: Emulator, api: httpx.Client, status: int, code: str) -> None:
    emulator.fail_next(2, status=status)
    for _ in range(2):
        r = api.post("/contacts", json={"email": "f@example.com"})
        assert r.status_code == status and error_of(r)["code"] == code
    assert emulator.contacts() == []  # failed requests are not applied
    assert api.post("/contacts", json={"email": "f@example.com"}).status_code == 200
    assert [r.fault for r in emulator.requests] == ["fail", "fail", None]
    assert emulator.rate_limited == (2 if status == 429 else 0)


def test_fail_next_with_retry_after_html_and_empty(emulator: Emulator, api: httpx.Client) -> None:
    emulator.fail_next(1, status=429, retry_after=2)
    r = api.get("/data_attributes")
    assert r.status_code == 429 and r.headers["Retry-After"] == "2" and "X-RateLimit-Reset" in r.headers
    assert error_of(r)["message"].startswith("Exceeded rate limit of 1667")
    emulator.fail_next(1, status=502, body="html")
    r = api.get("/data_attributes")
    assert r.status_code == 502 and r.headers["Content-Type"].startswith("text/html")
    assert "<html>" in r.text
    with pytest.raises(json.JSONDecodeError):
        r.json()
    emulator.fail_next(1, status=503, body="empty")
    r = api.get("/data_attributes")
    assert r.status_code == 503 and r.content == b""


def test_fail_forever_until_cleared_and_matching(emulator: Emulator, api: httpx.Client) -> None:
    emulator.fail_next(None, status=500, match_method="PUT", match_path=r"^/contacts/[0-9a-f]{24}$")
    c = api.post("/contacts", json={"email": "m@example.com"}).json()
    for _ in range(5):
        assert api.put("/contacts/" + c["id"], json={"name": "x"}).status_code == 500
        assert api.get("/contacts/" + c["id"]).status_code == 200
    emulator.clear_faults()
    assert api.put("/contacts/" + c["id"], json={"name": "x"}).status_code == 200


def test_faults_are_consumed_in_order(emulator: Emulator, api: httpx.Client) -> None:
    emulator.fail_next(1, status=500)
    emulator.fail_next(1, status=503)
    assert [api.get("/data_attributes").status_code for _ in range(3)] == [500, 503, 200]


def test_drop_before_processing(emulator: Emulator, api: httpx.Client) -> None:
    emulator.drop_next(1)
    with pytest.raises(httpx.RemoteProtocolError):
        api.post("/contacts", json={"external_id": "dropped"})
    assert emulator.contacts() == []
    assert emulator.requests[-1].status == 0 and emulator.requests[-1].fault == "drop"
    assert api.post("/contacts", json={"external_id": "dropped"}).status_code == 200


def test_drop_after_processing(emulator: Emulator, api: httpx.Client) -> None:
    emulator.drop_next(1, after_processing=True)
    with pytest.raises(httpx.RemoteProtocolError):
        api.post("/contacts", json={"external_id": "applied"})
    assert [c["external_id"] for c in emulator.contacts()] == ["applied"]
    r = api.post("/contacts", json={"external_id": "applied"})  # a retry now meets a conflict
    assert r.status_code == 409


def test_delay_beyond_client_timeout(emulator: Emulator) -> None:
    emulator.delay_next(1, seconds=0.6)
    with make_client(emulator, timeout=0.2) as client:
        t0 = time.monotonic()
        with pytest.raises(httpx.ReadTimeout):
            client.post("/contacts", json={"external_id": "slow"})
        assert time.monotonic() - t0 < 0.5
    assert [c["external_id"] for c in emulator.contacts()] == ["slow"]  # applied before the late answer


def test_delay_before_processing(emulator: Emulator, api: httpx.Client) -> None:
    emulator.delay_next(1, seconds=0.3, after_processing=False)
    t0 = time.monotonic()
    assert api.post("/contacts", json={"external_id": "late"}).status_code == 200
    assert time.monotonic() - t0 >= 0.3


@pytest.mark.parametrize("kind", ["truncated", "garbage"])
def test_malformed_json(emulator: Emulator, api: httpx.Client, kind: str) -> None:
    emulator.malformed_next(1, kind=kind)
    r = api.post("/contacts", json={"external_id": "mal"})
    assert r.status_code == 200
    with pytest.raises(ValueError):
        json.loads(r.content)
    assert [c["external_id"] for c in emulator.contacts()] == ["mal"]
    assert api.get("/data_attributes").json()["type"] == "list"  # the connection is still usable


def test_fail_writes_after_k(emulator: Emulator, api: httpx.Client) -> None:
    emulator.fail_writes_after(2, status=503)
    statuses = [api.post("/contacts", json={"external_id": "w%d" % i}).status_code for i in range(4)]
    assert statuses == [200, 200, 503, 503]
    c = emulator.contacts()[0]
    assert api.put("/contacts/" + c["id"], json={"name": "x"}).status_code == 503
    assert api.post("/data_attributes", json={"name": "a", "model": "contact", "data_type": "string"}).status_code == 503
    query = {"query": {"field": "external_id", "operator": "=", "value": "w0"}}
    assert api.post("/contacts/search", json=query).status_code == 200
    assert api.get("/contacts/" + c["id"]).status_code == 200
    assert len(emulator.contacts()) == 2
    emulator.clear_faults()
    assert api.post("/contacts", json={"external_id": "w9"}).status_code == 200


def test_failed_writes_do_not_count_towards_k(emulator: Emulator, api: httpx.Client) -> None:
    emulator.fail_writes_after(1)
    assert api.post("/contacts", json={"name": "no identity"}).status_code == 400
    assert api.post("/contacts", json={"external_id": "first"}).status_code == 200
    assert api.post("/contacts", json={"external_id": "second"}).status_code == 500


def test_bad_fault_arguments(emulator: Emulator) -> None:
    with pytest.raises(ValueError):
        emulator.fail_next(0)
    with pytest.raises(ValueError):
        emulator.fail_next(1, body="xml")
    with pytest.raises(ValueError):
        emulator.malformed_next(1, kind="weird")


def test_latency_overlaps_for_concurrent_requests(emulator_factory: Callable[..., Emulator]) -> None:
    emu = emulator_factory(latency=0.25)
    durations: List[float] = []

    def call() -> None:
        with make_client(emu) as client:
            t0 = time.monotonic()
            client.get("/data_attributes")
            durations.append(time.monotonic() - t0)

    threads = [threading.Thread(target=call) for _ in range(6)]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    total = time.monotonic() - t0
    assert all(d >= 0.25 for d in durations)
    assert total < 0.25 * 3  # six sequential calls would need 1.5 s
    with make_client(emu) as admin:
        t0 = time.monotonic()
        admin.get("/_emulator/stats")  # the admin interface has no latency
        assert time.monotonic() - t0 < 0.2


def test_jitter_stays_within_bounds(emulator_factory: Callable[..., Emulator]) -> None:
    emu = emulator_factory(latency=0.1, jitter=0.05)
    with make_client(emu) as client:
        for _ in range(6):
            t0 = time.monotonic()
            client.get("/data_attributes")
            assert 0.045 <= time.monotonic() - t0 < 0.3


def test_sdk_sees_injected_failures(emulator: Emulator) -> None:
    client = Intercom(token=emulator.token, base_url=emulator.url, headers={"Intercom-Version": "2.14"})
    emulator.fail_next(1, status=503)
    with pytest.raises(ApiError) as info:
        client.contacts.find(contact_id="ffffffffffffffffffffffff")
    assert info.value.status_code == 503 and info.value.body["errors"][0]["code"] == "service_unavailable"
    emulator.fail_next(1, status=502, body="html")
    with pytest.raises(ApiError) as info:
        client.contacts.find(contact_id="ffffffffffffffffffffffff")
    assert info.value.status_code == 502 and "<html>" in info.value.body
    emulator.fail_next(1, status=429, retry_after=0)
    with pytest.raises(ApiError) as info:
        client.contacts.find(contact_id="x")
    assert info.value.status_code == 429 and info.value.headers["retry-after"] == "0"


def test_fail_next_with_a_named_error(emulator: Emulator, api: httpx.Client) -> None:
    # 2.16 documents 403 api_plan_restricted "Active subscription needed." for a workspace without the plan.
    emulator.fail_next(1, status=403, code="api_plan_restricted", message="Active subscription needed.")
    r = api.post("/contacts", json={"email": "plan@example.com"})
    assert r.status_code == 403
    assert error_of(r) == {"code": "api_plan_restricted", "message": "Active subscription needed."}
    emulator.fail_next(1, status=400, code="parameter_invalid")  # the message defaults as for the status
    assert error_of(api.get("/data_attributes")) == {"code": "parameter_invalid", "message": "Bad Request"}
    with pytest.raises(ValueError):
        emulator.fail_next(1, status=403, code=403)  # type: ignore[arg-type]


def test_a_403_on_the_bulk_endpoints_only(emulator: Emulator) -> None:
    emulator.fail_next(None, status=403, match_path=r"^/contacts/bulk", code="forbidden",
                       message="Preview features are not enabled for this workspace")
    with make_client(emulator, version="Preview") as pv:
        r = pv.post("/contacts/bulk", json={"contacts": [{"external_id": "b1"}]})
        assert r.status_code == 403 and error_of(r)["message"].startswith("Preview features")
        assert pv.put("/contacts/bulk", json={"contacts": [{"id": "x"}]}).status_code == 403
        assert pv.post("/contacts", json={"external_id": "single"}).status_code == 200
        assert pv.post("/contacts/search", json={"query": {"field": "external_id", "operator": "=",
                                                           "value": "single"}}).status_code == 200


def test_admin_faults_take_code_and_message(emulator: Emulator, api: httpx.Client) -> None:
    r = httpx.post(emulator.url + "/_emulator/faults",
                   json={"fault": "fail_next", "n": 1, "status": 403, "code": "api_plan_restricted",
                         "message": "Active subscription needed."})
    assert r.status_code == 200 and r.json()["faults"][0]["code"] == "api_plan_restricted"
    assert error_of(api.get("/contacts/x"))["code"] == "api_plan_restricted"
    httpx.post(emulator.url + "/_emulator/faults", json={"fault": "fail_writes_after", "k": 0, "status": 403,
                                                         "code": "token_unauthorized", "message": "No scope"})
    r = api.post("/contacts", json={"email": "w@example.com"})
    assert r.status_code == 403 and error_of(r) == {"code": "token_unauthorized", "message": "No scope"}
