"""Data events: POST /events (identifiers, metadata rules, de-duplication, limits) and GET /events."""
from __future__ import annotations

import time
from typing import Any, Callable, Dict
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from intercom_emulator import Emulator
from intercom_emulator.testing import error_of, make_client

NOW = int(time.time())


def send(api: httpx.Client, **body: Any) -> httpx.Response:
    body.setdefault("event_name", "placed-order")
    body.setdefault("created_at", NOW)
    return api.post("/events", json=body)


def test_accepted_with_an_empty_body(emulator: Emulator, api: httpx.Client) -> None:
    u = emulator.seed_contact(external_id="u1", email="u1@example.com")
    r = send(api, user_id="u1", metadata={"order_id": "A-1", "price": {"amount": 34999, "currency": "eur"},
                                          "article": {"url": "https://example.org/a", "value": "the dude abides"},
                                          "load": 3.67, "paid": True, "order_date": 1392036272})
    assert r.status_code == 202 and r.content == b"" and "content-type" not in r.headers
    assert "x-ratelimit-remaining" in r.headers
    assert emulator.events() == [{
        "contact_id": u["id"], "event_name": "placed-order", "created_at": NOW,
        "metadata": {"order_id": "A-1", "price": {"amount": 34999, "currency": "eur"},
                     "article": {"url": "https://example.org/a", "value": "the dude abides"}, "load": 3.67,
                     "paid": True, "order_date": 1392036272},
        "user_id": "u1", "email": None, "id": None, "ignored_metadata_keys": []}]
    assert emulator.count("POST /events") == 1


def test_identifiers(emulator: Emulator, api: httpx.Client) -> None:
    user = emulator.seed_contact(external_id="u1", email="Shared@example.com")
    lead = emulator.seed_contact(role="lead", email="lead@example.com")  # its external_id is a UUID of Intercom's
    assert send(api, event_name="a", email="shared@example.com").status_code == 202
    assert send(api, event_name="b", id=user["id"]).status_code == 202
    assert send(api, event_name="c", id=lead["id"]).status_code == 202  # leads by Intercom id
    assert [(e["event_name"], e["contact_id"]) for e in emulator.events()] == [
        ("a", user["id"]), ("b", user["id"]), ("c", lead["id"])]
    assert emulator.events()[0]["email"] == "shared@example.com"
    assert emulator.events(contact_id=lead["id"])[0]["id"] == lead["id"]
    # A lead cannot be found by user_id or email; unknown, archived and deleted users are 404s.
    archived = emulator.seed_contact(external_id="arch", archived=True)
    gone = emulator.seed_contact(external_id="gone")
    api.delete("/contacts/" + gone["id"])
    for ident in ({"user_id": lead["external_id"]}, {"email": "lead@example.com"}, {"user_id": "nobody"},
                  {"id": "ffffffffffffffffffffffff"}, {"user_id": "arch"}, {"id": archived["id"]},
                  {"user_id": "gone"}):
        r = send(api, **ident)
        assert r.status_code == 404 and error_of(r) == {"code": "not_found", "message": "User Not Found"}, ident
    # With several identifiers, id is used first, then user_id, then email (a guess).
    assert send(api, event_name="d", id=lead["id"], user_id="u1").status_code == 202
    assert emulator.events()[-1]["contact_id"] == lead["id"]


@pytest.mark.parametrize("body, code", [
    ({"created_at": NOW, "user_id": "u1"}, "parameter_not_found"),
    ({"event_name": "x", "user_id": "u1"}, "parameter_not_found"),
    ({"event_name": "x", "created_at": NOW}, "parameter_not_found"),
    ({"event_name": 5, "created_at": NOW, "user_id": "u1"}, "parameter_invalid"),
    ({"event_name": "x", "created_at": "yesterday", "user_id": "u1"}, "parameter_invalid"),
    ({"event_name": "x", "created_at": 1.5, "user_id": "u1"}, "parameter_invalid"),
    ({"event_name": "x", "created_at": NOW, "user_id": 7}, "parameter_invalid"),
    ({"event_name": "x", "created_at": NOW, "user_id": "u1", "metadata": ["a"]}, "parameter_invalid"),
    ({"event_name": "x", "created_at": NOW, "user_id": "u1", "metadata": {"a.b": 1}}, "parameter_invalid"),
    ({"event_name": "x", "created_at": NOW, "user_id": "u1", "metadata": {"$a": 1}}, "parameter_invalid"),
    ({"event_name": "x", "created_at": NOW, "user_id": "u1", "metadata": {"a@b": 1}}, "parameter_invalid"),
    ({"event_name": "x", "created_at": NOW, "user_id": "u1", "metadata": {"nested": {"a": 1}}}, "parameter_invalid"),
    ({"event_name": "x", "created_at": NOW, "user_id": "u1", "metadata": {"list": [1]}}, "parameter_invalid"),
    ({"event_name": "x", "created_at": NOW, "user_id": "u1",
      "metadata": {"price": {"amount": "12", "currency": "eur"}}}, "parameter_invalid"),
])
def test_bad_bodies(emulator: Emulator, api: httpx.Client, body: Dict[str, Any], code: str) -> None:
    emulator.seed_contact(external_id="u1")
    r = api.post("/events", json=body)
    assert r.status_code == 400 and error_of(r)["code"] == code, r.text
    assert emulator.events() == []


def test_only_the_first_ten_metadata_keys_are_kept(emulator: Emulator, api: httpx.Client) -> None:
    emulator.seed_contact(external_id="u1")
    metadata = {"k%02d" % i: i for i in range(12)}
    metadata["bad.key"] = 1  # beyond the tenth key nothing is looked at
    assert send(api, user_id="u1", metadata=metadata).status_code == 202
    event = emulator.events()[0]
    assert list(event["metadata"]) == ["k%02d" % i for i in range(10)]
    assert event["ignored_metadata_keys"] == ["k10", "k11", "bad.key"]


@pytest.mark.parametrize("mode, status, stored", [("store", 202, "x" * 300), ("truncate", 202, "x" * 255),
                                                  ("reject", 400, None)])
def test_long_metadata_text(emulator_factory: Callable[..., Emulator], mode: str, status: int,
                            stored: Any) -> None:
    emu = emulator_factory(event_long_text=mode)
    emu.seed_contact(external_id="u1")
    with make_client(emu) as api:
        assert send(api, user_id="u1", metadata={"note": "x" * 300, "short": "x" * 255}).status_code == status
    if stored is None:
        assert emu.events() == []
    else:
        assert emu.events()[0]["metadata"] == {"note": stored, "short": "x" * 255}


def test_duplicates_are_dropped_silently(emulator: Emulator, api: httpx.Client) -> None:
    u = emulator.seed_contact(external_id="u1", email="u1@example.com")
    assert send(api, user_id="u1", metadata={"n": 1}).status_code == 202
    assert send(api, email="u1@example.com", metadata={"n": 2}).status_code == 202  # same contact, name, time
    assert send(api, id=u["id"], created_at=NOW + 1).status_code == 202
    assert [e["metadata"] for e in emulator.events()] == [{"n": 1}, {}]
    assert emulator.count("POST /events") == 3 and emulator.stats()["events_deduplicated"] == 1
    assert emulator.stats()["events"] == 2


def test_duplicates_still_count_against_the_rate_limit(emulator_factory: Callable[..., Emulator]) -> None:
    emu = emulator_factory(rate_limit_per_minute=600)
    emu.seed_contact(external_id="u1")
    with make_client(emu) as api:
        for _ in range(3):  # retried only if a 10-second window ends between the two requests
            first, duplicate = send(api, user_id="u1"), send(api, user_id="u1")
            if first.headers["x-ratelimit-reset"] == duplicate.headers["x-ratelimit-reset"]:
                break
    assert duplicate.status_code == 202
    assert int(duplicate.headers["x-ratelimit-remaining"]) == int(first.headers["x-ratelimit-remaining"]) - 1
    assert len(emu.events()) == 1


def test_at_most_120_active_event_names(emulator: Emulator, api: httpx.Client) -> None:
    emulator.seed_contact(external_id="u1")
    for i in range(120):
        assert send(api, user_id="u1", event_name="name-%03d" % i).status_code == 202
    r = send(api, user_id="u1", event_name="one-too-many")
    assert r.status_code == 400 and error_of(r)["code"] == "parameter_invalid"
    assert send(api, user_id="u1", event_name="name-000", created_at=NOW + 5).status_code == 202  # known names work
    assert len(emulator.events()) == 121


def test_list_a_users_events(emulator: Emulator, api: httpx.Client) -> None:
    u = emulator.seed_contact(external_id="u1", email="u1@example.com")
    for i in range(5):
        send(api, user_id="u1", event_name="e%d" % (i % 2), created_at=NOW - 100 + i, metadata={"i": i})
    send(api, user_id="u1", event_name="ancient", created_at=NOW - 100 * 86400)  # listed only in the summary
    listed = api.get("/events", params={"type": "user", "user_id": "u1"}).json()
    assert listed["type"] == "event.list" and listed["pages"] == {}
    assert [e["metadata"]["i"] for e in listed["events"]] == [4, 3, 2, 1, 0]  # newest first, last 90 days
    assert listed["events"][0] == {"type": "event", "event_name": "e0", "created_at": NOW - 96, "user_id": "u1",
                                   "intercom_user_id": u["id"], "email": "u1@example.com", "metadata": {"i": 4}}
    for params in ({"intercom_user_id": u["id"]}, {"email": "u1@example.com"}):
        assert api.get("/events", params=dict(type="user", **params)).json()["events"] == listed["events"]
    page = api.get("/events", params={"type": "user", "user_id": "u1", "per_page": 2}).json()
    assert [e["metadata"]["i"] for e in page["events"]] == [4, 3]
    query = parse_qs(urlsplit(page["pages"]["next"]).query)
    nxt = api.get("/events", params={k: v[0] for k, v in query.items()}).json()
    assert [e["metadata"]["i"] for e in nxt["events"]] == [2, 1]
    summary = api.get("/events", params={"type": "user", "user_id": "u1", "summary": "true"}).json()
    assert summary["type"] == "event.summary" and summary["intercom_user_id"] == u["id"]
    assert summary["user_id"] == "u1" and summary["email"] == "u1@example.com"
    counts = {e["name"]: e["count"] for e in summary["events"]}
    assert counts == {"e0": 3, "e1": 2, "ancient": 1}
    assert summary["events"][0]["first"].endswith(".000+00:00")
    r = api.get("/events", params={"user_id": "u1"})
    assert r.status_code == 400
    assert api.get("/events", params={"type": "user"}).status_code == 400
    r = api.get("/events", params={"type": "user", "user_id": "nobody"})
    assert r.status_code == 404 and error_of(r)["message"] == "User Not Found"
    assert emulator.count("GET /events") == 9


def test_events_survive_the_contacts_deletion_and_reset_clears_them(emulator: Emulator, api: httpx.Client) -> None:
    u = emulator.seed_contact(external_id="u1")
    send(api, user_id="u1")
    api.delete("/contacts/" + u["id"])
    assert len(emulator.events(contact_id=u["id"])) == 1
    emulator.reset()
    assert emulator.events() == [] and emulator.stats()["events"] == 0


def test_sdk_events(emulator: Emulator) -> None:
    from intercom import Intercom
    from intercom.types import CreateDataEventRequestWithEmail, CreateDataEventRequestWithId, \
        CreateDataEventRequestWithUserId

    sdk = Intercom(token=emulator.token, base_url=emulator.url, headers={"Intercom-Version": "2.14"})
    u = emulator.seed_contact(external_id="u1", email="u1@example.com")
    assert sdk.events.create(request=CreateDataEventRequestWithUserId(
        event_name="sdk", created_at=NOW, user_id="u1", metadata={"a": "b"})) is None
    sdk.events.create(request=CreateDataEventRequestWithId(event_name="sdk", created_at=NOW + 1, id=u["id"]))
    sdk.events.create(request=CreateDataEventRequestWithEmail(event_name="sdk", created_at=NOW + 2,
                                                              email="u1@example.com"))
    assert [e["created_at"] for e in emulator.events()] == [NOW, NOW + 1, NOW + 2]
