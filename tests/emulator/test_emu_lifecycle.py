"""A contact's life as recorded live: deletion tombstones, archiving, leads, the create rules, merging.

Sources: Grouparoo's recordings of API 2.3 (export-record-delete.js, export-record-user.js, lead-quirks.js,
export-record-lead.js), Intercom help article 5053685, and the 2.16 spec for merged contacts.
"""
from __future__ import annotations

import re
import time
from typing import Any, Callable, Dict

import httpx
import pytest

from intercom_emulator import Emulator
from intercom_emulator.testing import error_of, make_client

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")
ARCHIVED_409 = "An archived contact matching those details already exists with id=%s"
MERGED = {"code": "contact_merged",
          "message": "This contact has been merged. See the 'Link' header for the canonical contact."}


def create(api: httpx.Client, **body: Any) -> Dict[str, Any]:
    r = api.post("/contacts", json=body)
    assert r.status_code == 200, r.text
    return r.json()


def search_ids(api: httpx.Client, field: str, value: Any) -> list:
    r = api.post("/contacts/search", json={"query": {"field": field, "operator": "=", "value": value}})
    assert r.status_code == 200, r.text
    return [c["id"] for c in r.json()["data"]]


# ---- 1. deleted users leave a tombstone ------------------------------------------------------------------

def test_a_deleted_users_identity_stays_taken(api: httpx.Client, emulator: Emulator) -> None:
    user = create(api, email="gone@example.com", external_id="gone-1", name="A User")
    assert api.delete("/contacts/" + user["id"]).json()["deleted"] is True
    for body in ({"email": "gone@example.com", "external_id": "gone-1", "name": "Back User", "role": "user"},
                 {"external_id": "gone-1"},
                 {"email": "GONE@example.com"}):
        r = api.post("/contacts", json=body)
        assert r.status_code == 409, body
        assert r.json()["errors"] == [{"code": "conflict", "message": ARCHIVED_409 % user["id"]}]
    r = api.post("/contacts/%s/unarchive" % user["id"])
    assert r.status_code == 400
    assert error_of(r) == {"code": "bad_request",
                           "message": "User has been marked for permanent deletion and is not restorable."}
    # Nothing the API reads ever shows the tombstone.
    assert api.get("/contacts/" + user["id"]).status_code == 404
    assert api.put("/contacts/" + user["id"], json={"name": "x"}).status_code == 404
    assert api.get("/contacts/find_by_external_id/gone-1").status_code == 404
    assert search_ids(api, "external_id", "gone-1") == [] and search_ids(api, "email", "gone@example.com") == []
    assert search_ids(api, "id", user["id"]) == []
    assert api.get("/contacts").json()["total_count"] == 0
    assert api.post("/contacts/%s/archive" % user["id"]).status_code == 404
    assert api.delete("/contacts/" + user["id"]).status_code == 404
    # Tests see it through the emulator.
    assert emulator.contacts(include_archived=True) == [] and emulator.contact(user["id"]) is None
    (tomb,) = emulator.deleted_contacts()
    assert tomb["id"] == user["id"] and tomb["external_id"] == "gone-1" and tomb["deleted"] is True
    stats = emulator.stats()
    assert stats["deleted"] == 1 and stats["contacts"] == 0 and stats["archived"] == 0
    admin = httpx.get(emulator.url + "/_emulator/deleted_contacts").json()
    assert admin["count"] == 1 and admin["contacts"][0]["id"] == user["id"]


def test_a_deleted_users_email_is_taken_by_email_only_creates_only(api: httpx.Client) -> None:
    user = create(api, email="shared@example.com", external_id="u-1")
    api.delete("/contacts/" + user["id"])
    # A different user_id with the same email is a different person, as with a live or archived user.
    assert create(api, email="shared@example.com", external_id="u-2")["external_id"] == "u-2"


def test_a_deleted_leads_email_can_be_reused(api: httpx.Client, emulator: Emulator) -> None:
    lead = create(api, role="lead", email="lead@example.com")
    api.delete("/contacts/" + lead["id"])
    assert create(api, role="lead", email="lead@example.com")["role"] == "lead"
    assert create(api, email="lead@example.com")["role"] == "user"
    assert emulator.deleted_contacts() == []
    assert api.post("/contacts/%s/unarchive" % lead["id"]).status_code == 404


def test_an_archived_leads_email_can_be_reused(api: httpx.Client) -> None:
    lead = create(api, role="lead", email="arch-lead@example.com")
    api.post("/contacts/%s/archive" % lead["id"])
    assert create(api, role="lead", email="arch-lead@example.com")["id"] != lead["id"]
    assert create(api, email="arch-lead@example.com")["role"] == "user"


def test_bulk_create_and_bulk_delete_respect_tombstones(emulator_factory: Callable[..., Emulator]) -> None:
    emu = emulator_factory(bulk_task_delay=0.01)
    user = emu.seed_contact(external_id="t-1", email="t1@example.com")
    with make_client(emu, version="Preview") as pv:
        job = pv.post("/contacts/bulk/delete", json={"contacts": [{"id": user["id"]}]}).json()
        _wait(pv, job["id"])
        job = pv.post("/contacts/bulk", json={"contacts": [{"external_id": "t-1"}, {"email": "t1@example.com"},
                                                          {"external_id": "t-2"}]}).json()
        assert _wait(pv, job["id"])["state"] == "completed_with_errors"
    items = emu.bulk_jobs()[1]["tasks"][0]["items"]
    assert [i["outcome"] for i in items] == ["rejected", "rejected", "created"]
    assert ARCHIVED_409 % user["id"] in items[0]["reason"] and ARCHIVED_409 % user["id"] in items[1]["reason"]
    assert [c["id"] for c in emu.deleted_contacts()] == [user["id"]]


def _wait(client: httpx.Client, job_id: str) -> Dict[str, Any]:
    deadline = time.monotonic() + 5
    while True:
        job = client.get("/contacts/bulk/" + job_id).json()
        if job["state"] in ("completed", "completed_with_errors"):
            return job
        assert time.monotonic() < deadline
        time.sleep(0.01)


def test_seeding_a_tombstone(emulator: Emulator, api: httpx.Client) -> None:
    tomb = emulator.seed_contact(external_id="seeded-gone", email="sg@example.com", deleted=True)
    assert tomb["deleted"] is True and emulator.contacts() == []
    r = api.post("/contacts", json={"external_id": "seeded-gone"})
    assert r.status_code == 409 and error_of(r)["message"] == ARCHIVED_409 % tomb["id"]
    with pytest.raises(ValueError):
        emulator.seed_contact(email="l@example.com", role="lead", deleted=True)
    r = httpx.post(emulator.url + "/_emulator/seed", json={"contacts": [{"external_id": "g2", "deleted": True}]})
    assert r.status_code == 200 and len(emulator.deleted_contacts()) == 2


# ---- 1. archived contacts ------------------------------------------------------------------------------

def test_an_archived_user_blocks_a_create_and_comes_back_whole(api: httpx.Client, emulator: Emulator) -> None:
    emulator.seed_data_attribute("plan", "string")
    user = create(api, email="arch@example.com", external_id="arch-1", name="Kept",
                  custom_attributes={"plan": "pro"})
    api.post("/contacts/%s/archive" % user["id"])
    r = api.post("/contacts", json={"email": "arch@example.com", "external_id": "arch-1", "role": "user"})
    assert r.status_code == 409 and error_of(r)["message"] == ARCHIVED_409 % user["id"]
    r = api.post("/contacts/%s/unarchive" % user["id"])
    assert r.status_code == 200 and r.json()["archived"] is False
    back = api.get("/contacts/find_by_external_id/arch-1").json()
    assert back["id"] == user["id"] and back["name"] == "Kept" and back["custom_attributes"] == {"plan": "pro"}


def test_a_put_may_take_an_archived_contacts_external_id(api: httpx.Client, emulator: Emulator) -> None:
    live = create(api, external_id="live-1")
    archived = create(api, external_id="arch-2")
    api.post("/contacts/%s/archive" % archived["id"])
    r = api.put("/contacts/" + live["id"], json={"external_id": "arch-2"})
    assert r.status_code == 200 and r.json()["external_id"] == "arch-2"
    assert emulator.contact(archived["id"])["external_id"] is None  # the archived contact lost it
    assert api.get("/contacts/find_by_external_id/arch-2").json()["id"] == live["id"]
    # Live owners still conflict.
    other = create(api, external_id="other-1")
    r = api.put("/contacts/" + other["id"], json={"external_id": "arch-2"})
    assert r.status_code == 409 and error_of(r)["message"].endswith("id=%s" % live["id"])


def test_a_put_may_take_a_deleted_users_external_id(api: httpx.Client, emulator: Emulator) -> None:
    live = create(api, external_id="live-2")
    gone = create(api, external_id="gone-2")
    api.delete("/contacts/" + gone["id"])
    assert api.put("/contacts/" + live["id"], json={"external_id": "gone-2"}).status_code == 200
    assert emulator.deleted_contacts()[0]["external_id"] is None


# ---- 2. leads -------------------------------------------------------------------------------------------

def test_a_lead_gets_its_own_uuid_external_id(api: httpx.Client) -> None:
    lead = create(api, role="lead", email="l1@example.com", external_id="mine")
    assert UUID.fullmatch(lead["external_id"]) and lead["role"] == "lead"
    other = create(api, role="lead", email="l2@example.com")
    assert UUID.fullmatch(other["external_id"]) and other["external_id"] != lead["external_id"]
    assert api.get("/contacts/find_by_external_id/mine").status_code == 404
    assert api.get("/contacts/find_by_external_id/" + lead["external_id"]).status_code == 404  # users only


def test_a_lead_ignores_an_external_id_unless_it_becomes_a_user(api: httpx.Client) -> None:
    lead = create(api, role="lead", email="l3@example.com")
    uuid = lead["external_id"]
    r = api.put("/contacts/" + lead["id"], json={"external_id": "ext-3", "email": "l3@example.com", "name": "L"})
    assert r.status_code == 200 and r.json()["external_id"] == uuid and r.json()["name"] == "L"
    r = api.put("/contacts/" + lead["id"], json={"role": "lead", "external_id": "ext-3"})
    assert r.json()["external_id"] == uuid and r.json()["role"] == "lead"
    r = api.put("/contacts/" + lead["id"], json={"external_id": None})
    assert r.json()["external_id"] == uuid
    r = api.put("/contacts/" + lead["id"], json={"role": "user", "external_id": "ext-3"})
    assert r.status_code == 200 and r.json()["role"] == "user" and r.json()["external_id"] == "ext-3"
    assert api.get("/contacts/find_by_external_id/ext-3").json()["id"] == lead["id"]


def test_a_lead_becoming_a_user_still_meets_live_conflicts(api: httpx.Client) -> None:
    owner = create(api, external_id="taken-3")
    lead = create(api, role="lead", email="l4@example.com")
    r = api.put("/contacts/" + lead["id"], json={"role": "user", "external_id": "taken-3"})
    assert r.status_code == 409 and error_of(r)["message"].endswith("id=%s" % owner["id"])
    assert api.get("/contacts/" + lead["id"]).json()["role"] == "lead"


def test_a_user_cannot_become_a_lead(api: httpx.Client) -> None:
    user = create(api, email="u5@example.com", external_id="u5")
    r = api.put("/contacts/" + user["id"], json={"role": "lead", "email": "u5@example.com", "external_id": "u5"})
    assert r.status_code == 400
    assert error_of(r) == {"code": "client_error", "message": "Contact with user role can't be converted to a lead"}
    assert api.put("/contacts/" + user["id"], json={"role": "user", "name": "Still"}).json()["role"] == "user"


def test_an_unknown_role_makes_a_user(api: httpx.Client) -> None:
    c = create(api, role="contact", email="alan@example.com", external_id="alan", name="Alan")
    assert c["role"] == "user" and c["external_id"] == "alan"


def test_seeding_leads(emulator: Emulator) -> None:
    lead = emulator.seed_contact(role="lead", email="seed-lead@example.com")
    assert UUID.fullmatch(lead["external_id"])
    recorded = "cc94dbfa-bded-472d-81ed-6019051fca89"  # a real lead's, copied from an answer
    assert emulator.seed_contact(role="lead", external_id=recorded)["external_id"] == recorded
    with pytest.raises(ValueError, match="UUID"):
        emulator.seed_contact(role="lead", external_id="L1")


# ---- 3. the create rules ----------------------------------------------------------------------------------

def test_a_create_with_an_external_id_does_not_fall_back_to_the_email(api: httpx.Client,
                                                                    emulator: Emulator) -> None:
    plain = emulator.seed_contact(email="e@example.com")
    second = create(api, email="e@example.com", external_id="X")  # Intercom help 5053685: a duplicate
    assert second["id"] != plain["id"]
    assert sorted(c["external_id"] or "" for c in emulator.contacts()) == ["", "X"]


def test_the_evidenced_conflicts_remain(api: httpx.Client, emulator: Emulator) -> None:
    with_ext = emulator.seed_contact(email="w@example.com", external_id="W")
    plain = emulator.seed_contact(email="p@example.com")
    r = api.post("/contacts", json={"external_id": "W", "email": "new@example.com"})
    assert r.status_code == 409 and error_of(r)["message"].endswith(with_ext["id"])
    r = api.post("/contacts", json={"email": "p@example.com"})
    assert r.status_code == 409 and error_of(r)["message"].endswith(plain["id"])
    # Kept as before (no evidence either way): an email-only create against a user with an external_id.
    r = api.post("/contacts", json={"email": "w@example.com"})
    assert r.status_code == 409 and error_of(r)["message"].endswith(with_ext["id"])


def test_the_old_rule_3_guess_is_a_setting(emulator_factory: Callable[..., Emulator]) -> None:
    emu = emulator_factory(email_only_user_conflicts=True)
    plain = emu.seed_contact(email="e@example.com")
    with make_client(emu) as api:
        r = api.post("/contacts", json={"email": "e@example.com", "external_id": "X"})
        assert r.status_code == 409 and error_of(r)["message"].endswith(plain["id"])
        emu.configure(email_only_user_conflicts=False)
        assert api.post("/contacts", json={"email": "e@example.com", "external_id": "X"}).status_code == 200


# ---- 9. merged contacts ------------------------------------------------------------------------------------

def _merge(client: httpx.Client, **body: Any) -> httpx.Response:
    return client.post("/contacts/merge", json=body)


def test_merging_a_lead_into_a_user(emulator: Emulator) -> None:
    emulator.seed_data_attribute("plan", "string")
    user = emulator.seed_contact(external_id="mu", email="m@example.com")
    lead = emulator.seed_contact(role="lead", email="m@example.com", name="From Lead", phone="+1",
                                 custom_attributes={"plan": "pro"})
    with make_client(emulator, version="2.14") as v14, make_client(emulator, version="2.16") as v16:
        r = _merge(v14, **{"from": lead["id"], "into": user["id"]})
        assert r.status_code == 200, r.text
        merged = r.json()
        assert merged["id"] == user["id"] and merged["role"] == "user" and merged["external_id"] == "mu"
        # The user keeps its values and gains the ones it lacked.
        assert merged["name"] == "From Lead" and merged["custom_attributes"] == {"plan": "pro"}
        # 2.15 and earlier: plain 404s.
        assert v14.get("/contacts/" + lead["id"]).status_code == 404
        assert v14.put("/contacts/" + lead["id"], json={"name": "x"}).status_code == 404
        # 2.16: 410 Gone with the canonical contact in a Link header.
        for r in (v16.get("/contacts/" + lead["id"]), v16.put("/contacts/" + lead["id"], json={"name": "x"})):
            assert r.status_code == 410 and error_of(r) == MERGED
            assert r.headers["Link"] == '</contacts/%s>; rel="canonical"' % user["id"]
        assert search_ids(v16, "id", lead["id"]) == [] and search_ids(v16, "email", "m@example.com") == [user["id"]]
        assert [c["id"] for c in v16.get("/contacts").json()["data"]] == [user["id"]]
        assert v16.delete("/contacts/" + lead["id"]).status_code == 404
    (gone,) = emulator.merged_contacts()
    assert gone["id"] == lead["id"] and gone["merged_into"] == user["id"]
    assert emulator.stats()["merged"] == 1


def test_merge_rules(emulator: Emulator) -> None:
    user = emulator.seed_contact(external_id="mr", email="a@example.com")
    other = emulator.seed_contact(external_id="mr2", email="b@example.com")
    lead = emulator.seed_contact(role="lead", email="c@example.com")
    with make_client(emulator, version="2.16") as v16, make_client(emulator, version="2.14") as v14:
        r = _merge(v16, **{"from": user["id"], "into": other["id"]})
        assert r.status_code == 400 and error_of(r)["code"] == "invalid_merge"
        r = _merge(v16, **{"from": lead["id"], "into": user["id"]})  # no shared email or phone
        assert r.status_code == 400 and error_of(r) == {
            "code": "invalid_merge",
            "message": "Contacts can only be merged when they are duplicates (matching email or phone). "
                       "Pass skip_duplicate_validation=true to override this check."}
        assert _merge(v16, **{"from": "ffffffffffffffffffffffff", "into": user["id"]}).status_code == 404
        assert _merge(v16, **{"from": lead["id"]}).status_code == 400
        # 2.14 has no duplicate check (the field arrived with 2.16).
        assert _merge(v14, **{"from": lead["id"], "into": user["id"]}).status_code == 200


def test_merging_users_directly_and_find_by_external_id(emulator: Emulator) -> None:
    a = emulator.seed_contact(external_id="ua", email="ua@example.com")
    b = emulator.seed_contact(external_id="ub", email="ub@example.com")
    c = emulator.seed_contact(external_id="uc")
    assert emulator.merge_contacts(a["id"], b["id"])["id"] == b["id"]
    emulator.merge_contacts(b["id"], c["id"])  # a chain: the Link names the end of it
    with make_client(emulator, version="2.17") as v17, make_client(emulator, version="2.15") as v15:
        for path in ("/contacts/" + a["id"], "/contacts/find_by_external_id/ua", "/contacts/find_by_external_id/ub"):
            r = v17.get(path)
            assert r.status_code == 410, path
            assert r.headers["Link"] == '</contacts/%s>; rel="canonical"' % c["id"]
            assert v15.get(path).status_code == 404
    with pytest.raises(ValueError):
        emulator.merge_contacts(a["id"], c["id"])  # already merged
    r = httpx.post(emulator.url + "/_emulator/merge", json={"from": "nope", "into": c["id"]})
    assert r.status_code == 400
    assert httpx.get(emulator.url + "/_emulator/merged_contacts").json()["count"] == 2


def test_cleared_custom_attributes_render_as_null(api: httpx.Client, emulator: Emulator) -> None:
    emulator.seed_data_attribute("text_field", "string")
    emulator.seed_data_attribute("number_field", "integer")
    c = create(api, email="n@example.com", custom_attributes={"text_field": "x", "number_field": 3})
    r = api.put("/contacts/" + c["id"], json={"custom_attributes": {"text_field": None}})
    assert r.json()["custom_attributes"] == {"text_field": None, "number_field": 3}
    assert api.get("/contacts/" + c["id"]).json()["custom_attributes"] == {"text_field": None, "number_field": 3}
    # Never set: absent.
    assert create(api, email="m@example.com")["custom_attributes"] == {}
