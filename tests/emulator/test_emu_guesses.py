"""Behaviours nothing public settles, each switchable by a setting so a test can try every answer.

unsubscribed_null, long_text, search_max_in_values, search_rejects_non_ids_in_id_filter and
email_search_case_sensitive (see "Fidelity: recorded vs guessed" in the emulator's README).
"""
from __future__ import annotations

from typing import Any, Callable, List

import httpx
import pytest

from intercom_emulator import Emulator
from intercom_emulator.testing import error_of, make_client


def search(api: httpx.Client, field: str, op: str, value: Any) -> httpx.Response:
    return api.post("/contacts/search", json={"query": {"field": field, "operator": op, "value": value}})


def found(r: httpx.Response) -> List[str]:
    assert r.status_code == 200, r.text
    return [c["external_id"] for c in r.json()["data"]]


# ---- 6. unsubscribed_from_emails: null ------------------------------------------------------------------

@pytest.mark.parametrize("policy, status, after", [("false", 200, False), ("ignore", 200, True),
                                                    ("reject", 400, True)])
def test_unsubscribed_null(emulator_factory: Callable[..., Emulator], policy: str, status: int,
                           after: bool) -> None:
    emu = emulator_factory(unsubscribed_null=policy)
    c = emu.seed_contact(external_id="opted-out", unsubscribed_from_emails=True)
    with make_client(emu) as api:
        r = api.put("/contacts/" + c["id"], json={"unsubscribed_from_emails": None, "name": "N"})
        assert r.status_code == status, r.text
        if status == 400:
            assert error_of(r)["code"] == "parameter_invalid"
        assert emu.contact(c["id"])["unsubscribed_from_emails"] is after
        r = api.post("/contacts", json={"external_id": "new", "unsubscribed_from_emails": None})
        assert r.status_code == status
        if status == 200:
            assert r.json()["unsubscribed_from_emails"] is False


def test_unsubscribed_null_default_is_the_old_guess(emulator: Emulator) -> None:
    assert emulator.settings["unsubscribed_null"] == "false"
    with pytest.raises(ValueError):
        emulator.configure(unsubscribed_null="maybe")


# ---- 8. string custom attributes over 255 characters -------------------------------------------------------

@pytest.mark.parametrize("policy, status, stored", [("reject", 400, None), ("truncate", 200, "x" * 255),
                                                    ("store", 200, "x" * 300)])
def test_long_text(emulator_factory: Callable[..., Emulator], policy: str, status: int, stored: Any) -> None:
    emu = emulator_factory(long_text=policy)
    emu.seed_data_attribute("bio", "string")
    with make_client(emu) as api:
        r = api.post("/contacts", json={"external_id": "long", "custom_attributes": {"bio": "x" * 300}})
        assert r.status_code == status, r.text
        if status == 200:
            assert r.json()["custom_attributes"] == {"bio": stored}
        else:
            assert "too long" in error_of(r)["message"]
        assert api.post("/contacts", json={"external_id": "ok", "custom_attributes": {"bio": "x" * 255}}) \
            .status_code == 200


def test_long_text_applies_to_seeds_too(emulator_factory: Callable[..., Emulator]) -> None:
    emu = emulator_factory(long_text="truncate")
    emu.seed_data_attribute("bio", "string")
    c = emu.seed_contact(external_id="s", custom_attributes={"bio": "y" * 256})
    assert c["custom_attributes"]["bio"] == "y" * 255
    emu.configure(long_text="reject")
    with pytest.raises(ValueError):
        emu.seed_contact(external_id="t", custom_attributes={"bio": "y" * 256})


# ---- 7. search guesses ----------------------------------------------------------------------------------

@pytest.fixture
def searchable(emulator: Emulator) -> Emulator:
    emulator.seed_contacts([{"external_id": "a", "email": "Alice@Example.com"},
                            {"external_id": "b", "email": "bob@example.com"}])
    return emulator


def test_in_lists_are_unlimited_by_default(searchable: Emulator, api: httpx.Client) -> None:
    assert found(search(api, "external_id", "IN", ["a"] + ["x%d" % i for i in range(500)])) == ["a"]


def test_search_max_in_values(searchable: Emulator, api: httpx.Client) -> None:
    searchable.configure(search_max_in_values=3)
    assert found(search(api, "external_id", "IN", ["a", "b", "c"])) == ["a", "b"]
    for op in ("IN", "NIN"):
        r = search(api, "external_id", op, ["a", "b", "c", "d"])
        assert r.status_code == 400
        assert error_of(r) == {"code": "parameter_invalid",
                               "message": "The %s operator accepts at most 3 values (got 4)" % op}
    nested = {"operator": "OR", "value": [{"field": "email", "operator": "IN", "value": ["1", "2", "3", "4"]},
                                          {"field": "external_id", "operator": "=", "value": "a"}]}
    assert api.post("/contacts/search", json={"query": nested}).status_code == 400
    searchable.configure(search_max_in_values=None)
    assert search(api, "external_id", "IN", ["a", "b", "c", "d"]).status_code == 200


def test_search_rejects_non_ids_in_id_filter(searchable: Emulator, api: httpx.Client) -> None:
    real = searchable.contacts()[0]["id"]
    bad = ["u-17", "FFFFFFFFFFFFFFFFFFFFFFFF", "0123"]
    assert found(search(api, "id", "IN", [real] + bad)) == ["a"]  # default: such values simply match nothing
    searchable.configure(search_rejects_non_ids_in_id_filter=True)
    assert found(search(api, "id", "IN", [real, "ffffffffffffffffffffffff"])) == ["a"]
    for op, value in (("IN", [real, "u-17"]), ("=", "u-17"), ("NIN", ["FFFFFFFFFFFFFFFFFFFFFFFF"])):
        r = search(api, "id", op, value)
        assert r.status_code == 400 and error_of(r)["code"] == "parameter_invalid", (op, value)
    # Only the id field is concerned.
    assert search(api, "external_id", "=", "u-17").status_code == 200


def test_email_search_case_sensitive(searchable: Emulator, api: httpx.Client) -> None:
    assert found(search(api, "email", "=", "alice@example.com")) == ["a"]  # default: case ignored
    assert found(search(api, "email", "IN", ["ALICE@EXAMPLE.COM", "BOB@example.com"])) == ["a", "b"]
    searchable.configure(email_search_case_sensitive=True)
    assert found(search(api, "email", "=", "alice@example.com")) == []
    assert found(search(api, "email", "=", "Alice@Example.com")) == ["a"]
    assert found(search(api, "email", "IN", ["ALICE@EXAMPLE.COM", "bob@example.com"])) == ["b"]
    assert found(search(api, "email", "!=", "Alice@example.com")) == ["a", "b"]
    assert found(search(api, "email_domain", "=", "EXAMPLE.com")) == ["a", "b"]  # not concerned


def test_guess_settings_through_admin_and_config(emulator: Emulator) -> None:
    admin = httpx.Client(base_url=emulator.url + "/_emulator", timeout=10)
    config = admin.get("/config").json()
    assert {k: config[k] for k in ("unsubscribed_null", "long_text", "search_max_in_values",
                                   "search_rejects_non_ids_in_id_filter", "email_search_case_sensitive",
                                   "recorded_rate_limit_headers", "email_only_user_conflicts")} == {
        "unsubscribed_null": "false", "long_text": "reject", "search_max_in_values": None,
        "search_rejects_non_ids_in_id_filter": False, "email_search_case_sensitive": False,
        "recorded_rate_limit_headers": True, "email_only_user_conflicts": False}
    r = admin.post("/config", json={"long_text": "store", "search_max_in_values": 100})
    assert r.status_code == 200 and r.json()["long_text"] == "store" and r.json()["search_max_in_values"] == 100
    for bad in ({"long_text": "shorten"}, {"search_max_in_values": 0}, {"email_search_case_sensitive": "yes"}):
        assert admin.post("/config", json=bad).status_code == 400, bad
    admin.close()
