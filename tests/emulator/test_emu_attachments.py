"""Contacts attached to companies: attach, detach, the lists on both sides and user_count."""
from __future__ import annotations

import time
from typing import Any, Dict

import httpx

from intercom_emulator import Emulator
from intercom_emulator.testing import error_of, make_client


def company(api: httpx.Client, company_id: str) -> Dict[str, Any]:
    r = api.post("/companies", json={"company_id": company_id, "name": company_id.upper()})
    assert r.status_code == 200, r.text
    return r.json()


def test_attach_answers_the_company_and_counts_users(emulator: Emulator, api: httpx.Client) -> None:
    a = emulator.seed_contact(external_id="a")
    b = emulator.seed_contact(role="lead")
    c = company(api, "co")
    r = api.post("/contacts/%s/companies" % a["id"], json={"id": c["id"]})
    assert r.status_code == 200 and r.json()["id"] == c["id"] and r.json()["user_count"] == 1
    again = api.post("/contacts/%s/companies" % a["id"], json={"id": c["id"]})
    assert again.status_code == 200 and again.json()["user_count"] == 1  # attaching twice is harmless
    assert api.post("/contacts/%s/companies" % b["id"], json={"id": c["id"]}).json()["user_count"] == 2
    assert emulator.company(c["id"])["contact_ids"] == [a["id"], b["id"]]
    assert emulator.count("POST /contacts/{id}/companies") == 3


def test_attach_errors(emulator: Emulator, api: httpx.Client) -> None:
    u = emulator.seed_contact(external_id="u")
    c = company(api, "co")
    for body in (None, {}, {"id": ""}, {"company_id": "co"}):
        r = api.post("/contacts/%s/companies" % u["id"], json=body) if body is not None else \
            api.post("/contacts/%s/companies" % u["id"])
        assert r.status_code == 400 and error_of(r) == {"code": "parameter_not_found",
                                                        "message": "company not specified"}, body
    r = api.post("/contacts/%s/companies" % u["id"], json={"id": "co"})  # your company_id is not Intercom's id
    assert r.status_code == 404 and error_of(r) == {"code": "company_not_found", "message": "Company Not Found"}
    r = api.post("/contacts/ffffffffffffffffffffffff/companies", json={"id": c["id"]})
    assert r.status_code == 404 and error_of(r) == {"code": "not_found", "message": "User Not Found"}
    api.post("/contacts/%s/archive" % u["id"])
    assert api.post("/contacts/%s/companies" % u["id"], json={"id": c["id"]}).status_code == 404
    api.post("/contacts/%s/unarchive" % u["id"])
    api.delete("/companies/" + c["id"])
    r = api.post("/contacts/%s/companies" % u["id"], json={"id": c["id"]})
    assert r.status_code == 404 and error_of(r)["code"] == "company_not_found"


def test_a_contact_belongs_to_at_most_1000_companies(emulator: Emulator, api: httpx.Client) -> None:
    u = emulator.seed_contact(external_id="busy")
    emulator.seed_companies({"company_id": "c%04d" % i, "contact_ids": [u["id"]]} for i in range(1000))
    extra = company(api, "one-too-many")
    r = api.post("/contacts/%s/companies" % u["id"], json={"id": extra["id"]})
    assert r.status_code == 400 and error_of(r) == {
        "code": "contact_company_limit_exceeded",
        "message": "Contact has reached the maximum of 1000 company associations"}
    known = emulator.company(company_id="c0000")
    assert api.post("/contacts/%s/companies" % u["id"], json={"id": known["id"]}).status_code == 200


def test_detach(emulator: Emulator, api: httpx.Client) -> None:
    u = emulator.seed_contact(external_id="u")
    c = company(api, "co")
    api.post("/contacts/%s/companies" % u["id"], json={"id": c["id"]})
    r = api.delete("/contacts/%s/companies/%s" % (u["id"], c["id"]))
    assert r.status_code == 200 and r.json()["id"] == c["id"] and r.json()["user_count"] == 0
    # Detaching a company the contact does not belong to answers the company too (a guess).
    assert api.delete("/contacts/%s/companies/%s" % (u["id"], c["id"])).status_code == 200
    r = api.delete("/contacts/%s/companies/%s" % (u["id"], "ffffffffffffffffffffffff"))
    assert r.status_code == 404 and error_of(r)["code"] == "company_not_found"
    r = api.delete("/contacts/%s/companies/%s" % ("ffffffffffffffffffffffff", c["id"]))
    assert r.status_code == 404 and error_of(r) == {"code": "not_found", "message": "User Not Found"}
    assert emulator.count("DELETE /contacts/{id}/companies/{company_id}") == 4


def test_the_contact_embeds_ten_companies(emulator: Emulator, api: httpx.Client) -> None:
    u = emulator.seed_contact(external_id="u")
    ids = [company(api, "c%02d" % i)["id"] for i in range(12)]
    for cid in ids[:10]:
        api.post("/contacts/%s/companies" % u["id"], json={"id": cid})
    embedded = api.get("/contacts/" + u["id"]).json()["companies"]
    entries = [{"type": "company", "id": i, "url": "/companies/" + i} for i in ids[:10]]
    assert embedded == {"type": "list", "data": entries, "url": "/contacts/%s/companies" % u["id"], "total_count": 10,
                        "has_more": False}
    for cid in ids[10:]:
        api.post("/contacts/%s/companies" % u["id"], json={"id": cid})
    embedded = api.get("/contacts/" + u["id"]).json()["companies"]
    assert len(embedded["data"]) == 10 and embedded["total_count"] == 12 and embedded["has_more"] is True
    # The same rendering everywhere a contact is answered, and in emu.contacts().
    searched = api.post("/contacts/search", json={"query": {"field": "id", "operator": "=", "value": u["id"]}})
    assert searched.json()["data"][0]["companies"] == embedded
    assert emulator.contact(u["id"])["companies"] == embedded


def test_list_a_contacts_companies(emulator: Emulator, api: httpx.Client) -> None:
    u = emulator.seed_contact(external_id="u")
    ids = [company(api, "c%02d" % i)["id"] for i in range(3)]
    for cid in ids:
        api.post("/contacts/%s/companies" % u["id"], json={"id": cid})
    listed = api.get("/contacts/%s/companies" % u["id"]).json()
    # Shaped like Intercom's recorded example (the array is "data", the schema says "companies").
    assert listed["type"] == "list" and [c["id"] for c in listed["data"]] == ids
    assert listed["total_count"] == 3
    assert listed["pages"] == {"type": "pages", "next": None, "page": 1, "per_page": 50, "total_pages": 1}
    page = api.get("/contacts/%s/companies" % u["id"], params={"per_page": 2}).json()
    assert [c["id"] for c in page["data"]] == ids[:2] and page["pages"]["total_pages"] == 2
    assert page["pages"]["next"] == "%s/contacts/%s/companies?page=2&per_page=2" % (emulator.url, u["id"])
    page2 = api.get("/contacts/%s/companies" % u["id"], params={"per_page": 2, "page": 2}).json()
    assert [c["id"] for c in page2["data"]] == ids[2:] and page2["pages"]["next"] is None
    r = api.get("/contacts/ffffffffffffffffffffffff/companies")
    assert r.status_code == 404 and error_of(r)["message"] == "User Not Found"


def test_list_a_companys_contacts(emulator: Emulator, api: httpx.Client) -> None:
    users = [emulator.seed_contact(external_id="u%d" % i) for i in range(3)]
    c = company(api, "co")
    for u in users:
        api.post("/contacts/%s/companies" % u["id"], json={"id": c["id"]})
    listed = api.get("/companies/%s/contacts" % c["id"]).json()
    assert [x["id"] for x in listed["data"]] == [u["id"] for u in users] and listed["total_count"] == 3
    assert listed["pages"] == {"type": "pages", "page": 1, "per_page": 50, "total_pages": 1}
    assert api.get("/companies/ffffffffffffffffffffffff/contacts").status_code == 404


def test_deleting_a_contact_leaves_its_companies(emulator: Emulator, api: httpx.Client) -> None:
    keep, gone, archived = (emulator.seed_contact(external_id=x) for x in ("keep", "gone", "archived"))
    c = company(api, "co")
    for u in (keep, gone, archived):
        api.post("/contacts/%s/companies" % u["id"], json={"id": c["id"]})
    api.post("/contacts/%s/archive" % archived["id"])  # archiving is a soft delete: still attached
    api.delete("/contacts/" + gone["id"])
    assert api.get("/companies/" + c["id"]).json()["user_count"] == 2
    assert emulator.company(c["id"])["contact_ids"] == [keep["id"], archived["id"]]


def test_bulk_contact_delete_detaches(emulator_factory: Any) -> None:
    emu = emulator_factory(bulk_task_delay=0.01)
    u = emu.seed_contact(external_id="u")
    c = emu.seed_company(company_id="co", contact_ids=[u["id"]])
    with make_client(emu, version="Preview") as pv:
        job = pv.post("/contacts/bulk/delete", json={"contacts": [{"id": u["id"]}]}).json()
        for _ in range(200):
            if pv.get("/contacts/bulk/" + job["id"]).json()["state"] == "completed":
                break
            time.sleep(0.01)
    assert emu.company(c["id"])["user_count"] == 0


def test_sdk_attachments(emulator: Emulator) -> None:
    from intercom import Intercom

    sdk = Intercom(token=emulator.token, base_url=emulator.url, headers={"Intercom-Version": "2.14"})
    u = emulator.seed_contact(external_id="u")
    c = emulator.seed_company(company_id="co", name="Co")
    assert sdk.companies.attach_contact(u["id"], company_id=c["id"]).user_count == 1
    contact = sdk.contacts.find(u["id"])
    assert contact.companies is not None and contact.companies.total_count == 1
    assert contact.companies.data is not None and contact.companies.data[0].id == c["id"]
    assert sdk.companies.detach_contact(u["id"], c["id"]).user_count == 0
