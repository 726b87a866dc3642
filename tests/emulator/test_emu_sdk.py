"""The python-intercom 5.x SDK against the emulator: every call parses into its models without surprises."""
from __future__ import annotations

from typing import Any, Dict, List, Set

import pytest
from intercom import (CreateContactRequestWithEmail, CreateContactRequestWithExternalId,
                      CreateContactRequestWithRole, CreateDataAttributeRequestOne, CreateDataAttributeRequestOptions,
                      Intercom, MultipleFilterSearchRequest, SingleFilterSearchRequest, StartingAfterPaging)
from intercom.core.api_error import ApiError
from intercom.errors import BadRequestError, UnauthorizedError

from intercom_emulator import Emulator

# Fields outside the SDK models that Intercom itself returns in its documented examples (2.14 spec).
DOCUMENTED_CONTACT_EXTRAS = {"opted_out_subscription_types", "opted_in_subscription_types", "utm_campaign",
                             "utm_content", "utm_medium", "utm_source", "utm_term", "referrer"}
DOCUMENTED_NESTED_EXTRAS = {"tags": {"type"}, "notes": {"type"}, "companies": {"type"},
                            "social_profiles": {"type"}, "location": {"country_code", "continent_code"}}
# pages.next.page: Intercom's pagination answers carry the next page number next to the cursor.
DOCUMENTED_NEXT_EXTRAS = {"page"}


def extras(model: Any) -> Set[str]:
    return set(model.model_extra or {})


def assert_clean_contact(contact: Any) -> None:
    assert extras(contact) <= DOCUMENTED_CONTACT_EXTRAS, extras(contact) - DOCUMENTED_CONTACT_EXTRAS
    for field, allowed in DOCUMENTED_NESTED_EXTRAS.items():
        nested = getattr(contact, field)
        assert nested is not None, field
        assert extras(nested) <= allowed, (field, extras(nested))


@pytest.fixture
def client(emulator: Emulator) -> Intercom:
    emulator.seed_data_attribute("plan", "string")
    emulator.seed_data_attribute("seats", "integer")
    emulator.seed_admin(id=5)  # owner_id must name an admin of the workspace
    return Intercom(token=emulator.token, base_url=emulator.url, headers={"Intercom-Version": "2.14"})


def test_create_with_each_request_model(client: Intercom, emulator: Emulator) -> None:
    c = client.contacts.create(request=CreateContactRequestWithExternalId(
        external_id="sdk-1", email="sdk1@example.com", name="SDK One", role="user", phone="+353871234567",
        signed_up_at=1571672154, owner_id=5, unsubscribed_from_emails=False, avatar="https://example.org/a.png",
        custom_attributes={"plan": "pro", "seats": 3}))
    assert type(c).__name__ == "ContactsCreateResponse"
    assert c.type == "contact" and len(c.id) == 24 and c.external_id == "sdk-1" and c.role == "user"
    assert c.email == "sdk1@example.com" and c.email_domain == "example.com" and c.name == "SDK One"
    assert c.phone == "+353871234567" and c.signed_up_at == 1571672154 and c.owner_id == 5
    assert c.custom_attributes == {"plan": "pro", "seats": 3}
    assert c.workspace_id and isinstance(c.created_at, int) and c.enabled_push_messaging is None
    assert c.tags.data == [] and c.tags.total_count == 0 and c.tags.has_more is False
    assert c.location.country is None and c.social_profiles.data == []
    # The SDK types avatar as a string although Intercom (and its spec) answer with an avatar object.
    assert c.avatar == {"type": "avatar", "image_url": "https://example.org/a.png"}
    assert_clean_contact(c)
    e = client.contacts.create(request=CreateContactRequestWithEmail(email="sdk2@example.com"))
    assert e.role == "user" and e.external_id is None
    lead = client.contacts.create(request=CreateContactRequestWithRole(role="lead", name="Lead"))
    assert lead.role == "lead" and lead.email == ""
    assert_clean_contact(lead)
    sent = [r.body for r in emulator.requests if r.endpoint == "POST /contacts"]
    assert sent[0]["external_id"] == "sdk-1" and sent[0]["custom_attributes"] == {"plan": "pro", "seats": 3}


def test_update_find_and_find_by_external_id(client: Intercom, emulator: Emulator) -> None:
    c = client.contacts.create(request={"external_id": "sdk-u", "email": "u@example.com", "phone": "+1",
                                        "custom_attributes": {"plan": "pro"}})
    u = client.contacts.update(contact_id=c.id, name="Updated", phone=None, last_seen_at=1700000000,
                               custom_attributes={"plan": None, "seats": 9})
    assert type(u).__name__ == "ContactsUpdateResponse"
    assert u.name == "Updated" and u.phone is None and u.last_seen_at == 1700000000
    assert u.custom_attributes == {"plan": None, "seats": 9}  # a cleared attribute renders as null
    assert_clean_contact(u)
    assert emulator.requests[-1].body == {"name": "Updated", "phone": None, "last_seen_at": 1700000000,
                                          "custom_attributes": {"plan": None, "seats": 9}}
    f = client.contacts.find(contact_id=c.id)
    assert f.id == c.id and f.name == "Updated"
    assert_clean_contact(f)
    x = client.contacts.show_contact_by_external_id(external_id="sdk-u")
    assert type(x).__name__ == "ShowContactByExternalIdResponse" and x.id == c.id
    assert_clean_contact(x)


def test_search_paginated_by_hand(client: Intercom, emulator: Emulator) -> None:
    emulator.seed_contacts({"external_id": "s%03d" % i, "email": "s%d@example.com" % i,
                            "custom_attributes": {"seats": i}} for i in range(130))
    query = SingleFilterSearchRequest(field="custom_attributes.seats", operator=">", value=9)
    pagination = StartingAfterPaging(per_page=50)
    seen: List[str] = []
    pages = 0
    while True:
        page = client.contacts.search(query=query, pagination=pagination)  # one request; never iterate the pager
        pages += 1
        assert page.response.total_count == 120 and page.response.type == "list"
        assert page.response.pages.type == "pages" and page.response.pages.per_page == 50
        assert page.response.pages.total_pages == 3 and page.response.pages.page == pages
        assert extras(page.response) == set() and extras(page.response.pages) == set()
        for contact in page.items:
            assert_clean_contact(contact)
        seen += [c.external_id for c in page.items]
        nxt = page.response.pages.next
        if nxt is None:
            break
        assert extras(nxt) <= DOCUMENTED_NEXT_EXTRAS
        pagination = StartingAfterPaging(per_page=50, starting_after=nxt.starting_after)
    assert pages == 3 and seen == ["s%03d" % i for i in range(10, 130)]
    assert emulator.count("POST /contacts/search") == 3


def test_search_with_groups_and_in(client: Intercom, emulator: Emulator) -> None:
    g2 = "00000000-0000-4000-8000-0000000000f2"  # a lead's external_id is a UUID of Intercom's
    emulator.seed_contacts([{"external_id": "g1", "email": "G1@example.com"}, {"external_id": g2, "role": "lead"},
                            {"external_id": "g3"}])
    typed = MultipleFilterSearchRequest(operator="OR", value=[
        SingleFilterSearchRequest(field="external_id", operator="IN", value=["g1", g2]),
        SingleFilterSearchRequest(field="email", operator="=", value="g1@EXAMPLE.com")])
    page = client.contacts.search(query=typed)
    assert [c.external_id for c in page.items] == ["g1", g2]
    mixed: Dict[str, Any] = {"operator": "AND", "value": [
        {"field": "external_id", "operator": "IN", "value": ["g1", g2, "g3"]},
        {"operator": "OR", "value": [{"field": "role", "operator": "=", "value": "lead"},
                                     {"field": "email", "operator": "~", "value": "g1@"}]}]}
    page = client.contacts.search(query=mixed, pagination={"per_page": 150})
    assert [c.external_id for c in page.items] == ["g1", g2]


def test_archive_unarchive_delete_and_list(client: Intercom) -> None:
    c = client.contacts.create(request={"external_id": "sdk-a"})
    archived = client.contacts.archive(contact_id=c.id)
    assert archived.archived is True and archived.id == c.id and extras(archived) == set()
    assert client.contacts.unarchive(contact_id=c.id).archived is False
    listing = client.contacts.list(per_page=10)
    assert [x.id for x in listing.items] == [c.id]
    deleted = client.contacts.delete(contact_id=c.id)
    assert deleted.deleted is True and extras(deleted) == set()


def test_data_attributes(client: Intercom) -> None:
    listing = client.data_attributes.list(model="contact")
    assert extras(listing) == set()
    names = {a.name for a in listing.data}
    assert {"email", "external_id", "plan", "seats"} <= names
    for attr in listing.data:
        assert extras(attr) == set(), attr
    standard = next(a for a in listing.data if a.name == "email")
    assert standard.custom is False and standard.id is None and standard.full_name == "email"
    created = client.data_attributes.create(request=CreateDataAttributeRequestOne(
        data_type="datetime", name="renewal", model="contact", description="Renewal"))
    assert created.id and created.data_type == "date" and created.full_name == "custom_attributes.renewal"
    assert created.custom is True and created.description == "Renewal" and extras(created) == set()
    options = client.data_attributes.create(request=CreateDataAttributeRequestOptions(
        data_type="options", name="tier", model="contact", options=[{"value": "gold"}, {"value": "silver"}]))
    assert options.options == ["gold", "silver"]
    updated = client.data_attributes.update(data_attribute_id=created.id, request={"archived": True})
    assert updated.archived is True
    with pytest.raises(BadRequestError) as info:
        client.data_attributes.create(request={"name": "bad.name", "model": "contact", "data_type": "string"})
    assert info.value.status_code == 400
    assert client.data_attributes.list(model="contact", include_archived=True).data[-2].name == "renewal"


def test_errors_as_the_sdk_raises_them(client: Intercom, emulator: Emulator) -> None:
    client.contacts.create(request={"external_id": "dup"})
    with pytest.raises(ApiError) as info:
        client.contacts.create(request={"external_id": "dup"})
    assert info.value.status_code == 409 and info.value.body["errors"][0]["code"] == "conflict"
    assert "x-ratelimit-remaining" in info.value.headers
    with pytest.raises(ApiError) as info:
        client.contacts.update(contact_id="ffffffffffffffffffffffff", name="x")
    assert info.value.status_code == 404
    with pytest.raises(ApiError) as info:
        client.contacts.create(request={"external_id": "x", "custom_attributes": {"nope": 1}})
    assert info.value.status_code == 400
    bad = Intercom(token="wrong", base_url=emulator.url, headers={"Intercom-Version": "2.14"})
    with pytest.raises(UnauthorizedError) as unauthorized:
        bad.contacts.find(contact_id="x")
    assert unauthorized.value.body.errors[0].code == "unauthorized"


def test_raw_responses_carry_rate_limit_headers(client: Intercom) -> None:
    raw = client.contacts.with_raw_response.create(request={"external_id": "raw"})
    assert raw.headers["x-ratelimit-limit"] == "1667"
    assert int(raw.headers["x-ratelimit-remaining"]) <= 1667 and raw.headers["x-ratelimit-reset"].isdigit()
    assert raw.data.external_id == "raw"


def test_sdk_with_version_2_16_and_preview(emulator: Emulator) -> None:
    emulator.seed_admin(id="7")
    for version, owner in (("2.16", "7"), ("Preview", "7")):
        sdk = Intercom(token=emulator.token, base_url=emulator.url, headers={"Intercom-Version": version})
        c = sdk.contacts.create(request={"email": "v%s@example.com" % version, "owner_id": "7"})
        assert emulator.requests[-1].version == version
        # The SDK's model types owner_id as an integer and coerces the 2.16 string.
        assert c.owner_id in (7, owner)
