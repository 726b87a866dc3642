"""Preview bulk contacts: gating, request validation, asynchronous jobs and per-item outcomes."""
from __future__ import annotations

import re
import time
from typing import Any, Callable, Dict

import httpx
import pytest

from intercom_emulator import Emulator
from intercom_emulator.testing import error_of, make_client


@pytest.fixture
def emu(emulator_factory: Callable[..., Emulator]) -> Emulator:
    return emulator_factory(bulk_task_delay=0.15)


@pytest.fixture
def pv(emu: Emulator) -> Any:
    with make_client(emu, version="Preview") as client:
        yield client


def wait_done(client: httpx.Client, job_id: str, timeout: float = 5.0) -> Dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        job = client.get("/contacts/bulk/" + job_id).json()
        if job["state"] in ("completed", "completed_with_errors") or time.monotonic() > deadline:
            return job
        time.sleep(0.02)


def test_only_with_preview_and_when_enabled(emu: Emulator, pv: httpx.Client) -> None:
    body = {"contacts": [{"external_id": "x"}]}
    for version in ("2.14", "2.16", "Unstable"):
        with make_client(emu, version=version) as client:
            for method, path in (("POST", "/contacts/bulk"), ("PUT", "/contacts/bulk"), ("GET", "/contacts/bulk/job_v2_1"),
                                 ("POST", "/contacts/bulk/delete")):
                r = client.request(method, path, json=body if method != "GET" else None)
                assert r.status_code == 404 and error_of(r)["code"] == "not_found", (version, method, path)
    emu.configure(bulk_enabled=False)
    assert pv.post("/contacts/bulk", json=body).status_code == 404
    emu.configure(bulk_enabled=True)
    assert pv.post("/contacts/bulk", json=body).status_code == 202


def test_create_job_lifecycle(emu: Emulator, pv: httpx.Client) -> None:
    emu.seed_data_attribute("plan", "string")
    emu.seed_admin(id="321")
    r = pv.post("/contacts/bulk", json={"contacts": [
        {"external_id": "b1", "email": "b1@example.com", "name": "B One", "role": "user", "owner_id": "321",
         "signed_up_at": 1571672154, "language_override": "fr", "custom_attributes": {"plan": "pro"},
         "companies": [{"company_id": "6", "name": "Blue Sun"}], "tags": {"add": [{"id": "123"}]}},
        {"external_id": "b2", "role": "lead"},
    ]})
    assert r.status_code == 202, r.text
    job = r.json()
    assert re.fullmatch(r"job_v2_\d+", job["id"]) and job["type"] == "contacts.bulk.job"
    assert job["state"] == "pending" and job["completed_at"] is None
    assert job["url"] == "%s/contacts/bulk/%s" % (emu.url, job["id"])
    assert len(job["tasks"]) == 1
    task = job["tasks"][0]
    assert re.fullmatch(r"task_v2_\d+", task["id"]) and task["item_count"] == 2 and task["state"] == "pending"
    assert task["started_at"] is None and task["completed_at"] is None and isinstance(task["created_at"], int)
    time.sleep(0.05)
    running = pv.get("/contacts/bulk/" + job["id"]).json()
    assert running["state"] == "running" and running["tasks"][0]["state"] == "running"
    assert running["tasks"][0]["started_at"] is not None
    assert emu.contacts() == []  # nothing applied while the task runs
    done = wait_done(pv, job["id"])
    assert done["state"] == "completed" and done["tasks"][0]["state"] == "completed"
    assert isinstance(done["completed_at"], int) and done["tasks"][0]["completed_at"] == done["completed_at"]
    contacts = {c["role"]: c for c in emu.contacts()}
    b1 = contacts["user"]
    assert b1["name"] == "B One" and b1["owner_id"] == 321 and b1["signed_up_at"] == 1571672154
    assert b1["language_override"] == "fr" and b1["custom_attributes"] == {"plan": "pro"}
    assert re.fullmatch(r"[0-9a-f-]{36}", contacts["lead"]["external_id"])  # a lead's external_id is Intercom's
    detail = emu.bulk_jobs()[0]["tasks"][0]
    assert detail["kind"] == "create"
    assert [i["outcome"] for i in detail["items"]] == ["created", "created"]
    assert detail["items"][0]["ignored_fields"] == ["companies", "tags"]


def test_rejected_items_end_as_completed_with_errors(emu: Emulator, pv: httpx.Client) -> None:
    emu.seed_data_attribute("seats", "integer")
    existing = emu.seed_contact(external_id="taken", email="user@example.com")
    archived = emu.seed_contact(external_id="gone", email="gone@example.com", archived=True)
    emu.seed_contact(email="lead@example.com", role="lead")
    r = pv.post("/contacts/bulk", json={"contacts": [
        {"external_id": "taken"},                                   # external_id exists
        {"email": "USER@example.com", "external_id": "new-ext"},    # email exists (strict: ext does not help)
        {"external_id": "gone"},                                    # archived contacts count
        {"email": "user@example.com", "role": "lead"},              # leads are exempt
        {"email": "lead@example.com"},                              # an existing lead does not block a user
        {"external_id": "ok-1", "custom_attributes": {"seats": "x"}},  # validated like single writes
        {"external_id": "ok-2", "custom_attributes": {"nope": 1}},
        {"external_id": "ok-3"},
        {"external_id": "ok-3"},                                    # duplicate within the batch
    ]})
    job = wait_done(pv, r.json()["id"])
    assert job["state"] == "completed_with_errors" and job["tasks"][0]["state"] == "completed_with_errors"
    assert set(job["tasks"][0]) == {"id", "item_count", "state", "created_at", "started_at", "completed_at"}
    items = emu.bulk_jobs()[0]["tasks"][0]["items"]
    assert [i["outcome"] for i in items] == ["rejected", "rejected", "rejected", "created", "created", "rejected",
                                             "rejected", "created", "rejected"]
    assert existing["id"] in items[0]["reason"] and existing["id"] in items[1]["reason"]
    assert "archived" in items[2]["reason"] and archived["id"] in items[2]["reason"]
    assert "seats" in items[5]["reason"] and "does not exist" in items[6]["reason"]
    assert [i["index"] for i in items] == list(range(9))


def test_update_job(emu: Emulator, pv: httpx.Client) -> None:
    emu.seed_admin(id=7)
    c = emu.seed_contact(external_id="u1", name="Old", signed_up_at=100)
    other = emu.seed_contact(external_id="u2")
    r = pv.put("/contacts/bulk", json={"contacts": [
        {"id": c["id"], "name": "New", "owner_id": "7", "role": "lead", "signed_up_at": 999, "last_seen_at": 5,
         "unsubscribed_from_emails": True},
        {"id": "ffffffffffffffffffffffff", "name": "ghost"},
        {"id": other["id"], "external_id": "u1"},
    ]})
    assert r.status_code == 202
    job = wait_done(pv, r.json()["id"])
    assert job["state"] == "completed_with_errors"
    after = emu.contact(c["id"])
    assert after["name"] == "New" and after["owner_id"] == 7 and after["unsubscribed_from_emails"] is True
    assert after["role"] == "user" and after["signed_up_at"] == 100 and after["last_seen_at"] is None  # ignored
    items = emu.bulk_jobs()[0]["tasks"][0]["items"]
    assert [i["outcome"] for i in items] == ["updated", "rejected", "rejected"]
    assert items[0]["ignored_fields"] == ["role", "signed_up_at", "last_seen_at"]
    assert "not_found" in items[1]["reason"] and "conflict" in items[2]["reason"]


def test_delete_job(emu: Emulator, pv: httpx.Client) -> None:
    c = emu.seed_contact(external_id="d1")
    r = pv.post("/contacts/bulk/delete", json={"contacts": [{"id": c["id"]}, {"id": "ffffffffffffffffffffffff"}]})
    job = wait_done(pv, r.json()["id"])
    assert job["state"] == "completed_with_errors" and emu.contacts() == []


@pytest.mark.parametrize("method, path, body, code, message", [
    ("POST", "/contacts/bulk", {}, "field_not_found", "contacts field must be supplied"),
    ("POST", "/contacts/bulk", {"contacts": {"a": 1}}, "type_mismatch", "contacts must be an array"),
    ("POST", "/contacts/bulk", {"contacts": [{"external_id": str(i)} for i in range(101)]}, "parameter_invalid",
     "maximum number of contacts per request is 100"),
    ("POST", "/contacts/bulk", {"contacts": ["x"]}, "type_mismatch", "each contact must be an object"),
    ("PUT", "/contacts/bulk", {"contacts": [{"name": "no id"}]}, "field_not_found", "contacts must be identified by id"),
    ("POST", "/contacts/bulk/delete", {"contacts": [{}]}, "field_not_found", "contacts must be identified by id"),
])
def test_request_level_422s(emu: Emulator, pv: httpx.Client, method: str, path: str, body: Any, code: str,
                            message: str) -> None:
    r = pv.request(method, path, json=body)
    assert r.status_code == 422
    assert error_of(r) == {"code": code, "message": message}
    assert emu.bulk_jobs() == []


def test_hundred_items_is_fine(pv: httpx.Client) -> None:
    r = pv.post("/contacts/bulk", json={"contacts": [{"external_id": "h%d" % i} for i in range(100)]})
    assert r.status_code == 202 and r.json()["tasks"][0]["item_count"] == 100


def test_appending_tasks_to_a_job(emu: Emulator, pv: httpx.Client) -> None:
    first = pv.post("/contacts/bulk", json={"contacts": [{"external_id": "j1"}]}).json()
    second = pv.post("/contacts/bulk", json={"contacts": [{"external_id": "j2"}], "job": {"id": first["id"]}})
    assert second.status_code == 202
    job = second.json()
    assert job["id"] == first["id"] and len(job["tasks"]) == 2
    assert job["tasks"][1]["state"] == "pending"  # tasks of one job run one after another
    done = wait_done(pv, job["id"])
    assert done["state"] == "completed" and [t["state"] for t in done["tasks"]] == ["completed", "completed"]
    assert {c["external_id"] for c in emu.contacts()} == {"j1", "j2"}
    r = pv.post("/contacts/bulk", json={"contacts": [{"external_id": "j3"}], "job": {"id": first["id"]}})
    assert r.status_code == 403
    assert error_of(r) == {"code": "forbidden", "message": "job %s is closed for new task updates" % first["id"]}
    r = pv.put("/contacts/bulk", json={"contacts": [{"id": "x"}], "job": {"id": "job_v2_999"}})
    assert r.status_code == 404 and error_of(r) == {"code": "job_not_found", "message": "job job_v2_999 not found"}


def test_unknown_job(pv: httpx.Client) -> None:
    r = pv.get("/contacts/bulk/job_v2_42")
    assert r.status_code == 404 and error_of(r)["code"] == "job_not_found"


def test_created_contacts_are_subject_to_search_lag(emulator_factory: Callable[..., Emulator]) -> None:
    emu = emulator_factory(bulk_task_delay=0.0, search_lag=30)
    with make_client(emu, version="Preview") as client:
        job = client.post("/contacts/bulk", json={"contacts": [{"external_id": "lagged"}]}).json()
        assert wait_done(client, job["id"])["state"] == "completed"
        assert client.get("/contacts/find_by_external_id/lagged").status_code == 200
        found = client.post("/contacts/search", json={"query": {"field": "external_id", "operator": "=",
                                                                "value": "lagged"}}).json()
        assert found["total_count"] == 0


def test_independent_jobs_run_side_by_side(emulator_factory: Callable[..., Emulator]) -> None:
    emu = emulator_factory(bulk_task_delay=0.3)
    with make_client(emu, version="Preview") as client:
        t0 = time.monotonic()
        ids = [client.post("/contacts/bulk", json={"contacts": [{"external_id": "s%d" % i}]}).json()["id"]
               for i in range(5)]
        for job_id in ids:
            assert wait_done(client, job_id)["state"] == "completed"
        assert time.monotonic() - t0 < 1.2
