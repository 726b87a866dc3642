"""Data attributes: listing, creating with Intercom's rules, and custom attribute values on contacts."""
from __future__ import annotations

from typing import Any

import httpx
import pytest

from intercom_emulator import Emulator
from intercom_emulator.testing import error_of, make_client

STANDARD = {"name", "email", "phone", "external_id", "signed_up_at", "last_seen_at", "owner_id",
            "unsubscribed_from_emails", "role", "created_at", "updated_at", "avatar"}


def create_attr(api: httpx.Client, **body: Any) -> httpx.Response:
    body.setdefault("model", "contact")
    return api.post("/data_attributes", json=body)


def test_list_standard_then_custom(emulator: Emulator, api: httpx.Client) -> None:
    emulator.seed_data_attribute("plan", "string", description="Plan")
    r = api.get("/data_attributes", params={"model": "contact"})
    assert r.status_code == 200
    body = r.json()
    assert body["type"] == "list"
    names = [a["name"] for a in body["data"]]
    assert STANDARD <= set(names)
    standard = [a for a in body["data"] if not a["custom"]]
    assert all(a["model"] == "contact" and "id" not in a for a in standard)
    assert body["data"][-1]["name"] == "plan" and body["data"][-1]["custom"] is True
    assert [a["custom"] for a in body["data"]] == sorted(a["custom"] for a in body["data"])  # standard first
    email = next(a for a in body["data"] if a["name"] == "email")
    assert email["full_name"] == "email" and email["data_type"] == "string" and email["api_writable"] is True
    assert next(a for a in standard if a["name"] == "signed_up_at")["data_type"] == "date"
    everything = api.get("/data_attributes").json()["data"]
    assert {a["model"] for a in everything} == {"contact", "company"}
    companies = api.get("/data_attributes", params={"model": "company"}).json()["data"]
    assert {a["model"] for a in companies} == {"company"}
    assert api.get("/data_attributes", params={"model": "conversation"}).json()["data"] == []
    assert api.get("/data_attributes", params={"model": "tickets"}).status_code == 400
    with make_client(emulator, version="2.16") as client:
        r = client.get("/data_attributes", params={"model": "conversation"})
        assert r.status_code == 422 and error_of(r)["code"] == "parameter_invalid"
    with make_client(emulator, version="Preview") as client:
        data = client.get("/data_attributes", params={"model": "contact"}).json()["data"]
        assert next(a for a in data if a["name"] == "signed_up_at")["data_type"] == "datetime"


def test_create_returns_a_data_attribute(api: httpx.Client) -> None:
    r = create_attr(api, name="Mithril Shirt", data_type="string", description="A shirt", messenger_writable=True)
    assert r.status_code == 200, r.text
    a = r.json()
    assert isinstance(a["id"], int)
    assert a["type"] == "data_attribute" and a["name"] == "Mithril Shirt" and a["label"] == "Mithril Shirt"
    assert a["full_name"] == "custom_attributes.Mithril Shirt"
    assert a["data_type"] == "string" and a["model"] == "contact" and a["description"] == "A shirt"
    assert a["custom"] is True and a["archived"] is False and a["api_writable"] is True
    assert a["messenger_writable"] is True and a["ui_writable"] is False
    assert isinstance(a["created_at"], int) and isinstance(a["admin_id"], str)
    second = create_attr(api, name="Second", data_type="integer").json()
    assert second["id"] > a["id"] and "description" not in second


@pytest.mark.parametrize("data_type, stored", [("string", "string"), ("integer", "integer"), ("float", "float"),
                                               ("boolean", "boolean"), ("date", "date"), ("datetime", "date")])
def test_data_types(api: httpx.Client, data_type: str, stored: str) -> None:
    assert create_attr(api, name="attr_" + data_type, data_type=data_type).json()["data_type"] == stored


def test_options_attribute(api: httpx.Client, emulator: Emulator) -> None:
    r = create_attr(api, name="tier", data_type="options", options=[{"value": "gold"}, {"value": "silver"}])
    assert r.status_code == 200
    assert r.json()["data_type"] == "string" and r.json()["options"] == ["gold", "silver"]
    assert create_attr(api, name="tier2", data_type="options", options=[{"value": "one"}]).status_code == 400
    assert create_attr(api, name="tier3", data_type="options").status_code == 400
    ok = api.post("/contacts", json={"email": "t@example.com", "custom_attributes": {"tier": "gold"}})
    assert ok.status_code == 200
    bad = api.post("/contacts", json={"email": "u@example.com", "custom_attributes": {"tier": "bronze"}})
    assert bad.status_code == 400


@pytest.mark.parametrize("name", ["plan", "Plan Name", "monthly_spend", "seat-count", "price €", "cost$", "Größe", "x1"])
def test_valid_names(api: httpx.Client, name: str) -> None:
    assert create_attr(api, name=name, data_type="string").status_code == 200


@pytest.mark.parametrize("name", ["plan.name", "!nv@l!d n@me", "a/b", "tier:1", "50%", "   "])
def test_invalid_names(api: httpx.Client, name: str) -> None:
    r = create_attr(api, name=name, data_type="string")
    assert r.status_code == 400
    if name.strip():
        assert error_of(r) == {"code": "parameter_invalid", "message": "Your name for this attribute must only "
                               "contain alphanumeric characters, currency symbols, and hyphens"}


def test_duplicate_names(api: httpx.Client) -> None:
    assert create_attr(api, name="The One Ring", data_type="string").status_code == 200
    for name in ("The One Ring", "the one ring"):
        r = create_attr(api, name=name, data_type="integer")
        assert r.status_code == 400
        assert error_of(r) == {"code": "parameter_invalid", "message": "You already have '%s' in your people data. "
                               "To save this as new people data, use a different name." % name}
    r = create_attr(api, name="The One Ring", data_type="string", model="company")
    assert error_of(r)["message"] == ("You already have 'The One Ring' in your people data. To save this as new "
                                      "company data, use a different name.")
    r = create_attr(api, name="email", data_type="string")
    assert r.status_code == 400 and "already have 'email'" in error_of(r)["message"]


@pytest.mark.parametrize("body, message", [
    ({"name": "x", "model": "contact", "data_type": "mithril"}, "Data Type isn't an option"),
    ({"name": "x", "model": "contact"}, "Data Type isn't an option"),
    ({"name": "x", "model": "people", "data_type": "string"},
     "The Data Attribute model field must be either contact or company"),
    ({"name": "x", "data_type": "string"}, "The Data Attribute model field must be either contact or company"),
])
def test_invalid_create_requests(api: httpx.Client, body: Any, message: str) -> None:
    r = api.post("/data_attributes", json=body)
    assert r.status_code == 400 and error_of(r)["message"] == message


def test_missing_name(api: httpx.Client) -> None:
    r = api.post("/data_attributes", json={"model": "contact", "data_type": "string"})
    assert r.status_code == 400


def test_at_most_250_custom_attributes(emulator: Emulator, api: httpx.Client) -> None:
    for i in range(250):
        emulator.seed_data_attribute("a%d" % i, "string")
    r = create_attr(api, name="one_too_many", data_type="string")
    assert r.status_code == 400 and "250" in error_of(r)["message"]
    assert create_attr(api, name="company_one", data_type="string", model="company").status_code == 200


def test_archive_and_include_archived(emulator: Emulator, api: httpx.Client) -> None:
    a = create_attr(api, name="old_plan", data_type="string").json()
    r = api.put("/data_attributes/%d" % a["id"], json={"archived": True, "description": "gone"})
    assert r.status_code == 200 and r.json()["archived"] is True and r.json()["description"] == "gone"
    names = [x["name"] for x in api.get("/data_attributes", params={"model": "contact"}).json()["data"]]
    assert "old_plan" not in names
    names = [x["name"] for x in api.get("/data_attributes", params={"model": "contact", "include_archived": "true"}).json()["data"]]
    assert "old_plan" in names
    r = api.post("/contacts", json={"email": "z@example.com", "custom_attributes": {"old_plan": "x"}})
    assert r.status_code == 400
    r = api.put("/data_attributes/99999", json={"archived": True})
    assert r.status_code == 404 and error_of(r)["code"] == "field_not_found"


def test_unknown_custom_attribute_on_write(api: httpx.Client, emulator: Emulator) -> None:
    r = api.post("/contacts", json={"email": "x@example.com", "custom_attributes": {"favourite_colour": "red"}})
    assert r.status_code == 400
    assert error_of(r) == {"code": "parameter_invalid", "message": "Custom attribute 'favourite_colour' does not exist"}
    assert emulator.contacts() == []


@pytest.mark.parametrize("data_type, good, bad", [
    ("string", ["x", "", "é" * 255], [1, True, 1.5, {"a": 1}, ["a"], "x" * 256]),
    ("integer", [0, -5, 2 ** 63 - 1, -(2 ** 63)], ["1", 1.5, True, 2 ** 63, {"a": 1}, [1]]),
    ("float", [1.5, 2, -0.25], ["1.5", True, {"a": 1}, [1.5]]),
    ("boolean", [True, False], [1, 0, "true", [True]]),
    ("date", [1700000000, 0], ["2024-01-01", 1.5, True, {"a": 1}]),
])
def test_custom_attribute_value_types(emulator: Emulator, api: httpx.Client, data_type: str, good: list,
                                      bad: list) -> None:
    emulator.seed_data_attribute("v", data_type)
    for value in good:
        r = api.post("/contacts", json={"role": "lead", "custom_attributes": {"v": value}})
        assert r.status_code == 200, (value, r.text)
        assert r.json()["custom_attributes"] == {"v": value}
    for value in bad:
        r = api.post("/contacts", json={"role": "lead", "custom_attributes": {"v": value}})
        assert r.status_code == 400, value
        err = error_of(r)
        assert err["code"] == "parameter_invalid" and "'v'" in err["message"], err
        if not isinstance(value, str) or len(value) <= 255:
            assert data_type in err["message"]


def test_null_clears_and_writes_are_all_or_nothing(emulator: Emulator, api: httpx.Client) -> None:
    emulator.seed_data_attribute("plan", "string")
    emulator.seed_data_attribute("seats", "integer")
    c = api.post("/contacts", json={"email": "n@example.com", "custom_attributes": {"plan": "pro", "seats": 2}}).json()
    r = api.put("/contacts/" + c["id"], json={"custom_attributes": {"plan": None, "seats": None}})
    # Recorded (Grouparoo): a cleared attribute stays in custom_attributes with a null value.
    assert r.json()["custom_attributes"] == {"plan": None, "seats": None}
    r = api.put("/contacts/" + c["id"], json={"name": "N", "custom_attributes": {"plan": "x", "seats": "two"}})
    assert r.status_code == 400
    after = emulator.contact(c["id"])
    assert after["custom_attributes"] == {"plan": None, "seats": None} and after["name"] is None
    r = api.post("/contacts", json={"email": "m@example.com", "custom_attributes": {"plan": "x", "nope": 1}})
    assert r.status_code == 400 and len(emulator.contacts()) == 1
