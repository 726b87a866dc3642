"""Admins: GET /admins, seeding them, and the documented 400 for an owner_id that names no admin."""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

import httpx
import pytest

from intercom_emulator import Emulator
from intercom_emulator.attributes import ADMIN_ID
from intercom_emulator.testing import error_of, make_client

NOT_MEMBER = {"code": "parameter_invalid", "message": "The owner specified is not a member of the workspace"}
REPO = Path(__file__).resolve().parents[2]


def test_a_fresh_workspace_has_one_admin(api: httpx.Client) -> None:
    r = api.get("/admins")
    assert r.status_code == 200
    body = r.json()
    assert body["type"] == "admin.list" and [a["id"] for a in body["admins"]] == [ADMIN_ID]
    admin = body["admins"][0]
    assert admin["type"] == "admin" and admin["name"] and admin["email"] and admin["team_ids"] == []
    assert api.get("/admins/" + ADMIN_ID).json() == admin
    r = api.get("/admins/42")
    assert r.status_code == 404 and error_of(r) == {"code": "admin_not_found", "message": "Admin not found"}


def test_owner_id_must_name_an_admin(emulator: Emulator, api: httpx.Client) -> None:
    r = api.post("/contacts", json={"email": "o@example.com", "owner_id": 42})
    assert r.status_code == 400 and error_of(r) == NOT_MEMBER
    assert emulator.contacts() == []
    c = api.post("/contacts", json={"email": "o@example.com", "owner_id": int(ADMIN_ID)}).json()
    assert c["owner_id"] == int(ADMIN_ID)
    r = api.put("/contacts/" + c["id"], json={"owner_id": 42})
    assert r.status_code == 400 and error_of(r) == NOT_MEMBER
    admin = emulator.seed_admin(id=42, name="Ciaran Lee", email="ciaran@example.com")
    assert admin == {"type": "admin", "email": "ciaran@example.com", "id": "42", "name": "Ciaran Lee",
                     "away_mode_enabled": False, "away_mode_reassign": False, "has_inbox_seat": True,
                     "team_ids": []}
    assert api.put("/contacts/" + c["id"], json={"owner_id": 42}).json()["owner_id"] == 42
    assert api.put("/contacts/" + c["id"], json={"owner_id": None}).json()["owner_id"] is None
    with make_client(emulator, version="2.16") as v16:
        assert v16.put("/contacts/" + c["id"], json={"owner_id": "42"}).json()["owner_id"] == "42"
        assert v16.put("/contacts/" + c["id"], json={"owner_id": "43"}).status_code == 400
    assert [a["id"] for a in api.get("/admins").json()["admins"]] == [ADMIN_ID, "42"]


def test_bulk_items_with_an_unknown_owner_are_rejected(emulator_factory: Callable[..., Emulator]) -> None:
    emu = emulator_factory(bulk_task_delay=0.01)
    with make_client(emu, version="Preview") as pv:
        job = pv.post("/contacts/bulk", json={"contacts": [{"external_id": "a", "owner_id": "999"},
                                                          {"external_id": "b", "owner_id": ADMIN_ID}]}).json()
        deadline = time.monotonic() + 5
        while pv.get("/contacts/bulk/" + job["id"]).json()["state"] not in ("completed", "completed_with_errors"):
            assert time.monotonic() < deadline
            time.sleep(0.01)
    items = emu.bulk_jobs()[0]["tasks"][0]["items"]
    assert [i["outcome"] for i in items] == ["rejected", "created"]
    assert "not a member of the workspace" in items[0]["reason"]


def test_seeding_admins(emulator: Emulator) -> None:
    auto = emulator.seed_admin(name="Auto")
    assert auto["id"].isdigit() and auto["id"] != ADMIN_ID
    with pytest.raises(ValueError):
        emulator.seed_admin(id="admin-7")
    seeded = emulator.seed_contact(email="s@example.com", owner_id=777)  # seeds may name a former admin
    assert seeded["owner_id"] == 777
    admin = httpx.Client(base_url=emulator.url + "/_emulator", timeout=10)
    r = admin.post("/seed", json={"admins": [{"id": "55", "name": "Five"}], "contacts": []})
    assert r.status_code == 200 and r.json()["admins"] == 1
    assert admin.post("/admins", json={"id": 56, "email": "six@example.com"}).json()["id"] == "56"
    assert admin.post("/admins", json={"id": "x"}).status_code == 400
    assert [a["id"] for a in admin.get("/admins").json()["admins"]][-2:] == ["55", "56"]
    admin.post("/reset")
    assert [a["id"] for a in emulator.admins()] == [ADMIN_ID]
    admin.close()


def test_the_seed_file_takes_admins(tmp_path: Path) -> None:
    seed = tmp_path / "seed.json"
    seed.write_text(json.dumps({"admins": [{"id": "77", "name": "Seven"}],
                                "contacts": [{"external_id": "owned", "owner_id": 77}]}))
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.Popen([sys.executable, "-m", "intercom_emulator", "--port", "0", "--token", "t",
                             "--seed", str(seed), "--unsubscribed-null", "ignore", "--long-text", "truncate",
                             "--search-max-in-values", "50", "--search-rejects-non-ids",
                             "--email-search-case-sensitive", "--no-recorded-rate-limit-headers",
                             "--email-only-user-conflicts"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=str(tmp_path))
    try:
        url = re.search(r"http://\S+", proc.stdout.readline()).group(0)  # type: ignore[union-attr]
        headers = {"Authorization": "Bearer t", "Intercom-Version": "2.14"}
        assert [a["id"] for a in httpx.get(url + "/admins", headers=headers).json()["admins"]][-1] == "77"
        r = httpx.get(url + "/contacts/find_by_external_id/owned", headers=headers)
        assert r.status_code == 200 and r.json()["owner_id"] == 77
        config = httpx.get(url + "/_emulator/config").json()
        assert config["unsubscribed_null"] == "ignore" and config["long_text"] == "truncate"
        assert config["search_max_in_values"] == 50 and config["search_rejects_non_ids_in_id_filter"] is True
        assert config["email_search_case_sensitive"] is True and config["recorded_rate_limit_headers"] is False
        assert config["email_only_user_conflicts"] is True
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0
