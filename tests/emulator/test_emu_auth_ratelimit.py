"""Authentication, API versions, and Intercom's rate limit."""
from __future__ import annotations

import math
import re
import time
from typing import Any, Callable

import httpx
import pytest

from intercom_emulator import Emulator
from intercom_emulator.ratelimit import RateLimiter, window_limit
from intercom_emulator.testing import error_of, make_client

UNAUTHORIZED = {"code": "unauthorized", "message": "Access Token Invalid"}


@pytest.mark.parametrize("header", [None, "Bearer wrong", "Basic abc", "Bearer", "iem-test-token-5b9e31c7"])
def test_missing_or_wrong_token_is_401(emulator: Emulator, header: Any) -> None:
    headers = {"Intercom-Version": "2.14"}
    if header is not None:
        headers["Authorization"] = header
    r = httpx.post(emulator.url + "/contacts", json={"email": "x@example.com"}, headers=headers)
    assert r.status_code == 401
    body = r.json()
    assert body["type"] == "error.list" and body["errors"] == [UNAUTHORIZED]
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", body["request_id"])
    assert "x-ratelimit-limit" not in r.headers  # not sent without valid credentials
    assert emulator.contacts() == []
    assert emulator.requests[-1].status == 401


def test_bearer_scheme_is_case_insensitive(emulator: Emulator) -> None:
    r = httpx.get(emulator.url + "/data_attributes", headers={"Authorization": "bearer " + emulator.token})
    assert r.status_code == 200


@pytest.mark.parametrize("version", ["1.0", "1.4", "2.0", "2.7", "2.14", "2.15", "2.16", "2.17", "Preview",
                                     "Unstable"])
def test_known_versions(emulator: Emulator, version: str) -> None:
    with make_client(emulator, version=version) as client:
        assert client.get("/data_attributes").status_code == 200
    assert emulator.requests[-1].version == version


@pytest.mark.parametrize("version", ["2.18", "3.0", "1.5", "latest", "", "2.14.1"])
def test_unknown_versions_are_400(emulator: Emulator, version: str) -> None:
    with make_client(emulator, version=version) as client:
        r = client.get("/data_attributes")
    assert r.status_code == 400
    assert error_of(r) == {"code": "intercom_version_invalid", "message": "The requested version could not be found"}


def test_owner_id_type_follows_the_version(emulator: Emulator) -> None:
    emulator.seed_admin(id=321)
    emulator.seed_admin(id="654")
    with make_client(emulator, version="2.14") as v14, make_client(emulator, version="2.16") as v16, \
            make_client(emulator, version="Preview") as pv, make_client(emulator, version=None) as bare:
        c = v14.post("/contacts", json={"email": "o@example.com", "owner_id": 321}).json()
        assert c["owner_id"] == 321
        assert v16.get("/contacts/" + c["id"]).json()["owner_id"] == "321"
        assert pv.get("/contacts/" + c["id"]).json()["owner_id"] == "321"
        assert v16.put("/contacts/" + c["id"], json={"owner_id": "654"}).json()["owner_id"] == "654"
        assert v14.get("/contacts/" + c["id"]).json()["owner_id"] == 654
        assert bare.get("/contacts/" + c["id"]).json()["owner_id"] == 654  # default version 2.14
        emulator.configure(default_version="2.16")
        assert bare.get("/contacts/" + c["id"]).json()["owner_id"] == "654"
    assert emulator.requests[-1].version is None


def test_configure_rejects_bad_settings(emulator: Emulator) -> None:
    with pytest.raises(ValueError):
        emulator.configure(default_version="9.9")
    with pytest.raises(ValueError):
        emulator.configure(latency=-1)
    with pytest.raises(TypeError):
        emulator.configure(colour="red")


def _align_to_window_start() -> None:
    """Sleep to the start of a fresh 10 s window when too little of the current one is left."""
    if time.time() % 10 > 7:
        time.sleep(10.05 - time.time() % 10)


def test_rate_limit_headers_and_429_as_first_guessed(emulator_factory: Callable[..., Emulator]) -> None:
    # recorded_rate_limit_headers=False: Remaining counted after the request, Reset on the boundary.
    emu = emulator_factory(rate_limit_per_minute=60, recorded_rate_limit_headers=False)  # 10 per 10 s window
    _align_to_window_start()
    with make_client(emu) as client:
        for i in range(10):
            r = client.get("/data_attributes")
            assert r.status_code == 200
            assert r.headers["X-RateLimit-Limit"] == "10"
            assert r.headers["X-RateLimit-Remaining"] == str(9 - i)
            reset = int(r.headers["X-RateLimit-Reset"])
            assert reset % 10 == 0 and 0 < reset - time.time() <= 10
        for _ in range(3):
            r = client.get("/data_attributes")
            assert r.status_code == 429
            assert r.json()["errors"] == [{"code": "rate_limit_exceeded",
                                           "message": "Exceeded rate limit of 10 in 10_seconds"}]
            assert r.headers["X-RateLimit-Remaining"] == "0" and r.headers["X-RateLimit-Reset"] == str(reset)
        assert client.get("/contacts/x", headers={"Authorization": "Bearer nope"}).status_code == 401
    assert emu.rate_limited == 3
    assert emu.count("GET /data_attributes") == 13
    assert emu.stats()["rate_limited"] == 3


def test_default_limit_is_a_sixth_of_ten_thousand(api: httpx.Client) -> None:
    r = api.get("/data_attributes")
    assert r.headers["X-RateLimit-Limit"] == str(math.ceil(10_000 / 6)) == "1667"


def test_rate_limit_can_be_disabled_and_reconfigured(emulator_factory: Callable[..., Emulator]) -> None:
    emu = emulator_factory(rate_limit_per_minute=None)
    _align_to_window_start()
    with make_client(emu) as client:
        for _ in range(30):
            r = client.get("/data_attributes")
            assert r.status_code == 200
        assert int(r.headers["X-RateLimit-Limit"]) >= 10 ** 9 and "X-RateLimit-Reset" in r.headers
        emu.configure(rate_limit_per_minute=6)
        assert client.get("/data_attributes").status_code == 429  # 31 already used in this window, limit 1


def test_windows_are_fixed_and_aligned() -> None:
    now = [1000.0]
    limiter = RateLimiter(12, clock=lambda: now[0])  # 2 per window
    assert limiter.acquire() == (True, 2, 1, 1010)
    now[0] = 1009.9
    assert limiter.acquire() == (True, 2, 0, 1010)
    assert limiter.acquire() == (False, 2, 0, 1010)
    now[0] = 1010.0
    assert limiter.acquire() == (True, 2, 1, 1020)
    assert window_limit(10_000) == 1667 and window_limit(1000) == 167


def test_rate_limit_headers_as_recorded(emulator_factory: Callable[..., Emulator]) -> None:
    """Grouparoo's recordings and the 2.17 docs: Remaining counts before the request; Reset is boundary + 2 s."""
    emu = emulator_factory(rate_limit_per_minute=60)  # 10 per window; recorded_rate_limit_headers is the default
    assert emu.settings["recorded_rate_limit_headers"] is True
    _align_to_window_start()
    with make_client(emu) as client:
        seen = []
        for _ in range(10):
            r = client.get("/data_attributes")
            assert r.status_code == 200
            seen.append(int(r.headers["X-RateLimit-Remaining"]))
            reset = int(r.headers["X-RateLimit-Reset"])
            assert reset % 10 == 2 and 2 < reset - time.time() <= 12
        assert seen == list(range(10, 0, -1))  # the first answer shows the whole limit, the last allowed one 1
        r = client.get("/data_attributes")
        assert r.status_code == 429
        assert r.headers["X-RateLimit-Remaining"] == "0" and r.headers["X-RateLimit-Reset"] == str(reset)


def test_recorded_windows_refill_2_s_before_the_advertised_reset() -> None:
    now = [1005.0]
    limiter = RateLimiter(12, clock=lambda: now[0])  # 2 per window
    assert limiter.acquire(recorded=True) == (True, 2, 2, 1012)
    assert limiter.acquire(recorded=True) == (True, 2, 1, 1012)
    assert limiter.acquire(recorded=True) == (False, 2, 0, 1012)
    now[0] = 1010.0
    assert limiter.acquire(recorded=True) == (True, 2, 2, 1022)


def test_recorded_headers_with_clock_skew(emulator_factory: Callable[..., Emulator]) -> None:
    emu = emulator_factory(clock_skew=3600.0)
    with make_client(emu) as client:
        r = client.get("/data_attributes")
    reset = int(r.headers["X-RateLimit-Reset"])
    assert reset % 10 == 2 and 3600 < reset - time.time() <= 3612
    emu.configure(recorded_rate_limit_headers=False)
    with make_client(emu) as client:
        r = client.get("/data_attributes")
    assert int(r.headers["X-RateLimit-Reset"]) % 10 == 0
