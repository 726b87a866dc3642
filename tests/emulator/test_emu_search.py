"""POST /contacts/search: operators, limits, pagination, search lag and index-backed lookups."""
from __future__ import annotations

import base64
import time
from typing import Any, List

import httpx
import pytest

from intercom_emulator import Emulator
from intercom_emulator.testing import error_of, make_client

DAY = 86400
T0 = 1700000000 - 1700000000 % DAY  # midnight UTC
# Leads carry Intercom-generated UUID external_ids, so lead "c" is seeded with one and reported as "c".
LEAD_C = "0000000c-0000-4000-8000-00000000000c"


def search(api: httpx.Client, query: Any, **pagination: Any) -> dict:
    body = {"query": query}
    if pagination:
        body["pagination"] = pagination
    r = api.post("/contacts/search", json=body)
    assert r.status_code == 200, r.text
    return r.json()


def ext_ids(result: dict) -> List[str]:
    return ["c" if c["external_id"] == LEAD_C else c["external_id"] for c in result["data"]]


@pytest.fixture
def people(emulator: Emulator) -> Emulator:
    emulator.seed_data_attribute("plan", "string")
    emulator.seed_data_attribute("seats", "integer")
    emulator.seed_data_attribute("score", "float")
    emulator.seed_data_attribute("vip", "boolean")
    emulator.seed_data_attribute("renews", "date")
    emulator.seed_contacts([
        dict(external_id="a", email="Alice@Example.com", name="Alice Smith", phone="+111", owner_id=1,
             created_at=T0 + 3600, signed_up_at=T0, custom_attributes={"plan": "pro", "seats": 5, "score": 1.5,
                                                                       "vip": True, "renews": T0 + 10}),
        dict(external_id="b", email="bob@example.org", name="Bob Jones", owner_id=2, created_at=T0 + DAY + 5,
             unsubscribed_from_emails=True, custom_attributes={"plan": "free", "seats": 1, "vip": False}),
        dict(external_id=LEAD_C, email="carol@example.com", name="Carol Smith", role="lead", created_at=T0 + 2 * DAY,
             custom_attributes={"seats": 10}),
        dict(external_id="d", name="Dan", created_at=T0 - DAY, last_seen_at=T0 + 7),
    ])
    return emulator


@pytest.mark.parametrize("query, expected", [
    ({"field": "external_id", "operator": "=", "value": "b"}, ["b"]),
    ({"field": "external_id", "operator": "!=", "value": "b"}, ["a", "c", "d"]),
    ({"field": "external_id", "operator": "IN", "value": ["a", LEAD_C, "zz"]}, ["a", "c"]),
    ({"field": "external_id", "operator": "NIN", "value": ["a", LEAD_C]}, ["b", "d"]),
    ({"field": "email", "operator": "=", "value": "alice@EXAMPLE.com"}, ["a"]),
    ({"field": "email", "operator": "IN", "value": ["ALICE@example.com", "bob@example.org"]}, ["a", "b"]),
    ({"field": "email", "operator": "=", "value": None}, ["d"]),
    ({"field": "email", "operator": "!=", "value": None}, ["a", "b", "c"]),
    ({"field": "email_domain", "operator": "=", "value": "example.com"}, ["a", "c"]),
    ({"field": "role", "operator": "=", "value": "lead"}, ["c"]),
    ({"field": "role", "operator": "IN", "value": ["user"]}, ["a", "b", "d"]),
    ({"field": "name", "operator": "~", "value": "smith"}, ["a", "c"]),
    ({"field": "name", "operator": "!~", "value": "smith"}, ["b", "d"]),
    ({"field": "name", "operator": "^", "value": "bob"}, ["b"]),
    ({"field": "name", "operator": "$", "value": "SMITH"}, ["a", "c"]),
    ({"field": "phone", "operator": "=", "value": "+111"}, ["a"]),
    ({"field": "owner_id", "operator": "=", "value": 2}, ["b"]),
    ({"field": "owner_id", "operator": "=", "value": "2"}, ["b"]),
    ({"field": "owner_id", "operator": ">", "value": 1}, ["b"]),
    ({"field": "owner_id", "operator": "<=", "value": 2}, ["a", "b"]),
    ({"field": "unsubscribed_from_emails", "operator": "=", "value": True}, ["b"]),
    ({"field": "custom_attributes.plan", "operator": "=", "value": "pro"}, ["a"]),
    ({"field": "custom_attributes.plan", "operator": "=", "value": None}, ["c", "d"]),
    ({"field": "custom_attributes.seats", "operator": ">", "value": 4}, ["a", "c"]),
    ({"field": "custom_attributes.seats", "operator": "<", "value": 5}, ["b"]),
    ({"field": "custom_attributes.score", "operator": ">", "value": 1}, ["a"]),
    ({"field": "custom_attributes.vip", "operator": "=", "value": False}, ["b"]),
    ({"field": "custom_attributes.renews", "operator": "=", "value": T0 + 50000}, ["a"]),
    # Stable versions compare dates by UTC day: "=" is the whole day, ">" starts at the next day.
    ({"field": "created_at", "operator": "=", "value": T0 + 80000}, ["a"]),
    ({"field": "created_at", "operator": ">", "value": T0 + 10}, ["b", "c"]),
    ({"field": "created_at", "operator": "<", "value": T0 + DAY + 99}, ["a", "d"]),
    ({"field": "created_at", "operator": ">", "value": str(T0)}, ["b", "c"]),
    ({"field": "signed_up_at", "operator": "=", "value": T0}, ["a"]),
    ({"field": "last_seen_at", "operator": ">", "value": T0 - 1}, ["d"]),
    ({"field": "tag_id", "operator": "=", "value": "123"}, []),
    ({"operator": "AND", "value": [{"field": "name", "operator": "~", "value": "smith"},
                                   {"field": "role", "operator": "=", "value": "user"}]}, ["a"]),
    ({"operator": "OR", "value": [{"field": "external_id", "operator": "=", "value": "d"},
                                  {"field": "email", "operator": "=", "value": "bob@example.org"}]}, ["b", "d"]),
    ({"operator": "AND", "value": [
        {"operator": "OR", "value": [{"field": "external_id", "operator": "=", "value": "a"},
                                     {"field": "external_id", "operator": "=", "value": "b"}]},
        {"field": "owner_id", "operator": "=", "value": 2}]}, ["b"]),
])
def test_operators(people: Emulator, api: httpx.Client, query: Any, expected: List[str]) -> None:
    result = search(api, query)
    assert ext_ids(result) == expected
    assert result["total_count"] == len(expected)


def test_preview_matches_timestamps_to_the_second(people: Emulator) -> None:
    with make_client(people, version="Preview") as client:
        r = client.post("/contacts/search", json={"query": {"field": "created_at", "operator": ">", "value": T0 + 10}})
        assert ext_ids(r.json()) == ["a", "b", "c"]
        r = client.post("/contacts/search", json={"query": {"field": "created_at", "operator": "=", "value": T0 + 3600}})
        assert ext_ids(r.json()) == ["a"]


def _group(n: int) -> dict:
    return {"operator": "OR", "value": [{"field": "external_id", "operator": "=", "value": str(i)} for i in range(n)]}


@pytest.mark.parametrize("query", [
    _group(15),
    {"operator": "AND", "value": [_group(15), _group(2)]},
])
def test_limits_that_are_allowed(api: httpx.Client, query: Any) -> None:
    search(api, query)


@pytest.mark.parametrize("query, fragment", [
    (_group(16), "max 15 filters"),
    ({"operator": "AND", "value": [{"operator": "OR", "value": [_group(2)]}]}, "Nested filters are limited to 2"),
    ({"operator": "AND", "value": []}, "non-empty array"),
    ({"field": "external_id", "operator": "IN", "value": "a"}, "needs an array"),
    ({"field": "created_at", "operator": "!=", "value": T0}, "not supported"),
    ({"field": "created_at", "operator": "IN", "value": [T0]}, "not supported"),
    ({"field": "created_at", "operator": ">", "value": "foobar"}, "not valid for field created_at"),
    ({"field": "unsubscribed_from_emails", "operator": ">", "value": True}, "not supported"),
    ({"field": "owner_id", "operator": "~", "value": "1"}, "not supported"),
    ({"field": "tag_id", "operator": "IN", "value": ["1"]}, "not supported"),
    ({"field": "external_id", "operator": "LIKE", "value": "a"}, "not a valid search operator"),
    ({"field": "favourite_colour", "operator": "=", "value": "red"}, "not a searchable contact field"),
    ({"field": "custom_attributes.nope", "operator": "=", "value": 1}, "does not exist"),
    ({"field": "external_id", "operator": "=", "value": {"a": 1}}, "not valid"),
    ({"field": "external_id", "operator": "="}, "needs a field"),
    ("external_id = a", "query must be an object"),
])
def test_invalid_queries_are_400(api: httpx.Client, query: Any, fragment: str) -> None:
    r = api.post("/contacts/search", json={"query": query})
    assert r.status_code == 400, r.text
    err = error_of(r)
    assert err["code"] == "parameter_invalid" and fragment in err["message"], err


def test_query_is_required(api: httpx.Client) -> None:
    r = api.post("/contacts/search", json={"pagination": {"per_page": 5}})
    assert r.status_code == 400 and error_of(r)["code"] == "parameter_not_found"


@pytest.mark.parametrize("per_page, status", [(1, 200), (150, 200), (151, 400), (0, 400), ("10", 400)])
def test_per_page_limits(api: httpx.Client, per_page: Any, status: int) -> None:
    r = api.post("/contacts/search", json={"query": {"field": "role", "operator": "=", "value": "user"},
                                           "pagination": {"per_page": per_page}})
    assert r.status_code == status


def test_pagination_walks_every_result_once_in_a_stable_order(emulator: Emulator, api: httpx.Client) -> None:
    emulator.seed_contacts({"external_id": "p%03d" % i, "email": "p%d@example.com" % i} for i in range(123))
    query = {"field": "email", "operator": "~", "value": "@example.com"}
    first = search(api, query)
    assert len(first["data"]) == 50  # default page size
    assert first["total_count"] == 123
    assert first["pages"]["type"] == "pages" and first["pages"]["page"] == 1
    assert first["pages"]["per_page"] == 50 and first["pages"]["total_pages"] == 3
    cursor = first["pages"]["next"]["starting_after"]
    assert first["pages"]["next"]["page"] == 2
    assert "p0" not in cursor and base64.b64decode(cursor)  # opaque, base64
    seen = ext_ids(first)
    pages = 1
    result = first
    while "next" in result["pages"]:
        result = search(api, query, per_page=50, starting_after=result["pages"]["next"]["starting_after"])
        pages += 1
        assert result["pages"]["page"] == pages and result["total_count"] == 123
        seen += ext_ids(result)
    assert pages == 3 and seen == ["p%03d" % i for i in range(123)]
    again = search(api, query, per_page=150)
    assert ext_ids(again) == seen and "next" not in again["pages"]


def test_empty_result_shape(api: httpx.Client) -> None:
    result = search(api, {"field": "external_id", "operator": "=", "value": "none"}, per_page=5)
    assert result == {"type": "list", "data": [], "total_count": 0,
                      "pages": {"type": "pages", "page": 1, "per_page": 5, "total_pages": 0}}


def test_bad_cursor_is_400(api: httpx.Client) -> None:
    r = api.post("/contacts/search", json={"query": {"field": "role", "operator": "=", "value": "user"},
                                           "pagination": {"starting_after": "not-a-cursor"}})
    assert r.status_code == 400


def test_search_lag_hides_new_contacts_but_not_direct_reads(emulator_factory: Any) -> None:
    emu = emulator_factory(search_lag=0.4)
    with make_client(emu) as client:
        old = emu.seed_contact(external_id="old", name="before")
        created = client.post("/contacts", json={"external_id": "fresh"}).json()
        query = {"field": "external_id", "operator": "IN", "value": ["old", "fresh"]}
        assert ext_ids(search(client, query)) == ["old"]
        assert client.get("/contacts/" + created["id"]).status_code == 200
        assert client.get("/contacts/find_by_external_id/fresh").status_code == 200
        # Updates of contacts that search already sees are visible at once.
        client.put("/contacts/" + old["id"], json={"name": "after"})
        assert ext_ids(search(client, {"field": "name", "operator": "=", "value": "after"})) == ["old"]
        time.sleep(0.45)
        assert ext_ids(search(client, query)) == ["old", "fresh"]


def test_seeding_invisible_contacts(emulator_factory: Any) -> None:
    emu = emulator_factory(search_lag=30)
    emu.seed_contacts([{"external_id": "hidden"}], visible=False)
    emu.seed_contacts([{"external_id": "shown"}])
    with make_client(emu) as client:
        assert ext_ids(search(client, {"field": "role", "operator": "=", "value": "user"})) == ["shown"]


def test_indexed_lookups_do_not_scan(emulator: Emulator, api: httpx.Client) -> None:
    emulator.seed_data_attribute("n", "integer")
    emulator.seed_contacts({"external_id": "x%d" % i, "email": "x%d@example.com" % i, "custom_attributes": {"n": i}}
                           for i in range(200_000))
    wanted = ["x%d" % i for i in range(0, 200_000, 2_000)]

    def server_time(query: Any) -> float:
        search(api, query, per_page=150)
        return emulator.requests[-1].duration

    indexed = min(server_time({"field": "external_id", "operator": "IN", "value": wanted}) for _ in range(3))
    by_email = min(server_time({"operator": "AND", "value": [
        {"field": "email", "operator": "IN", "value": [w + "@EXAMPLE.com" for w in wanted]},
        {"field": "custom_attributes.n", "operator": ">", "value": -1}]}) for _ in range(3))
    scanned = server_time({"field": "custom_attributes.n", "operator": "<", "value": 0})
    assert indexed < 0.05 and by_email < 0.05, (indexed, by_email)
    assert scanned > 3 * max(indexed, by_email), (indexed, by_email, scanned)
    result = search(api, {"field": "external_id", "operator": "IN", "value": wanted}, per_page=150)
    assert result["total_count"] == 100 and ext_ids(result) == wanted
