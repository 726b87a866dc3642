"""Where the recorded-Intercom rules (tombstones, leads, merges, admins, rate-limit headers, long_text) meet
companies, tags and data events."""
from __future__ import annotations

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
from intercom_emulator.testing import error_of, make_client

REPO = Path(__file__).resolve().parents[2]
MERGED = {"code": "contact_merged",
          "message": "This contact has been merged. See the 'Link' header for the canonical contact."}


def _wait_jobs(emu: Emulator) -> None:
    deadline = time.monotonic() + 5
    while not all(job["state"] in ("completed", "completed_with_errors") for job in emu.bulk_jobs()):
        assert time.monotonic() < deadline
        time.sleep(0.02)


# ---- deleting: a tombstone keeps its identity but not its companies and tags -------------------------------

def test_a_deleted_users_tombstone_leaves_its_companies_and_tags(emulator: Emulator, api: httpx.Client) -> None:
    user = emulator.seed_contact(external_id="gone", email="gone@example.com")
    keep = emulator.seed_contact(external_id="keep")
    co = emulator.seed_company(company_id="co", contact_ids=[user["id"], keep["id"]])
    tag = emulator.seed_tag("VIP", contact_ids=[user["id"], keep["id"]])
    assert api.delete("/contacts/" + user["id"]).status_code == 200
    (tomb,) = emulator.deleted_contacts()
    assert tomb["id"] == user["id"] and tomb["companies"]["total_count"] == 0 and tomb["tags"]["data"] == []
    assert emulator.company(co["id"])["contact_ids"] == [keep["id"]]
    assert emulator.tags()[0]["contact_ids"] == [keep["id"]]
    assert api.get("/companies/%s/contacts" % co["id"]).json()["total_count"] == 1
    assert api.get("/companies/" + co["id"]).json()["user_count"] == 1
    # The tombstone still holds its external_id, and its sub-resources are gone like the contact.
    assert error_of(api.post("/contacts", json={"external_id": "gone"}))["message"].startswith("An archived contact")
    for r in (api.get("/contacts/%s/companies" % user["id"]), api.get("/contacts/%s/tags" % user["id"]),
              api.post("/contacts/%s/tags" % user["id"], json={"id": tag["id"]}),
              api.post("/contacts/%s/companies" % user["id"], json={"id": co["id"]})):
        assert r.status_code == 404
    # Neither tags nor events nor companies can reach it any more.
    r = api.post("/tags", json={"name": "VIP", "users": [{"id": user["id"]}]})
    assert r.status_code == 404
    r = api.post("/events", json={"event_name": "e", "created_at": int(time.time()), "user_id": "gone"})
    assert r.status_code == 404
    with pytest.raises(ValueError):
        emulator.seed_company(company_id="co2", external_ids=["gone"])


def test_deleted_leads_and_bulk_deleted_users_leave_their_companies_and_tags(emulator: Emulator,
                                                                             preview: httpx.Client) -> None:
    lead = emulator.seed_contact(role="lead", email="lead@example.com")
    user = emulator.seed_contact(external_id="bulk-gone")
    co = emulator.seed_company(company_id="co", contact_ids=[lead["id"], user["id"]])
    emulator.seed_tag("T", contact_ids=[lead["id"], user["id"]])
    assert preview.delete("/contacts/" + lead["id"]).status_code == 200
    r = preview.post("/contacts/bulk/delete", json={"contacts": [{"id": user["id"]}]})
    assert r.status_code == 202
    _wait_jobs(emulator)
    assert [c["id"] for c in emulator.deleted_contacts()] == [user["id"]]  # the lead leaves no tombstone
    assert emulator.company(co["id"])["contact_ids"] == [] and emulator.tags()[0]["contact_ids"] == []


def test_an_archived_contact_keeps_its_companies_and_tags(emulator: Emulator, api: httpx.Client) -> None:
    user = emulator.seed_contact(external_id="arch")
    co = emulator.seed_company(company_id="co", contact_ids=[user["id"]])
    emulator.seed_tag("T", contact_ids=[user["id"]])
    assert api.post("/contacts/%s/archive" % user["id"]).status_code == 200
    assert emulator.company(co["id"])["contact_ids"] == [user["id"]]
    assert api.post("/contacts/%s/unarchive" % user["id"]).status_code == 200
    c = api.get("/contacts/" + user["id"]).json()
    assert c["companies"]["total_count"] == 1 and len(c["tags"]["data"]) == 1


# ---- rendering: both branches' fields on one contact ----------------------------------------------------

def test_a_contact_renders_cleared_attributes_with_its_companies_and_tags(emulator: Emulator,
                                                                          api: httpx.Client) -> None:
    emulator.seed_data_attribute("plan", "string")
    emulator.seed_admin(id=42)
    user = emulator.seed_contact(external_id="r", custom_attributes={"plan": "pro"})
    co = emulator.seed_company(company_id="co", contact_ids=[user["id"]])
    tag = emulator.seed_tag("T", contact_ids=[user["id"]])
    r = api.put("/contacts/" + user["id"], json={"custom_attributes": {"plan": None}, "owner_id": 42})
    assert r.status_code == 200, r.text
    for c in (r.json(), api.get("/contacts/" + user["id"]).json(), emulator.contact(user["id"])):
        assert c["custom_attributes"] == {"plan": None} and c["owner_id"] == 42
        assert [e["id"] for e in c["companies"]["data"]] == [co["id"]]
        assert [e["id"] for e in c["tags"]["data"]] == [tag["id"]]


# ---- merging: links move to the user; the lead's sub-resources are Gone from 2.16 ------------------------

def test_merging_moves_tags_and_companies_to_the_user(emulator: Emulator, api: httpx.Client) -> None:
    user = emulator.seed_contact(external_id="mu", email="m@example.com")
    lead = emulator.seed_contact(role="lead", email="m@example.com")
    shared = emulator.seed_company(company_id="shared", contact_ids=[user["id"], lead["id"]])
    own = emulator.seed_company(company_id="own", contact_ids=[lead["id"]])
    t1 = emulator.seed_tag("both", contact_ids=[user["id"], lead["id"]])
    t2 = emulator.seed_tag("lead only", contact_ids=[lead["id"]])
    assert api.post("/events", json={"event_name": "e", "created_at": 1, "id": lead["id"]}).status_code == 202
    merged = api.post("/contacts/merge", json={"from": lead["id"], "into": user["id"]}).json()
    assert [e["id"] for e in merged["companies"]["data"]] == [shared["id"], own["id"]]
    assert [e["id"] for e in merged["tags"]["data"]] == [t1["id"], t2["id"]]
    assert emulator.company(own["id"])["contact_ids"] == [user["id"]]
    assert emulator.company(shared["id"])["contact_ids"] == [user["id"]]
    assert {t["name"]: t["contact_ids"] for t in emulator.tags()} == {"both": [user["id"]],
                                                                     "lead only": [user["id"]]}
    (gone,) = emulator.merged_contacts()
    assert gone["companies"]["total_count"] == 0 and gone["tags"]["data"] == []
    assert [e["contact_id"] for e in emulator.events()] == [lead["id"]]  # events stay under the lead's id


@pytest.mark.parametrize("version, status", [("2.14", 404), ("2.16", 410), ("Preview", 410)])
def test_a_merged_contacts_sub_resources_answer_like_get(emulator: Emulator, version: str, status: int) -> None:
    user = emulator.seed_contact(external_id="u", email="x@example.com")
    lead = emulator.seed_contact(role="lead", email="x@example.com")
    co = emulator.seed_company(company_id="co", contact_ids=[user["id"]])
    tag = emulator.seed_tag("T")
    emulator.merge_contacts(lead["id"], user["id"])
    lid = lead["id"]
    with make_client(emulator, version=version) as client:
        answers = [client.get("/contacts/%s/companies" % lid),
                   client.post("/contacts/%s/companies" % lid, json={"id": co["id"]}),
                   client.delete("/contacts/%s/companies/%s" % (lid, co["id"])),
                   client.get("/contacts/%s/tags" % lid),
                   client.post("/contacts/%s/tags" % lid, json={"id": tag["id"]}),
                   client.delete("/contacts/%s/tags/%s" % (lid, tag["id"])),
                   client.get("/contacts/" + lid)]
        for r in answers:
            assert r.status_code == status, (r.request.method, r.request.url.path, r.status_code)
            if status == 410:
                assert error_of(r) == MERGED
                assert r.headers["Link"] == '</contacts/%s>; rel="canonical"' % user["id"]
        # Elsewhere a merged contact is simply unknown.
        assert client.post("/events", json={"event_name": "e", "created_at": 1, "id": lid}).status_code == 404
        assert client.post("/contacts/%s/archive" % lid).status_code == 404
    assert emulator.company(co["id"])["contact_ids"] == [user["id"]] and emulator.tags()[0]["contact_ids"] == []


# ---- admins and owner_id: contacts only ----------------------------------------------------------------

def test_owner_id_is_not_a_company_field(emulator: Emulator, api: httpx.Client, preview: httpx.Client) -> None:
    r = api.post("/companies", json={"company_id": "co", "name": "Co", "owner_id": 4242})
    assert r.status_code == 200 and "owner_id" not in r.json()
    assert api.put("/companies/" + r.json()["id"], json={"owner_id": 4242, "size": 3}).status_code == 200
    r = preview.post("/companies/bulk", json={"companies": [{"company_id": "b", "owner_id": 4242}]})
    assert r.status_code == 202
    _wait_jobs(emulator)
    (job,) = emulator.bulk_jobs()
    item = job["tasks"][0]["items"][0]
    assert item["outcome"] == "created" and item["ignored_fields"] == ["owner_id"]
    # A contact's owner_id still must name an admin.
    r = api.post("/contacts", json={"external_id": "o", "owner_id": 4242})
    assert r.status_code == 400 and error_of(r)["code"] == "parameter_invalid"


# ---- rate-limit headers: recorded semantics on every endpoint --------------------------------------------

def _align_to_window_start() -> None:
    if time.time() % 10 > 6:
        time.sleep(10.05 - time.time() % 10)


def test_recorded_rate_limit_headers_on_the_object_endpoints(emulator_factory: Callable[..., Emulator]) -> None:
    emu = emulator_factory(rate_limit_per_minute=60)  # 10 per window
    user = emu.seed_contact(external_id="rl")
    co = emu.seed_company(company_id="rl-co", contact_ids=[user["id"]])
    tag = emu.seed_tag("rl")
    _align_to_window_start()
    with make_client(emu) as client:
        answers = [client.get("/companies"), client.get("/companies/" + co["id"]),
                   client.post("/companies", json={"company_id": "rl-2"}), client.get("/tags"),
                   client.post("/contacts/%s/tags" % user["id"], json={"id": tag["id"]}),
                   client.get("/contacts/%s/companies" % user["id"]),
                   client.post("/events", json={"event_name": "e", "created_at": 1, "user_id": "rl"}),
                   client.get("/admins"), client.post("/contacts/search", json={"query": {
                       "field": "external_id", "operator": "=", "value": "rl"}}), client.get("/tags/" + tag["id"])]
        assert [r.status_code for r in answers] == [200, 200, 200, 200, 200, 200, 202, 200, 200, 200]
        assert [int(r.headers["X-RateLimit-Remaining"]) for r in answers] == list(range(10, 0, -1))
        assert all(int(r.headers["X-RateLimit-Reset"]) % 10 == 2 for r in answers)
        r = client.get("/companies/scroll")
        assert r.status_code == 429 and r.headers["X-RateLimit-Remaining"] == "0"


# ---- long_text: company custom attributes follow the contacts' setting ------------------------------------

@pytest.mark.parametrize("policy, status, stored", [("reject", 400, None), ("truncate", 200, "x" * 255),
                                                    ("store", 200, "x" * 300)])
def test_long_text_applies_to_company_custom_attributes(emulator_factory: Callable[..., Emulator], policy: str,
                                                        status: int, stored: object) -> None:
    emu = emulator_factory(long_text=policy)
    emu.seed_data_attribute("note", "string", model="company")
    with make_client(emu) as client:
        r = client.post("/companies", json={"company_id": "lt", "custom_attributes": {"note": "x" * 300}})
    assert r.status_code == status, r.text
    if stored is not None:
        assert r.json()["custom_attributes"] == {"note": stored}
        seeded = emu.seed_company(company_id="seeded", custom_attributes={"note": "x" * 300})
        assert seeded["custom_attributes"] == {"note": stored}


# ---- one seed document, one set of settings for the command line ------------------------------------------

def test_one_seed_document_takes_admins_contacts_tags_and_companies(emulator: Emulator) -> None:
    body = {"admins": [{"id": "42"}], "data_attributes": [{"name": "tier", "data_type": "string", "model": "company"}],
            "contacts": [{"external_id": "s1", "owner_id": 42}, {"external_id": "s2", "deleted": True}],
            "tags": ["VIP"],
            "companies": [{"company_id": "sc", "external_ids": ["s1"], "tags": ["VIP"],
                           "custom_attributes": {"tier": "gold"}}]}
    r = httpx.post(emulator.url + "/_emulator/seed", json=body)
    assert r.status_code == 200, r.text
    assert r.json() == {"admins": 1, "contacts": 2, "data_attributes": 1, "tags": 1, "companies": 1}
    assert emulator.admins()[-1]["id"] == "42" and emulator.stats()["deleted"] == 1
    (co,) = emulator.companies()
    assert co["user_count"] == 1 and emulator.contacts()[0]["companies"]["data"][0]["id"] == co["id"]
    assert emulator.seed({"contacts": [{"external_id": "s3"}]}) == {"contacts": 1, "data_attributes": 0}


def test_command_line_takes_every_setting(tmp_path: Path) -> None:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.Popen([sys.executable, "-m", "intercom_emulator", "--port", "0", "--token", "t",
                             "--clock-skew", "5", "--company-lookup-hides-userless", "--no-company-create-race",
                             "--company-put-company-id", "ignore", "--company-scroll-expiry", "5",
                             "--tag-users-max", "50", "--event-long-text", "truncate", "--long-text", "store"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=str(tmp_path))
    try:
        url = re.search(r"http://\S+", proc.stdout.readline()).group(0)  # type: ignore[union-attr]
        config = httpx.get(url + "/_emulator/config").json()
        assert {k: config[k] for k in ("clock_skew", "company_lookup_sees_userless", "company_create_race",
                                       "company_put_company_id", "company_scroll_expiry", "tag_users_max",
                                       "event_long_text", "long_text")} == {
            "clock_skew": 5.0, "company_lookup_sees_userless": False, "company_create_race": False,
            "company_put_company_id": "ignore", "company_scroll_expiry": 5.0, "tag_users_max": 50,
            "event_long_text": "truncate", "long_text": "store"}
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0
    done = subprocess.run([sys.executable, "-m", "intercom_emulator", "--port", "0", "--tag-users-max", "-1"],
                          capture_output=True, text=True, env=env, cwd=str(tmp_path), timeout=30)
    assert done.returncode == 2 and "tag_users_max" in done.stderr
