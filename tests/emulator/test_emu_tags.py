"""Tags: POST /tags in its forms (2.14 and 2.16+ answers), the tag endpoints and a contact's tags."""
from __future__ import annotations

from typing import Any, Callable, Dict

import httpx
import pytest

from intercom_emulator import Emulator
from intercom_emulator.testing import error_of, make_client


def post_tag(client: httpx.Client, **body: Any) -> Dict[str, Any]:
    r = client.post("/tags", json=body)
    assert r.status_code == 200, r.text
    return r.json()


def test_create_is_find_or_create_ignoring_case(emulator: Emulator, api: httpx.Client) -> None:
    vip = post_tag(api, name="VIP")
    assert vip == {"type": "tag", "id": vip["id"], "name": "VIP"}
    assert post_tag(api, name="vip") == vip  # "created if not found ... Names are case insensitive"
    other = post_tag(api, name="Churned")
    assert other["id"] != vip["id"]
    assert api.get("/tags").json() == {"type": "list", "data": [vip, other]}
    assert api.get("/tags/" + vip["id"]).json() == vip
    for body in ({}, {"name": ""}, {"name": 5}, {"test": "invalid"}):
        r = api.post("/tags", json=body)
        assert r.status_code == 400 and error_of(r) == {"code": "parameter_invalid",
                                                        "message": "invalid tag parameters"}, body
    assert emulator.count("POST /tags") == 7 and emulator.count("GET /tags") == 1


def test_rename_by_id(api: httpx.Client) -> None:
    tag = post_tag(api, name="Old")
    taken = post_tag(api, name="Taken")
    assert post_tag(api, id=tag["id"], name="New") == {"type": "tag", "id": tag["id"], "name": "New"}
    assert api.get("/tags/" + tag["id"]).json()["name"] == "New"
    assert post_tag(api, name="new")["id"] == tag["id"]
    assert post_tag(api, id=tag["id"], name="NEW")["name"] == "NEW"  # a change of case only
    r = api.post("/tags", json={"id": tag["id"], "name": "taken"})
    assert r.status_code == 400 and taken["id"] != tag["id"]
    r = api.post("/tags", json={"id": "999999", "name": "x"})
    assert r.status_code == 404 and error_of(r) == {"code": "not_found", "message": "Resource Not Found"}


def test_tag_users_2_14(emulator: Emulator, api: httpx.Client) -> None:
    a = emulator.seed_contact(external_id="a")
    b = emulator.seed_contact(role="lead")
    tag = post_tag(api, name="Beta", users=[{"id": a["id"]}, {"id": b["id"]}])
    assert tag == {"type": "tag", "id": tag["id"], "name": "Beta"}  # 2.14 answers a tag_basic
    assert emulator.tags() == [{"type": "tag", "id": tag["id"], "name": "Beta", "contact_ids": [a["id"], b["id"]],
                                "company_ids": []}]
    # An unknown (or archived) user is a 404 and nothing changes; user_id and email are not Intercom ids.
    archived = emulator.seed_contact(external_id="arch", archived=True)
    for users in ([{"id": "ffffffffffffffffffffffff"}], [{"id": archived["id"]}], [{"user_id": "a"}],
                  [{"email": "a@b.c"}]):
        r = api.post("/tags", json={"name": "Other", "users": [{"id": a["id"]}] + users})
        assert r.status_code == 404 and error_of(r) == {"code": "not_found", "message": "User Not Found"}
    assert [t["name"] for t in emulator.tags()] == ["Beta"]
    # untag:true on users is not in the 2.x schemas; the emulator honours it (a guess).
    post_tag(api, name="beta", users=[{"id": a["id"], "untag": True}])
    assert emulator.tags()[0]["contact_ids"] == [b["id"]]
    assert api.post("/tags", json={"name": "x", "users": "nope"}).status_code == 400


def test_tag_users_2_16_reports_each_user_and_skips_unknown_ones(emulator: Emulator) -> None:
    a = emulator.seed_contact(external_id="a")
    with make_client(emulator, version="2.16") as v216:
        r = v216.post("/tags", json={"name": "Beta", "users": [{"id": a["id"]}, {"id": "ffffffffffffffffffffffff"}]})
        assert r.status_code == 200
        body = r.json()
        assert body == {"type": "tag", "id": body["id"], "name": "Beta", "users": [{"id": a["id"], "tagged": True}],
                        "companies": []}
        untagged = v216.post("/tags", json={"name": "Beta", "users": [{"id": a["id"], "untag": True}]}).json()
        assert untagged["users"] == [{"id": a["id"], "tagged": False}]
        plain = v216.post("/tags", json={"name": "Plain"}).json()
        assert plain["users"] == [] and plain["companies"] == []


def test_tag_users_max_setting(emulator_factory: Callable[..., Emulator]) -> None:
    emu = emulator_factory(tag_users_max=2)
    ids = [emu.seed_contact(external_id="u%d" % i)["id"] for i in range(3)]
    with make_client(emu) as api:
        assert api.post("/tags", json={"name": "t", "users": [{"id": i} for i in ids[:2]]}).status_code == 200
        r = api.post("/tags", json={"name": "t", "users": [{"id": i} for i in ids]})
        assert r.status_code == 400 and error_of(r)["code"] == "parameter_invalid"
    with pytest.raises(ValueError):
        emu.configure(tag_users_max=0)


def test_tag_and_untag_companies(emulator: Emulator, api: httpx.Client) -> None:
    one = emulator.seed_company(company_id="one")
    two = emulator.seed_company(company_id="two")
    tag = post_tag(api, name="Key", companies=[{"id": one["id"]}, {"company_id": "two"}])
    assert tag["name"] == "Key"
    rendered = api.get("/companies/" + one["id"]).json()["tags"]
    assert rendered == {"type": "tag.list", "tags": [{"type": "tag", "id": tag["id"], "name": "Key"}]}
    post_tag(api, name="KEY", companies=[{"company_id": "one", "untag": True}])
    assert api.get("/companies/" + one["id"]).json()["tags"]["tags"] == []
    assert emulator.tags()[0]["company_ids"] == [two["id"]]
    r = api.post("/tags", json={"name": "Key", "companies": [{"company_id": "one"}, {"company_id": "nope"}]})
    assert r.status_code == 404 and error_of(r) == {"code": "company_not_found", "message": "Company Not Found"}
    assert emulator.tags()[0]["company_ids"] == [two["id"]]  # nothing applied
    assert api.post("/tags", json={"name": "Key", "companies": [{"name": "neither id"}]}).status_code == 400
    both = {"name": "Key", "companies": [{"id": one["id"]}], "users": []}
    assert api.post("/tags", json=both).status_code == 400  # company and user directives can't be mixed
    with make_client(emulator, version="Preview") as pv:
        body = pv.post("/tags", json={"name": "Key", "companies": [{"id": one["id"]}, {"company_id": "nope"},
                                                                   {"company_id": "two", "untag": True}]}).json()
    assert body["companies"] == [{"id": one["id"], "tagged": True}, {"id": two["id"], "tagged": False}]
    assert body["users"] == []


def test_delete_tag(emulator: Emulator, api: httpx.Client) -> None:
    u = emulator.seed_contact(external_id="u")
    c = emulator.seed_company(company_id="c", tags=["Gone"])
    tag = post_tag(api, name="Gone", users=[{"id": u["id"]}])
    r = api.delete("/tags/" + tag["id"])
    assert r.status_code == 200 and r.content == b""
    assert api.get("/tags/" + tag["id"]).status_code == 404
    assert api.get("/contacts/" + u["id"]).json()["tags"]["total_count"] == 0
    assert api.get("/companies/" + c["id"]).json()["tags"]["tags"] == []
    r = api.delete("/tags/" + tag["id"])
    assert r.status_code == 404 and error_of(r) == {"code": "not_found", "message": "Resource Not Found"}
    assert emulator.tags() == []


def test_contact_tags(emulator: Emulator, api: httpx.Client) -> None:
    u = emulator.seed_contact(external_id="u")
    tag = emulator.seed_tag("Manual tag")
    r = api.post("/contacts/%s/tags" % u["id"], json={"id": tag["id"]})
    assert r.status_code == 200
    applied = r.json()
    assert applied["type"] == "tag" and applied["id"] == tag["id"] and applied["name"] == "Manual tag"
    assert isinstance(applied["applied_at"], int) and applied["applied_by"] == {"type": "admin", "id": "991267001"}
    assert api.post("/contacts/%s/tags" % u["id"], json={"id": int(tag["id"])}).json() == applied  # id as a number
    assert api.get("/contacts/%s/tags" % u["id"]).json() == {"type": "list", "data": [applied]}
    r = api.post("/contacts/%s/tags" % u["id"], json={"id": "999"})
    assert r.status_code == 404 and error_of(r) == {"code": "not_found", "message": "Resource Not Found"}
    r = api.post("/contacts/ffffffffffffffffffffffff/tags", json={"id": tag["id"]})
    assert r.status_code == 404 and error_of(r) == {"code": "not_found", "message": "User Not Found"}
    assert api.post("/contacts/%s/tags" % u["id"], json={}).status_code == 400
    removed = api.delete("/contacts/%s/tags/%s" % (u["id"], tag["id"]))
    assert removed.status_code == 200 and removed.json() == applied
    assert api.get("/contacts/%s/tags" % u["id"]).json()["data"] == []
    assert api.delete("/contacts/%s/tags/%s" % (u["id"], tag["id"])).status_code == 200  # not tagged: harmless
    assert api.delete("/contacts/%s/tags/999" % u["id"]).status_code == 404
    assert api.get("/contacts/ffffffffffffffffffffffff/tags").status_code == 404
    assert emulator.count("POST /contacts/{id}/tags") == 5
    assert emulator.count("DELETE /contacts/{id}/tags/{tag_id}") == 3


def test_the_contact_embeds_ten_tags(emulator: Emulator, api: httpx.Client) -> None:
    u = emulator.seed_contact(external_id="u")
    ids = [post_tag(api, name="t%02d" % i, users=[{"id": u["id"]}])["id"] for i in range(11)]
    tags = api.get("/contacts/" + u["id"]).json()["tags"]
    assert tags["data"] == [{"type": "tag", "id": i, "url": "/tags/" + i} for i in ids[:10]]
    assert tags["url"] == "/contacts/%s/tags" % u["id"] and tags["total_count"] == 11 and tags["has_more"] is True
    assert len(api.get("/contacts/%s/tags" % u["id"]).json()["data"]) == 11
    assert emulator.contacts()[0]["tags"] == tags
    api.delete("/contacts/" + u["id"])
    assert all(t["contact_ids"] == [] for t in emulator.tags())


def test_seed_tag(emulator: Emulator) -> None:
    u = emulator.seed_contact(external_id="u")
    tag = emulator.seed_tag("Seeded", contact_ids=[u["id"]])
    assert tag["contact_ids"] == [u["id"]] and emulator.seed_tag("SEEDED")["id"] == tag["id"]
    with pytest.raises(ValueError):
        emulator.seed_tag("x", contact_ids=["nope"])
    assert emulator.stats()["tags"] == 2


def test_sdk_tags(emulator: Emulator) -> None:
    from intercom import CreateOrUpdateTagRequest, Intercom, TagCompanyRequest, TagMultipleUsersRequest
    from intercom.types import TagCompanyRequestCompaniesItem, TagMultipleUsersRequestUsersItem

    sdk = Intercom(token=emulator.token, base_url=emulator.url, headers={"Intercom-Version": "2.14"})
    u = emulator.seed_contact(external_id="u")
    c = emulator.seed_company(company_id="c")
    made = sdk.tags.create(request=CreateOrUpdateTagRequest(name="SDK"))
    assert made.name == "SDK"
    sdk.tags.create(request=TagMultipleUsersRequest(name="SDK", users=[TagMultipleUsersRequestUsersItem(id=u["id"])]))
    sdk.tags.create(request=TagCompanyRequest(name="SDK", companies=[TagCompanyRequestCompaniesItem(company_id="c")]))
    assert emulator.tags()[0]["contact_ids"] == [u["id"]] and emulator.tags()[0]["company_ids"] == [c["id"]]
    assert [t.name for t in sdk.tags.list().data or []] == ["SDK"]
    assert sdk.tags.find(made.id).id == made.id
    assert sdk.tags.untag_contact(u["id"], made.id).id == made.id
    assert sdk.tags.tag_contact(u["id"], tag_id=made.id).name == "SDK"
    sdk.tags.delete(made.id)
    assert emulator.tags() == []
