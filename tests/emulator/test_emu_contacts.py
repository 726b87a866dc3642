"""Contacts: create, update, read, archive, delete, and Intercom's conflict rules."""
from __future__ import annotations

import re
import time
from urllib.parse import quote

import httpx
import pytest

from intercom_emulator import Emulator
from intercom_emulator.testing import error_of, make_client

CONTACT_FIELDS_2_14 = {
    "type", "id", "external_id", "workspace_id", "role", "email", "email_domain", "phone", "name", "owner_id",
    "has_hard_bounced", "marked_email_as_spam", "unsubscribed_from_emails", "created_at", "updated_at",
    "signed_up_at", "last_seen_at", "last_replied_at", "last_contacted_at", "last_email_opened_at",
    "last_email_clicked_at", "language_override", "browser", "browser_version", "browser_language", "os",
    "android_app_name", "android_app_version", "android_device", "android_os_version", "android_sdk_version",
    "android_last_seen_at", "ios_app_name", "ios_app_version", "ios_device", "ios_os_version", "ios_sdk_version",
    "ios_last_seen_at", "custom_attributes", "avatar", "tags", "notes", "companies", "location", "social_profiles",
}


def create(api: httpx.Client, **body: object) -> dict:
    r = api.post("/contacts", json=body)
    assert r.status_code == 200, r.text
    return r.json()


def test_create_renders_a_full_contact(api: httpx.Client, emulator: Emulator) -> None:
    emulator.seed_admin(id=123)
    before = int(time.time())
    c = create(api, email="Joe@Example.com", external_id="ext-1", name="Joe", phone="+353871234567",
               avatar="https://example.org/a.png", signed_up_at=1571672154, last_seen_at=1571672155, owner_id=123,
               unsubscribed_from_emails=True)
    assert CONTACT_FIELDS_2_14 <= set(c)
    assert "enabled_push_messaging" in c
    assert re.fullmatch(r"[0-9a-f]{24}", c["id"])
    assert c["type"] == "contact" and c["role"] == "user"
    assert c["email"] == "Joe@Example.com" and c["email_domain"] == "example.com"
    assert c["avatar"] == {"type": "avatar", "image_url": "https://example.org/a.png"}
    assert c["owner_id"] == 123 and c["unsubscribed_from_emails"] is True
    assert c["signed_up_at"] == 1571672154 and c["last_seen_at"] == 1571672155
    assert isinstance(c["created_at"], int) and c["created_at"] >= before and c["updated_at"] == c["created_at"]
    assert c["custom_attributes"] == {}
    assert c["tags"] == {"type": "list", "data": [], "url": "/contacts/%s/tags" % c["id"], "total_count": 0,
                         "has_more": False}
    assert c["location"]["type"] == "location" and c["social_profiles"] == {"type": "list", "data": []}


def test_create_roles_and_required_identity(api: httpx.Client) -> None:
    assert create(api, role="lead")["role"] == "lead"
    assert create(api, external_id="only-ext")["role"] == "user"
    r = api.post("/contacts", json={"name": "nobody"})
    assert r.status_code == 400 and error_of(r)["code"] == "parameter_not_found"
    # Recorded (Grouparoo): an unknown role silently makes a user.
    assert create(api, role="admin", email="admin-role@example.com")["role"] == "user"
    r = api.post("/contacts", json={"role": 5})
    assert r.status_code == 400 and error_of(r)["code"] == "parameter_invalid"


@pytest.mark.parametrize("body", [
    {"email": 5},
    {"external_id": 42},
    {"email": "a@example.com", "signed_up_at": "1571672154"},
    {"email": "a@example.com", "signed_up_at": 1.5},
    {"email": "a@example.com", "unsubscribed_from_emails": "yes"},
    {"email": "a@example.com", "owner_id": "admin-7"},
    {"email": "a@example.com", "name": ["x"]},
    {"email": "a@example.com", "custom_attributes": "x"},
])
def test_create_rejects_wrongly_typed_fields(emulator: Emulator, api: httpx.Client, body: dict) -> None:
    r = api.post("/contacts", json=body)
    assert r.status_code == 400, r.text
    assert error_of(r)["code"] == "parameter_invalid"
    assert emulator.contacts() == []


def test_create_ignores_fields_it_cannot_write(api: httpx.Client) -> None:
    c = create(api, email="x@example.com", browser="Chrome", language_override="fr", tags=["a"])
    assert c["browser"] is None and c["language_override"] is None


def test_language_override_is_writable_in_preview_only(emulator: Emulator) -> None:
    with make_client(emulator, version="Preview") as client:
        c = client.post("/contacts", json={"email": "p@example.com", "language_override": "fr"}).json()
        assert c["language_override"] == "fr" and "formatted_phone" in c
        c = client.put("/contacts/" + c["id"], json={"language_override": None}).json()
        assert c["language_override"] is None


def test_email_verified_needs_an_email_from_2_16(emulator: Emulator) -> None:
    with make_client(emulator, version="2.16") as client:
        r = client.post("/contacts", json={"external_id": "ev", "email_verified": True})
        assert r.status_code == 400
        assert client.post("/contacts", json={"email": "ev@example.com", "email_verified": True}).status_code == 200


def test_update_changes_only_given_fields_and_null_clears(api: httpx.Client, emulator: Emulator) -> None:
    emulator.seed_data_attribute("plan", "string")
    emulator.seed_data_attribute("seats", "integer")
    c = emulator.seed_contact(email="u@example.com", name="Old", phone="+1555", created_at=1600000000,
                              custom_attributes={"plan": "pro", "seats": 3})
    r = api.put("/contacts/" + c["id"], json={"name": "New", "phone": None, "custom_attributes": {"seats": None},
                                              "signed_up_at": 1700000000, "something_unknown": 1})
    assert r.status_code == 200, r.text
    u = r.json()
    assert u["name"] == "New" and u["phone"] is None and u["email"] == "u@example.com"
    assert u["custom_attributes"] == {"plan": "pro", "seats": None}  # recorded: a cleared attribute is null
    assert u["signed_up_at"] == 1700000000
    assert u["updated_at"] >= int(time.time()) - 2 and u["created_at"] == 1600000000
    assert "enabled_push_messaging" in u
    u = api.put("/contacts/" + c["id"], json={"avatar": "https://x/y.png"}).json()
    assert u["role"] == "user" and u["avatar"]["image_url"] == "https://x/y.png"
    u = api.put("/contacts/" + c["id"], json={"avatar": None, "unsubscribed_from_emails": True}).json()
    assert u["avatar"] is None and u["unsubscribed_from_emails"] is True
    assert api.put("/contacts/" + c["id"], json={}).status_code == 200
    # Recorded (Grouparoo): a null external_id leaves the external_id alone.
    emulator.seed_contact(external_id="keep-me")
    kept = api.post("/contacts/search", json={"query": {"field": "external_id", "operator": "=",
                                                        "value": "keep-me"}}).json()["data"][0]
    assert api.put("/contacts/" + kept["id"], json={"external_id": None}).json()["external_id"] == "keep-me"


def test_update_unknown_contact_is_404(api: httpx.Client) -> None:
    r = api.put("/contacts/0123456789abcdef01234567", json={"name": "x"})
    assert r.status_code == 404
    assert error_of(r) == {"code": "not_found", "message": "User Not Found"}


def test_update_is_all_or_nothing(api: httpx.Client, emulator: Emulator) -> None:
    emulator.seed_data_attribute("seats", "integer")
    c = create(api, email="aon@example.com", name="Keep")
    r = api.put("/contacts/" + c["id"], json={"name": "Changed", "custom_attributes": {"seats": "many"}})
    assert r.status_code == 400
    assert emulator.contact(c["id"])["name"] == "Keep"


def test_get_and_find_by_external_id(api: httpx.Client) -> None:
    user = create(api, email="f@example.com", external_id="find-me")
    lead = create(api, role="lead", external_id="lead-ext")
    r = api.get("/contacts/" + user["id"])
    assert r.status_code == 200 and r.json()["external_id"] == "find-me" and "enabled_push_messaging" in r.json()
    r = api.get("/contacts/find_by_external_id/find-me")
    assert r.status_code == 200 and r.json()["id"] == user["id"]
    for missing in ("nobody", "lead-ext"):  # leads are not found by this endpoint
        r = api.get("/contacts/find_by_external_id/" + missing)
        assert r.status_code == 404 and error_of(r)["code"] == "not_found"
    assert api.get("/contacts/" + lead["id"]).status_code == 200
    assert api.get("/contacts/ffffffffffffffffffffffff").status_code == 404


def test_external_id_with_reserved_characters(api: httpx.Client) -> None:
    c = create(api, external_id="a b/c?d")
    r = api.get("/contacts/find_by_external_id/a%20b%2Fc%3Fd")
    assert r.status_code == 200 and r.json()["id"] == c["id"]


def test_archived_contacts_are_invisible_but_still_conflict(api: httpx.Client, emulator: Emulator) -> None:
    c = create(api, email="arch@example.com", external_id="arch-1")
    r = api.post("/contacts/%s/archive" % c["id"])
    assert r.status_code == 200
    assert r.json() == {"type": "contact", "id": c["id"], "external_id": "arch-1", "archived": True}
    assert api.get("/contacts/" + c["id"]).status_code == 404
    assert api.get("/contacts/find_by_external_id/arch-1").status_code == 404
    assert api.put("/contacts/" + c["id"], json={"name": "x"}).status_code == 404
    search = api.post("/contacts/search", json={"query": {"field": "external_id", "operator": "=", "value": "arch-1"}})
    assert search.json()["total_count"] == 0
    r = api.post("/contacts", json={"external_id": "arch-1"})
    assert r.status_code == 409
    assert error_of(r)["message"] == "An archived contact matching those details already exists with id=%s" % c["id"]
    r = api.post("/contacts", json={"email": "arch@example.com"})
    assert r.status_code == 409 and error_of(r)["message"].startswith("An archived contact")
    assert emulator.contact(c["id"])["archived"] is True
    assert emulator.contacts() == [] and len(emulator.contacts(include_archived=True)) == 1
    r = api.post("/contacts/%s/unarchive" % c["id"])
    assert r.status_code == 200 and r.json()["archived"] is False
    assert api.get("/contacts/find_by_external_id/arch-1").status_code == 200
    assert api.post("/contacts/ffffffffffffffffffffffff/archive").status_code == 404


def test_delete_contact(api: httpx.Client) -> None:
    c = create(api, external_id="del-1")
    r = api.delete("/contacts/" + c["id"])
    assert r.json() == {"type": "contact", "id": c["id"], "external_id": "del-1", "deleted": True}
    assert api.get("/contacts/" + c["id"]).status_code == 404
    assert api.delete("/contacts/" + c["id"]).status_code == 404
    # The deleted user's identity stays taken (see test_emu_lifecycle.py).
    assert api.post("/contacts", json={"external_id": "del-1"}).status_code == 409


def _conflict(r: httpx.Response, existing: dict) -> None:
    assert r.status_code == 409, r.text
    body = r.json()
    assert re.fullmatch(r"[0-9a-f-]{36}", body["request_id"])
    assert body["errors"] == [{"code": "conflict",
                               "message": "A contact matching those details already exists with id=%s" % existing["id"]}]


def test_conflict_on_taken_external_id(api: httpx.Client) -> None:
    first = create(api, external_id="dup", email="one@example.com")
    _conflict(api.post("/contacts", json={"external_id": "dup", "email": "other@example.com"}), first)
    # A lead ignores a supplied external_id (recorded), so it cannot collide on one.
    assert create(api, external_id="dup", role="lead")["external_id"] != "dup"


def test_conflict_on_email_when_no_external_id_tells_users_apart(api: httpx.Client) -> None:
    plain = create(api, email="same@example.com")
    _conflict(api.post("/contacts", json={"email": "same@example.com"}), plain)
    # Intercom help 5053685: a create carrying an external_id does not fall back to the email.
    assert create(api, email="SAME@example.com", external_id="new")["id"] != plain["id"]
    with_ext = create(api, email="both@example.com", external_id="b1")
    _conflict(api.post("/contacts", json={"email": "both@example.com"}), with_ext)
    # Two users may share an email when both carry (different) external ids.
    assert create(api, email="both@example.com", external_id="b2")["external_id"] == "b2"


def test_leads_are_exempt_from_the_email_check(api: httpx.Client) -> None:
    create(api, email="lead@example.com", role="lead")
    create(api, email="lead@example.com", role="lead")
    user = create(api, email="lead@example.com")
    assert user["role"] == "user"
    assert create(api, email="lead@example.com", role="lead")["role"] == "lead"


def test_put_with_an_external_id_owned_by_another_contact(api: httpx.Client) -> None:
    a = create(api, external_id="owner-a")
    b = create(api, external_id="owner-b")
    _conflict(api.put("/contacts/" + b["id"], json={"external_id": "owner-a"}), a)
    assert api.put("/contacts/" + a["id"], json={"external_id": "owner-a"}).status_code == 200
    assert api.put("/contacts/" + b["id"], json={"external_id": "owner-c"}).json()["external_id"] == "owner-c"
    assert api.get("/contacts/find_by_external_id/owner-c").json()["id"] == b["id"]
    assert api.get("/contacts/find_by_external_id/owner-b").status_code == 404


def test_list_contacts_pages(api: httpx.Client, emulator: Emulator) -> None:
    emulator.seed_contacts({"external_id": "l%d" % i} for i in range(7))
    r = api.get("/contacts", params={"per_page": 3}).json()
    assert r["total_count"] == 7 and len(r["data"]) == 3 and r["pages"]["total_pages"] == 3
    seen = [c["external_id"] for c in r["data"]]
    while "next" in r["pages"]:
        r = api.get("/contacts", params={"per_page": 3, "starting_after": r["pages"]["next"]["starting_after"]}).json()
        seen += [c["external_id"] for c in r["data"]]
    assert seen == ["l%d" % i for i in range(7)]


def test_seed_contact_fields(emulator: Emulator) -> None:
    emulator.seed_data_attribute("plan", "string")
    c = emulator.seed_contact(email="s@example.com", external_id="s1", browser="Firefox", created_at=1600000000,
                              location={"country": "Ireland", "city": "Dublin"}, custom_attributes={"plan": "x"})
    assert c["role"] == "user" and c["browser"] == "Firefox" and c["created_at"] == 1600000000
    assert c["location"]["country"] == "Ireland" and c["custom_attributes"] == {"plan": "x"}
    assert c["archived"] is False
    with pytest.raises(ValueError):
        emulator.seed_contact(external_id="s1")
    with pytest.raises(ValueError):
        emulator.seed_contact(email="x@example.com", custom_attributes={"nope": 1})
    with pytest.raises(ValueError):
        emulator.seed_contact(email="x@example.com", colour="red")


def test_list_contacts_defaults_to_ten_per_page(api: httpx.Client, emulator: Emulator) -> None:
    emulator.seed_contacts({"external_id": "p%d" % i} for i in range(12))
    r = api.get("/contacts").json()
    assert len(r["data"]) == 10 and r["pages"]["per_page"] == 10 and r["pages"]["total_pages"] == 2
    search = api.post("/contacts/search", json={"query": {"field": "role", "operator": "=", "value": "user"}})
    assert search.json()["pages"]["per_page"] == 50  # search keeps its own default


@pytest.mark.parametrize("external_id", ["a/b", "a?b", "a#b", "100%", "a b", "a+b", "sp ace/sl?ash#h%25"])
def test_find_by_external_id_decodes_the_raw_segment(api: httpx.Client, emulator: Emulator,
                                                     external_id: str) -> None:
    c = emulator.seed_contact(external_id=external_id)
    r = api.get("/contacts/find_by_external_id/" + quote(external_id, safe=""))
    assert r.status_code == 200, r.text
    assert r.json()["id"] == c["id"] and r.json()["external_id"] == external_id


def test_an_unencoded_slash_in_an_external_id_matches_no_route(api: httpx.Client, emulator: Emulator) -> None:
    emulator.seed_contact(external_id="a/b")
    r = api.get("/contacts/find_by_external_id/a/b")
    assert r.status_code == 404 and error_of(r) == {"code": "not_found", "message": "Resource Not Found"}
    assert emulator.requests[-1].endpoint == "GET (unmatched)"
