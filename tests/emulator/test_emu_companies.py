"""Companies: the POST /companies upsert, updates, lookups, lists, scrolls, deletes and the create race."""
from __future__ import annotations

import re
import threading
import time
from typing import Any, Callable, Dict, List

import httpx
import pytest

from intercom_emulator import Emulator
from intercom_emulator.testing import error_of, make_client


def upsert(api: httpx.Client, **body: Any) -> Dict[str, Any]:
    r = api.post("/companies", json=body)
    assert r.status_code == 200, r.text
    return r.json()


def attach(api: httpx.Client, contact_id: str, company_id: str) -> Dict[str, Any]:
    r = api.post("/contacts/%s/companies" % contact_id, json={"id": company_id})
    assert r.status_code == 200, r.text
    return r.json()


def test_create_renders_a_company(emulator: Emulator, api: httpx.Client) -> None:
    before = int(time.time())
    c = upsert(api, company_id="acme-1", name="Acme", plan="Enterprise", size=120, website="https://acme.test",
               industry="Rockets", remote_created_at=1374138000, monthly_spend=155.98)
    assert re.fullmatch(r"[0-9a-f]{24}", c["id"])
    assert c["type"] == "company" and c["company_id"] == "acme-1" and c["app_id"] == "emu4kx2q"
    assert c["name"] == "Acme" and c["size"] == 120 and c["website"] == "https://acme.test"
    assert c["industry"] == "Rockets" and c["remote_created_at"] == 1374138000
    assert c["monthly_spend"] == 155  # "155.98 will be truncated to 155"
    assert c["plan"] == {"type": "plan", "id": c["plan"]["id"], "name": "Enterprise"}
    assert c["created_at"] >= before and c["updated_at"] == c["created_at"]
    assert c["user_count"] == 0 and c["session_count"] == 0
    assert c["tags"] == {"type": "tag.list", "tags": []}
    assert c["segments"] == {"type": "segment.list", "segments": []}
    assert c["custom_attributes"] == {}
    assert "last_request_at" not in c  # unset optional fields are left out, as in Intercom's examples
    bare = upsert(api, company_id="bare")
    assert bare["plan"] == {} and bare["monthly_spend"] == 0
    assert not {"name", "size", "website", "industry", "remote_created_at"} & set(bare)
    assert emulator.count("POST /companies") == 2


def test_post_is_an_upsert_keyed_on_company_id(emulator: Emulator, api: httpx.Client) -> None:
    emulator.seed_data_attribute("tier", "string", model="company")
    first = upsert(api, company_id="k1", name="One", custom_attributes={"tier": "gold"})
    again = upsert(api, company_id="k1", industry="Tea", custom_attributes={"tier": None})
    assert again["id"] == first["id"] and again["name"] == "One" and again["industry"] == "Tea"
    assert again["custom_attributes"] == {}
    assert len(emulator.companies()) == 1
    # "it is not possible to update company_id": another company_id is another company.
    other = upsert(api, company_id="k2")
    assert other["id"] != first["id"] and len(emulator.companies()) == 2
    r = api.post("/companies", json={"name": "no key"})
    assert r.status_code == 400 and error_of(r)["code"] == "parameter_not_found"


@pytest.mark.parametrize("body, code", [
    ({"company_id": "x", "monthly_spend": 2147483648}, "parameter_invalid"),
    ({"company_id": "x", "monthly_spend": "12"}, "parameter_invalid"),
    ({"company_id": "x", "size": 1.5}, "parameter_invalid"),
    ({"company_id": "x", "name": 5}, "parameter_invalid"),
    ({"company_id": 5}, "parameter_invalid"),
    ({"company_id": "x", "remote_created_at": "2020-01-01"}, "parameter_invalid"),
    ({"company_id": "x", "custom_attributes": {"nope": 1}}, "parameter_invalid"),
    ({"company_id": "x", "custom_attributes": {"tier": 3}}, "parameter_invalid"),
    ({"company_id": "x", "custom_attributes": {"tier": "x" * 256}}, "parameter_invalid"),
    ({"company_id": "x", "custom_attributes": {"plan": "contact attribute"}}, "parameter_invalid"),
])
def test_create_validation(emulator: Emulator, api: httpx.Client, body: Dict[str, Any], code: str) -> None:
    emulator.seed_data_attribute("tier", "string", model="company")
    emulator.seed_data_attribute("plan", "string")  # a contact attribute: no use on companies
    r = api.post("/companies", json=body)
    assert r.status_code == 400 and error_of(r)["code"] == code, r.text
    assert emulator.companies() == []


def test_monthly_spend_limits_and_custom_attribute_types(emulator: Emulator, api: httpx.Client) -> None:
    for name, data_type in (("tier", "string"), ("seats", "integer"), ("arr", "float"), ("paid", "boolean"),
                            ("renews_at", "date")):
        emulator.seed_data_attribute(name, data_type, model="company")
    c = upsert(api, company_id="m", monthly_spend=2147483647,
               custom_attributes={"tier": "x" * 255, "seats": 9, "arr": 1.5, "paid": True, "renews_at": 1700000000})
    assert c["monthly_spend"] == 2147483647
    assert c["custom_attributes"] == {"tier": "x" * 255, "seats": 9, "arr": 1.5, "paid": True,
                                      "renews_at": 1700000000}
    assert upsert(api, company_id="m", monthly_spend=-3.7)["monthly_spend"] == -3


def test_update_last_request_at_only_from_2_16(emulator: Emulator, api: httpx.Client) -> None:
    assert "last_request_at" not in upsert(api, company_id="seen", update_last_request_at=True)
    with make_client(emulator, version="2.16") as v216:
        c = v216.post("/companies", json={"company_id": "seen", "update_last_request_at": True}).json()
    assert abs(c["last_request_at"] - time.time()) < 5


def test_put_by_intercom_id(emulator: Emulator, api: httpx.Client) -> None:
    c = upsert(api, company_id="p1", name="Before", remote_created_at=10)
    time.sleep(1.05)
    r = api.put("/companies/" + c["id"], json={"name": "After", "monthly_spend": 10.9, "remote_created_at": 99})
    assert r.status_code == 200, r.text
    after = r.json()
    assert after["name"] == "After" and after["monthly_spend"] == 10
    assert after["remote_created_at"] == 10  # not part of update_company_request: ignored
    assert after["updated_at"] > c["updated_at"] and after["created_at"] == c["created_at"]
    # The path takes Intercom's id: your company_id there is unknown (intercom-node #356).
    r = api.put("/companies/p1", json={"name": "x"})
    assert r.status_code == 404 and error_of(r) == {"code": "company_not_found", "message": "Company Not Found"}
    r = api.put("/companies/" + c["id"], json={"company_id": "p2", "name": "x"})
    assert r.status_code == 404 and error_of(r)["code"] == "company_not_found"
    emulator.configure(company_put_company_id="ignore")
    r = api.put("/companies/" + c["id"], json={"company_id": "p2", "name": "Ignored key"})
    assert r.status_code == 200 and r.json()["company_id"] == "p1" and r.json()["name"] == "Ignored key"
    r = api.put("/companies/" + c["id"], json={"size": "big"})
    assert r.status_code == 400


def test_get_by_id_and_lookups(emulator: Emulator, api: httpx.Client) -> None:
    user = emulator.seed_contact(external_id="u1")
    c = upsert(api, company_id="look", name="Look Inc")
    assert api.get("/companies/" + c["id"]).json() == c
    assert api.get("/companies", params={"company_id": "look"}).json()["id"] == c["id"]
    assert api.get("/companies", params={"name": "Look Inc"}).json()["id"] == c["id"]
    for params in ({"company_id": "nope"}, {"name": "Nope"}):
        r = api.get("/companies", params=params)
        assert r.status_code == 404 and error_of(r) == {"code": "company_not_found", "message": "Company Not Found"}
    r = api.get("/companies/ffffffffffffffffffffffff")
    assert r.status_code == 404 and error_of(r)["code"] == "company_not_found"
    # Whether Intercom finds a company without users by company_id is unknown: a setting decides.
    emulator.configure(company_lookup_sees_userless=False)
    assert api.get("/companies", params={"company_id": "look"}).status_code == 404
    assert api.get("/companies/" + c["id"]).status_code == 200  # by Intercom id it is always found
    attach(api, user["id"], c["id"])
    assert api.get("/companies", params={"company_id": "look"}).json()["user_count"] == 1


def test_lists_hide_companies_without_users(emulator: Emulator, api: httpx.Client) -> None:
    u = emulator.seed_contact(external_id="u")
    lonely = upsert(api, company_id="lonely")
    busy = upsert(api, company_id="busy")
    attach(api, u["id"], busy["id"])
    listed = api.get("/companies").json()
    assert [c["id"] for c in listed["data"]] == [busy["id"]] and listed["total_count"] == 1
    assert [c["id"] for c in api.post("/companies/list").json()["data"]] == [busy["id"]]
    assert [c["id"] for c in api.get("/companies/scroll").json()["data"]] == [busy["id"]]
    assert {c["id"] for c in emulator.companies()} == {lonely["id"], busy["id"]}  # inspection sees all


def test_list_paging_per_page_and_the_10000_cap(emulator: Emulator, api: httpx.Client) -> None:
    # A contact belongs to at most 1000 companies, so 11 contacts share the 10,005 companies.
    owners = [emulator.seed_contact(external_id="owner%d" % i)["id"] for i in range(11)]
    emulator.seed_companies({"company_id": "c%05d" % i, "contact_ids": [owners[i % 11]]} for i in range(10_005))
    first = api.get("/companies").json()
    assert first["total_count"] == 10_005 and len(first["data"]) == 15
    assert first["pages"] == {"type": "pages", "next": emulator.url + "/companies?page=2&per_page=15", "page": 1,
                              "per_page": 15, "total_pages": 667}
    big = api.get("/companies", params={"per_page": 500}).json()
    assert big["pages"]["per_page"] == 60 and len(big["data"]) == 60  # clamped to 60 (a guess)
    last = api.get("/companies", params={"per_page": 60, "page": 167}).json()
    assert len(last["data"]) == 40 and last["data"][-1]["company_id"] == "c09999"
    assert last["pages"]["next"] is None and last["pages"]["total_pages"] == 167
    beyond = api.get("/companies", params={"per_page": 60, "page": 168}).json()
    assert beyond["data"] == [] and beyond["total_count"] == 10_005
    r = api.get("/companies", params={"page": "two"})
    assert r.status_code == 400


def test_list_all_orders_by_last_request_at(emulator: Emulator, api: httpx.Client) -> None:
    u = emulator.seed_contact(external_id="u")
    for cid, seen in (("a", 300), ("b", 100), ("c", 200)):
        emulator.seed_company(company_id=cid, last_request_at=seen, contact_ids=[u["id"]])
    desc = [c["company_id"] for c in api.post("/companies/list").json()["data"]]
    asc = [c["company_id"] for c in api.post("/companies/list", params={"order": "asc"}).json()["data"]]
    assert desc == ["a", "c", "b"] and asc == ["b", "c", "a"]
    page = api.post("/companies/list", params={"per_page": 2, "page": 2}).json()
    assert [c["company_id"] for c in page["data"]] == ["b"] and page["pages"]["total_pages"] == 2
    assert api.post("/companies/list", params={"order": "sideways"}).status_code == 400


def test_list_by_tag_and_segment(emulator: Emulator, api: httpx.Client) -> None:
    u = emulator.seed_contact(external_id="u")
    vip = emulator.seed_company(company_id="vip", contact_ids=[u["id"]], tags=["VIP"])
    emulator.seed_company(company_id="plain", contact_ids=[u["id"]])
    tag_id = emulator.tags()[0]["id"]
    assert [c["id"] for c in api.get("/companies", params={"tag_id": tag_id}).json()["data"]] == [vip["id"]]
    assert api.get("/companies", params={"tag_id": "999"}).json()["data"] == []
    assert api.get("/companies", params={"segment_id": "1"}).json()["data"] == []


def test_scroll_one_per_app_and_its_expiry(emulator_factory: Callable[..., Emulator]) -> None:
    emu = emulator_factory(company_scroll_expiry=0.3)
    u = emu.seed_contact(external_id="u")
    emu.seed_companies({"company_id": "s%02d" % i, "contact_ids": [u["id"]]} for i in range(20))
    with make_client(emu) as api:
        first = api.get("/companies/scroll").json()
        assert len(first["data"]) == 15 and first["pages"] is None and first["total_count"] is None
        param = first["scroll_param"]
        r = api.get("/companies/scroll")
        assert r.status_code == 400 and error_of(r) == {"code": "scroll_exists",
                                                        "message": "scroll already exists for this app"}
        second = api.get("/companies/scroll", params={"scroll_param": param}).json()
        assert len(second["data"]) == 5 and second["scroll_param"] == param
        end = api.get("/companies/scroll", params={"scroll_param": param}).json()
        assert end["data"] == []  # "companies will be empty and the scroll parameter will expire"
        r = api.get("/companies/scroll", params={"scroll_param": param})
        assert r.status_code == 404 and error_of(r)["code"] == "not_found"
        # A new scroll may open once the last one ended, or once it went unused for longer than the expiry.
        again = api.get("/companies/scroll").json()
        assert api.get("/companies/scroll").status_code == 400
        time.sleep(0.4)
        assert api.get("/companies/scroll", params={"scroll_param": again["scroll_param"]}).status_code == 404
        assert api.get("/companies/scroll").status_code == 200
        seen = {c["company_id"] for c in first["data"] + second["data"]}
        assert seen == {"s%02d" % i for i in range(20)}


def test_delete_archives_and_detaches(emulator: Emulator, api: httpx.Client) -> None:
    u = emulator.seed_contact(external_id="u")
    c = upsert(api, company_id="gone", name="Gone")
    attach(api, u["id"], c["id"])
    r = api.delete("/companies/" + c["id"])
    assert r.status_code == 200 and r.json() == {"id": c["id"], "object": "company", "deleted": True}
    for path, params in (("/companies/" + c["id"], None), ("/companies", {"company_id": "gone"}),
                         ("/companies", {"name": "Gone"})):
        r = api.get(path, params=params)
        assert r.status_code == 404 and error_of(r)["code"] == "company_not_found", path
    assert api.get("/companies").json()["data"] == []
    assert api.delete("/companies/" + c["id"]).status_code == 404
    assert api.put("/companies/" + c["id"], json={"name": "x"}).status_code == 404
    assert api.get("/contacts/" + u["id"]).json()["companies"]["total_count"] == 0
    archived = emulator.company(c["id"])
    assert archived is not None and archived["archived"] is True and archived["contact_ids"] == []
    assert emulator.companies() == [] and len(emulator.companies(include_archived=True)) == 1
    # Re-posting the company_id makes a new company (a guess: the spec is silent).
    again = upsert(api, company_id="gone")
    assert again["id"] != c["id"] and again["user_count"] == 0


def test_create_race_between_overlapping_requests(emulator_factory: Callable[..., Emulator]) -> None:
    emu = emulator_factory(latency=0.3)
    answers: List[httpx.Response] = []

    def post(delay: float) -> None:
        time.sleep(delay)
        with make_client(emu) as api:
            answers.append(api.post("/companies", json={"company_id": "raced", "name": "R"}))

    threads = [threading.Thread(target=post, args=(d,)) for d in (0.0, 0.1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    statuses = sorted(r.status_code for r in answers)
    assert statuses == [200, 400], [r.text for r in answers]
    loser = next(r for r in answers if r.status_code == 400)
    assert error_of(loser) == {"code": "unique_company_constraint", "message": "Company already exists."}
    assert len(emu.companies()) == 1
    # Once the first create has answered, the same company_id is an update again.
    with make_client(emu) as api:
        assert api.post("/companies", json={"company_id": "raced", "name": "S"}).json()["name"] == "S"
    emu.configure(company_create_race=False)
    answers.clear()
    emu.configure(latency=0.3)
    threads = [threading.Thread(target=post, args=(d,)) for d in (0.0, 0.1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(r.status_code == 200 for r in answers)


def test_create_race_as_an_injected_fault(emulator: Emulator, api: httpx.Client) -> None:
    emulator.company_race_next(1)
    r = api.post("/companies", json={"company_id": "f1"})
    assert r.status_code == 400 and error_of(r) == {"code": "unique_company_constraint",
                                                    "message": "Company already exists."}
    assert emulator.companies() == [] and emulator.requests[-1].fault == "fail"
    assert api.post("/companies", json={"company_id": "f1"}).status_code == 200
    emulator.fail_next(1, status=404, code="company_not_found", message="Company Not Found",
                       match_path="^/companies$")  # intercom-node #490
    r = api.post("/companies", json={"company_id": "f2"})
    assert r.status_code == 404 and error_of(r) == {"code": "company_not_found", "message": "Company Not Found"}


def test_company_data_attributes_are_listed_by_model(emulator: Emulator, api: httpx.Client) -> None:
    r = api.post("/data_attributes", json={"name": "tier", "model": "company", "data_type": "string"})
    assert r.status_code == 200
    assert upsert(api, company_id="t", custom_attributes={"tier": "gold"})["custom_attributes"] == {"tier": "gold"}
    r = api.post("/contacts", json={"email": "a@b.c", "custom_attributes": {"tier": "gold"}})
    assert r.status_code == 400  # a company attribute is not a contact attribute


def test_seed_and_inspect(emulator: Emulator) -> None:
    u = emulator.seed_contact(external_id="u1")
    emulator.seed_data_attribute("tier", "string", model="company")
    c = emulator.seed_company(company_id="seeded", name="Seeded", plan="Pro", monthly_spend=12.5,
                              custom_attributes={"tier": "gold"}, external_ids=["u1"], tags=["VIP", "vip"])
    assert c["user_count"] == 1 and c["contact_ids"] == [u["id"]] and c["monthly_spend"] == 12
    assert [t["name"] for t in c["tags"]["tags"]] == ["VIP"] and c["archived"] is False
    assert emulator.company(company_id="seeded") == c and emulator.company(c["id"]) == c
    assert emulator.company("nope") is None
    for bad in ({"name": "no key"}, {"company_id": "x", "colour": "red"}, {"company_id": "x", "external_ids": ["?"]},
                {"company_id": "x", "custom_attributes": {"nope": 1}}, {"company_id": "seeded"}):
        with pytest.raises(ValueError):
            emulator.seed_company(**bad)
    assert emulator.stats()["companies"] == 1
    emulator.reset()
    assert emulator.companies() == [] and emulator.tags() == [] and emulator.stats()["companies"] == 0


def test_sdk_companies(emulator: Emulator) -> None:
    from intercom import CreateOrUpdateCompanyRequest, Intercom

    sdk = Intercom(token=emulator.token, base_url=emulator.url, headers={"Intercom-Version": "2.14"})
    contact = emulator.seed_contact(external_id="sdk-u")
    made = sdk.companies.create_or_update(request=CreateOrUpdateCompanyRequest(
        company_id="sdk-1", name="SDK", monthly_spend=7, plan="Basic", size=3))
    assert made.company_id == "sdk-1" and made.plan is not None and made.plan.name == "Basic"
    attached = sdk.companies.attach_contact(contact["id"], company_id=made.id)
    assert attached.user_count == 1
    assert sdk.companies.find(made.id).name == "SDK"
    assert [c.id for c in sdk.companies.list()] == [made.id]
    assert [c.id for c in sdk.companies.scroll()] == [made.id]
    found = sdk.companies.retrieve(company_id="sdk-1")
    assert found.type == "company" and found.id == made.id
    assert sdk.companies.detach_contact(contact["id"], made.id).user_count == 0
    assert sdk.companies.delete(made.id).deleted is True
