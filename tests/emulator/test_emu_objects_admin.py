"""Companies, tags and events through the admin interface, the --seed file and the settings."""
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
import pytest

from intercom_emulator import Emulator
from intercom_emulator.testing import error_of, make_client

REPO = Path(__file__).resolve().parents[2]


def test_admin_seed_and_inspect_objects(emulator: Emulator) -> None:
    admin = httpx.Client(base_url=emulator.url + "/_emulator", timeout=10)
    r = admin.post("/seed", json={
        "data_attributes": [{"name": "tier", "data_type": "string", "model": "company"}],
        "contacts": [{"id": "aaaaaaaaaaaaaaaaaaaaaaaa", "external_id": "s1"}, {"external_id": "s2"}],
        "tags": ["VIP", {"name": "Beta", "contact_ids": ["aaaaaaaaaaaaaaaaaaaaaaaa"]}],
        "companies": [{"company_id": "acme", "name": "Acme", "custom_attributes": {"tier": "gold"},
                       "external_ids": ["s1", "s2"], "tags": ["VIP"]},
                      {"company_id": "lonely"}]})
    assert r.status_code == 200 and r.json() == {"contacts": 2, "data_attributes": 1, "tags": 2, "companies": 2}
    companies = admin.get("/companies").json()
    assert companies["count"] == 2
    acme = next(c for c in companies["companies"] if c["company_id"] == "acme")
    assert acme["user_count"] == 2 and acme["tags"]["tags"][0]["name"] == "VIP"
    assert acme["contact_ids"][0] == "aaaaaaaaaaaaaaaaaaaaaaaa"
    tags = admin.get("/tags").json()
    assert tags["count"] == 2 and tags["tags"][1]["contact_ids"] == ["aaaaaaaaaaaaaaaaaaaaaaaa"]
    with make_client(emulator) as api:
        api.post("/events", json={"event_name": "e", "created_at": 1700000000, "user_id": "s1"})
        api.post("/events", json={"event_name": "e", "created_at": 1700000000, "user_id": "s2"})
        api.delete("/companies/" + acme["id"])
    events = admin.get("/events").json()
    assert events["count"] == 2
    only = admin.get("/events", params={"contact_id": "aaaaaaaaaaaaaaaaaaaaaaaa"}).json()
    assert only["count"] == 1 and only["events"][0]["user_id"] == "s1"
    assert admin.get("/companies").json()["count"] == 1
    assert admin.get("/companies", params={"include_archived": "1"}).json()["count"] == 2
    stats = admin.get("/stats").json()
    assert stats["companies"] == 1 and stats["tags"] == 2 and stats["events"] == 2
    assert stats["events_deduplicated"] == 0
    assert admin.post("/seed", json={"companies": [{"name": "no company_id"}]}).status_code == 400
    assert admin.post("/seed", json={"tags": [{"contact_ids": []}]}).status_code == 400
    r = admin.post("/faults", json={"fault": "company_race_next", "n": 1})
    assert r.status_code == 200 and r.json()["faults"][0]["code"] == "unique_company_constraint"
    with make_client(emulator) as api:
        r = api.post("/companies", json={"company_id": "x"})
        assert r.status_code == 400 and error_of(r)["message"] == "Company already exists."
    assert admin.post("/reset").json() == {"ok": True}
    assert admin.get("/companies").json()["count"] == 0 and admin.get("/tags").json()["count"] == 0
    assert admin.get("/events").json()["count"] == 0
    admin.close()


def test_admin_config_takes_the_new_settings(emulator: Emulator) -> None:
    admin = httpx.Client(base_url=emulator.url + "/_emulator", timeout=10)
    defaults = admin.get("/config").json()
    assert {k: defaults[k] for k in ("company_lookup_sees_userless", "company_create_race", "company_put_company_id",
                                     "company_scroll_expiry", "tag_users_max", "event_long_text")} == {
        "company_lookup_sees_userless": True, "company_create_race": True, "company_put_company_id": "reject",
        "company_scroll_expiry": 60.0, "tag_users_max": None, "event_long_text": "store"}
    changed = admin.post("/config", json={"event_long_text": "truncate", "tag_users_max": 50,
                                          "company_lookup_sees_userless": False}).json()
    assert changed["event_long_text"] == "truncate" and changed["tag_users_max"] == 50
    for bad in ({"event_long_text": "shorten"}, {"company_put_company_id": "404"}, {"tag_users_max": 0},
                {"company_scroll_expiry": -1}, {"company_create_race": "yes"}):
        assert admin.post("/config", json=bad).status_code == 400, bad
    admin.close()


@pytest.mark.parametrize("settings", [{"event_long_text": "cut"}, {"tag_users_max": True},
                                      {"company_lookup_sees_userless": 1}])
def test_constructor_validates_the_new_settings(settings: dict) -> None:
    with pytest.raises(ValueError):
        Emulator(**settings)


def test_seed_file_takes_companies_and_tags(tmp_path: Path) -> None:
    seed = tmp_path / "seed.json"
    seed.write_text(json.dumps({"contacts": [{"external_id": "cli-1"}], "tags": ["Seeded"],
                                "companies": [{"company_id": "cli-co", "name": "CLI", "external_ids": ["cli-1"]}]}))
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.Popen([sys.executable, "-m", "intercom_emulator", "--port", "0", "--token", "t",
                             "--seed", str(seed)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=str(tmp_path))
    try:
        url = re.search(r"http://\S+", proc.stdout.readline()).group(0)  # type: ignore[union-attr]
        headers = {"Authorization": "Bearer t", "Intercom-Version": "2.14"}
        found = httpx.get(url + "/companies", params={"company_id": "cli-co"}, headers=headers).json()
        assert found["name"] == "CLI" and found["user_count"] == 1
        assert [t["name"] for t in httpx.get(url + "/tags", headers=headers).json()["data"]] == ["Seeded"]
        time.sleep(0.05)
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"companies": [{"company_id": "x", "colour": "red"}]}))
    done = subprocess.run([sys.executable, "-m", "intercom_emulator", "--port", "0", "--seed", str(bad)],
                          capture_output=True, text=True, env=env, timeout=20)
    assert done.returncode == 2 and "colour" in done.stderr
