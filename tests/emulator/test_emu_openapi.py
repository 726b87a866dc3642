"""Conformance with Intercom's OpenAPI description: every response the emulator sends, and every request
body the SDK sends, is validated against the spec's schemas.

Needs the spec copies beside the repository (../shared/intercom-openapi) and PyYAML; skipped otherwise.
"""
from __future__ import annotations

import copy
import time
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Set, Tuple

import pytest

SPEC_DIR = Path(__file__).resolve().parents[2].parent / "shared" / "intercom-openapi"
if not SPEC_DIR.is_dir():
    pytest.skip("Intercom's OpenAPI files are not available (%s)" % SPEC_DIR, allow_module_level=True)
pytest.importorskip("yaml")

import httpx  # noqa: E402
from intercom import (CreateContactRequestWithEmail, CreateContactRequestWithExternalId,  # noqa: E402
                      CreateContactRequestWithRole, CreateDataAttributeRequestOne,
                      CreateDataAttributeRequestOptions, Intercom, MultipleFilterSearchRequest,
                      SingleFilterSearchRequest, StartingAfterPaging)

from intercom_emulator import Emulator  # noqa: E402
from intercom_emulator.attributes import ADMIN_ID  # noqa: E402
from intercom_emulator.openapi import (component_schema, find_operation, load_spec, request_schema,  # noqa: E402
                                       response_schema, to_json_schema, validate)
from intercom_emulator.testing import make_client  # noqa: E402


@pytest.fixture(scope="module")
def spec214() -> Dict[str, Any]:
    return load_spec(SPEC_DIR / "intercom-2.14.yaml")


@pytest.fixture(scope="module")
def spec216() -> Dict[str, Any]:
    return load_spec(SPEC_DIR / "intercom-2.16.yaml")


@pytest.fixture(scope="module")
def spec_preview() -> Dict[str, Any]:
    return load_spec(SPEC_DIR / "intercom-preview.yaml")


class ResponseChecker:
    """An httpx response hook validating each API response against the spec (errors against ``error``)."""

    def __init__(self, spec: Dict[str, Any]) -> None:
        self.spec = spec
        self.problems: List[str] = []
        self.seen: Set[Tuple[str, str, int]] = set()

    def __call__(self, response: httpx.Response) -> None:
        response.read()
        method, path, status = response.request.method, response.request.url.path, response.status_code
        template = find_operation(self.spec, method, path)
        where = "%s %s -> %d" % (method, path, status)
        if template is None:
            self.problems.append("%s: no such operation in the spec" % where)
            return
        schema = response_schema(self.spec, method, template, status)
        if schema is None:
            if status < 400 and documented_without_body(self.spec, method, template, status):
                if response.content:
                    self.problems.append("%s: the spec documents no body, but one came" % where)
                self.seen.add((method, template, status))
                return
            if status < 400:
                self.problems.append("%s: status not documented" % where)
                return
            schema = component_schema(self.spec, "error")  # Intercom answers every error with an error.list
        try:
            body = response.json()
        except ValueError:
            self.problems.append("%s: body is not JSON" % where)
            return
        self.problems += ["%s: %s" % (where, p) for p in validate(body, schema)]
        self.seen.add((method, template, status))


def documented_without_body(spec: Dict[str, Any], method: str, template: str, status: int) -> bool:
    """Whether the spec lists this status for the operation with no content (202 of POST /events, ...)."""
    response = spec["paths"][template][method.lower()].get("responses", {}).get(str(status))
    return isinstance(response, dict) and "$ref" not in response and not response.get("content")


def checked_client(emu: Emulator, spec: Dict[str, Any], version: str) -> Tuple[httpx.Client, ResponseChecker]:
    checker = ResponseChecker(spec)
    client = make_client(emu, version=version, event_hooks={"response": [checker]})
    return client, checker


@pytest.fixture
def emu(emulator_factory: Any) -> Iterator[Emulator]:
    emu = emulator_factory(bulk_task_delay=0.05)
    emu.seed_data_attribute("plan", "string")
    emu.seed_data_attribute("seats", "integer")
    for admin_id in (3, 12, 13):  # owner_id must name an admin of the workspace
        emu.seed_admin(id=admin_id)
    yield emu


def test_contact_responses_conform_to_2_14(emu: Emulator, spec214: Dict[str, Any]) -> None:
    client, checker = checked_client(emu, spec214, "2.14")
    emu.seed_contacts({"external_id": "seed-%d" % i, "email": "seed%d@example.com" % i, "browser": "Chrome",
                       "location": {"country": "Ireland", "city": "Dublin"}, "has_hard_bounced": True,
                       "social_profiles": [{"type": "social_profile", "name": "Twitter", "url": "http://t/x"}]}
                      for i in range(7))
    c = client.post("/contacts", json={"external_id": "c1", "email": "c1@example.com", "name": "C One",
                                       "avatar": "https://example.org/a.png", "owner_id": 3, "signed_up_at": 1,
                                       "custom_attributes": {"plan": "pro", "seats": 2}}).json()
    client.post("/contacts", json={"role": "lead"})
    client.put("/contacts/" + c["id"], json={"name": None, "phone": "+1555", "custom_attributes": {"plan": None}})
    client.get("/contacts/" + c["id"])
    client.get("/contacts/find_by_external_id/c1")
    page = client.post("/contacts/search", json={"query": {"field": "role", "operator": "=", "value": "user"},
                                                 "pagination": {"per_page": 3}}).json()
    client.post("/contacts/search", json={"query": {"field": "role", "operator": "=", "value": "user"},
                                          "pagination": {"per_page": 3,
                                                         "starting_after": page["pages"]["next"]["starting_after"]}})
    client.post("/contacts/search", json={"query": {"field": "external_id", "operator": "=", "value": "none"}})
    client.get("/contacts", params={"per_page": 2})
    client.post("/contacts/%s/archive" % c["id"])
    client.post("/contacts/%s/unarchive" % c["id"])
    client.delete("/contacts/" + c["id"])
    # Errors, documented or not, must still be well-formed error lists.
    client.get("/contacts/" + c["id"])                                               # 404
    client.post("/contacts", json={"external_id": "seed-1"})                         # 409
    client.post("/contacts", json={"email": "x@example.com", "custom_attributes": {"nope": 1}})  # 400
    client.post("/contacts/search", json={"query": {"operator": "AND", "value": []}})           # 400
    client.get("/contacts/x", headers={"Authorization": "Bearer wrong"})             # 401
    client.get("/contacts/x", headers={"Intercom-Version": "7.0"})                   # 400 version
    emu.configure(rate_limit_per_minute=6)
    for _ in range(3):
        client.get("/contacts/x")                                                    # 404s, then 429
    client.close()
    assert checker.problems == []
    statuses = {(m, t, s) for m, t, s in checker.seen}
    for expected in [("POST", "/contacts", 200), ("PUT", "/contacts/{contact_id}", 200),
                     ("GET", "/contacts/{contact_id}", 200), ("GET", "/contacts/find_by_external_id/{external_id}", 200),
                     ("POST", "/contacts/search", 200), ("GET", "/contacts", 200),
                     ("POST", "/contacts/{contact_id}/archive", 200), ("POST", "/contacts/{contact_id}/unarchive", 200),
                     ("DELETE", "/contacts/{contact_id}", 200), ("GET", "/contacts/{contact_id}", 404),
                     ("POST", "/contacts", 409), ("POST", "/contacts", 400), ("GET", "/contacts/{contact_id}", 401),
                     ("GET", "/contacts/{contact_id}", 429)]:
        assert expected in statuses, expected


def test_data_attribute_responses_conform_to_2_14(emu: Emulator, spec214: Dict[str, Any]) -> None:
    client, checker = checked_client(emu, spec214, "2.14")
    for params in ({}, {"model": "contact"}, {"model": "company"}, {"model": "contact", "include_archived": "true"}):
        client.get("/data_attributes", params=params)
    a = client.post("/data_attributes", json={"name": "Mithril Shirt", "model": "contact", "data_type": "string"}).json()
    client.post("/data_attributes", json={"name": "tier", "model": "company", "data_type": "options",
                                          "options": [{"value": "1-10"}, {"value": "11-50"}],
                                          "description": "Size", "messenger_writable": True})
    client.put("/data_attributes/%d" % a["id"], json={"archived": True})
    client.get("/data_attributes", params={"include_archived": "true"})
    client.post("/data_attributes", json={"name": "!nv@l!d n@me", "model": "company", "data_type": "string"})
    client.post("/data_attributes", json={"name": "x", "model": "company", "data_type": "mithril"})
    client.put("/data_attributes/4242", json={"archived": True})
    client.close()
    assert checker.problems == []
    assert {("GET", "/data_attributes", 200), ("POST", "/data_attributes", 200), ("POST", "/data_attributes", 400),
            ("PUT", "/data_attributes/{data_attribute_id}", 200),
            ("PUT", "/data_attributes/{data_attribute_id}", 404)} <= checker.seen


def test_responses_conform_to_2_16_and_preview(emu: Emulator, spec214: Dict[str, Any], spec216: Dict[str, Any],
                                               spec_preview: Dict[str, Any]) -> None:
    for spec, version in ((spec216, "2.16"), (spec_preview, "Preview")):
        client, checker = checked_client(emu, spec, version)
        c = client.post("/contacts", json={"email": "v@%s.example.com" % version.lower(), "owner_id": "12",
                                           "phone": "+353 87 123 4567"}).json()
        assert c["owner_id"] == "12"
        client.put("/contacts/" + c["id"], json={"owner_id": 13})
        client.get("/contacts/" + c["id"])
        client.post("/contacts/search", json={"query": {"field": "id", "operator": "=", "value": c["id"]}})
        client.get("/data_attributes", params={"model": "contact"})
        client.get("/contacts/ffffffffffffffffffffffff")
        client.close()
        assert checker.problems == [], version
    # The 2.14 schema types owner_id as an integer, so the validator must reject a 2.16 rendering there.
    with make_client(emu, version="2.16") as client:
        body = client.get("/contacts/" + c["id"]).json()
    assert validate(body, response_schema(spec214, "get", "/contacts/{contact_id}", 200))


def test_bulk_responses_conform_to_preview(emu: Emulator, spec_preview: Dict[str, Any]) -> None:
    client, checker = checked_client(emu, spec_preview, "Preview")
    existing = emu.seed_contact(external_id="bulk-existing")
    job = client.post("/contacts/bulk", json={"contacts": [{"external_id": "b1", "email": "b1@example.com"},
                                                           {"external_id": "bulk-existing"}]}).json()
    client.post("/contacts/bulk", json={"contacts": [{"external_id": "b2"}], "job": {"id": job["id"]}})
    client.get("/contacts/bulk/" + job["id"])
    deadline = time.monotonic() + 5
    while client.get("/contacts/bulk/" + job["id"]).json()["state"] not in ("completed", "completed_with_errors"):
        assert time.monotonic() < deadline
        time.sleep(0.02)
    client.put("/contacts/bulk", json={"contacts": [{"id": existing["id"], "name": "N"}]})
    client.post("/contacts/bulk/delete", json={"contacts": [{"id": existing["id"]}]})
    client.post("/contacts/bulk", json={"contacts": [{"external_id": "late"}], "job": {"id": job["id"]}})   # 403
    client.post("/contacts/bulk", json={"contacts": [], "job": {"id": "job_v2_999"}})                        # 404
    client.post("/contacts/bulk", json={"contacts": "nope"})                                                 # 422
    client.put("/contacts/bulk", json={"contacts": [{"name": "no id"}]})                                     # 422
    client.get("/contacts/bulk/job_v2_999")                                                                  # 404
    client.close()
    assert checker.problems == []
    assert {("POST", "/contacts/bulk", 202), ("PUT", "/contacts/bulk", 202), ("POST", "/contacts/bulk/delete", 202),
            ("GET", "/contacts/bulk/{id}", 200), ("POST", "/contacts/bulk", 403), ("POST", "/contacts/bulk", 404),
            ("POST", "/contacts/bulk", 422), ("PUT", "/contacts/bulk", 422)} <= checker.seen


def _example_keys(spec: Dict[str, Any], method: str, path: str) -> Dict[str, Any]:
    content = spec["paths"][path][method]["responses"]["200"]["content"]["application/json"]
    return next(iter(content["examples"].values()))["value"]


def test_contact_fields_are_declared_or_in_intercoms_examples(emu: Emulator, spec214: Dict[str, Any]) -> None:
    schema = spec214["components"]["schemas"]["contact"]["properties"]
    example = _example_keys(spec214, "post", "/contacts")
    with make_client(emu) as client:
        c = client.post("/contacts", json={"email": "keys@example.com", "avatar": "https://x/y.png"}).json()
    assert set(c) <= set(schema) | set(example) | {"enabled_push_messaging"}, set(c) - set(schema) - set(example)
    assert set(schema) <= set(c)  # and every declared field is rendered
    for nested in ("tags", "notes", "companies", "location", "social_profiles"):
        assert set(c[nested]) <= set(example[nested]), nested
    assert set(example) <= set(c)  # everything Intercom's own example answer carries


def _sdk_requests(emu: Emulator) -> None:
    sdk = Intercom(token=emu.token, base_url=emu.url, headers={"Intercom-Version": "2.14"})
    c = sdk.contacts.create(request=CreateContactRequestWithExternalId(
        external_id="r1", email="r1@example.com", name="R", phone="+1", avatar="https://x/y.png", signed_up_at=1,
        last_seen_at=2, owner_id=3, unsubscribed_from_emails=True, custom_attributes={"plan": "pro", "seats": 1}))
    sdk.contacts.create(request=CreateContactRequestWithEmail(email="r2@example.com", role="lead"))
    sdk.contacts.create(request=CreateContactRequestWithRole(role="user", name="Anon"))
    sdk.contacts.update(contact_id=c.id, name=None, email="r1b@example.com", custom_attributes={"plan": None})
    sdk.contacts.search(query=SingleFilterSearchRequest(field="external_id", operator="IN", value=["r1", "r2"]),
                        pagination=StartingAfterPaging(per_page=1))
    page = sdk.contacts.search(query=MultipleFilterSearchRequest(operator="AND", value=[
        MultipleFilterSearchRequest(operator="OR", value=[
            SingleFilterSearchRequest(field="role", operator="=", value="user"),
            SingleFilterSearchRequest(field="role", operator="=", value="lead")]),
        MultipleFilterSearchRequest(operator="AND", value=[
            SingleFilterSearchRequest(field="created_at", operator=">", value=1)])]),
        pagination=StartingAfterPaging(per_page=1))
    sdk.contacts.search(query=SingleFilterSearchRequest(field="role", operator="=", value="user"),
                        pagination=StartingAfterPaging(per_page=1,
                                                       starting_after=page.response.pages.next.starting_after))
    sdk.data_attributes.create(request=CreateDataAttributeRequestOne(data_type="string", name="one", model="contact",
                                                                      description="d", messenger_writable=False))
    created = sdk.data_attributes.create(request=CreateDataAttributeRequestOptions(
        data_type="options", name="two", model="company", options=[{"value": "a"}, {"value": "b"}]))
    sdk.data_attributes.update(data_attribute_id=created.id, request={"archived": True})


def test_sdk_request_bodies_conform_to_2_14(emu: Emulator, spec214: Dict[str, Any]) -> None:
    _sdk_requests(emu)
    problems = []
    checked = set()
    for record in emu.requests:
        assert record.status < 400, (record.endpoint, record.status, record.body)
        template = find_operation(spec214, record.method, record.path)
        schema = request_schema(spec214, record.method, template)  # type: ignore[arg-type]
        if schema is None:
            assert record.body is None, record.endpoint
            continue
        problems += ["%s: %s" % (record.endpoint, p) for p in validate(record.body, schema)]
        checked.add(record.endpoint)
    assert problems == []
    assert checked == {"POST /contacts", "PUT /contacts/{id}", "POST /contacts/search", "POST /data_attributes",
                       "PUT /data_attributes/{id}"}


def test_the_validator_is_not_vacuous(spec214: Dict[str, Any]) -> None:
    good = {"type": "error.list", "request_id": None, "errors": [{"code": "x", "message": None}]}
    error = component_schema(spec214, "error")
    assert validate(good, error) == []
    assert validate({"type": "error.list"}, error)
    assert validate({"type": "error.list", "errors": [{"message": "no code"}]}, error)
    contact = _example_keys(spec214, "post", "/contacts")
    schema = response_schema(spec214, "post", "/contacts", 200)
    assert validate(contact, schema) == []
    for field, value in (("owner_id", "12"), ("created_at", "yesterday"), ("tags", []), ("avatar", "https://x"),
                         ("custom_attributes", None)):
        broken = copy.deepcopy(contact)
        broken[field] = value
        assert validate(broken, schema), field
    search = request_schema(spec214, "post", "/contacts/search")
    assert validate({"query": {"field": "email", "operator": "=", "value": "a"}}, search) == []
    assert validate({"query": {"field": "email", "operator": "LIKE", "value": "a"}}, search)
    assert validate({"pagination": {"per_page": 5}}, search)
    create = request_schema(spec214, "post", "/contacts")
    assert validate({"name": "no identity"}, create)
    assert response_schema(spec214, "post", "/contacts", 409) is None


def test_nullable_conversion() -> None:
    assert to_json_schema({"type": "string", "nullable": True, "example": "x"}) == {"type": ["string", "null"]}
    assert to_json_schema({"type": "string", "enum": ["a"], "nullable": True}) == {"type": ["string", "null"],
                                                                                    "enum": ["a", None]}
    assert to_json_schema({"oneOf": [{"type": "string"}], "nullable": True}) == {
        "anyOf": [{"oneOf": [{"type": "string"}]}, {"type": "null"}]}
    assert to_json_schema({"$ref": "#/components/schemas/contact", "x-fern": 1}) == {"$ref": "#/definitions/contact"}
    converted: Optional[Dict[str, Any]] = to_json_schema({"properties": {"type": {"type": "string"}}})
    assert converted == {"properties": {"type": {"type": "string"}}}


def test_find_operation(spec214: Dict[str, Any]) -> None:
    assert find_operation(spec214, "GET", "/contacts/abc") == "/contacts/{contact_id}"
    assert find_operation(spec214, "POST", "/contacts/search") == "/contacts/search"
    assert find_operation(spec214, "POST", "/contacts/abc/archive") == "/contacts/{contact_id}/archive"
    assert find_operation(spec214, "GET", "/contacts/find_by_external_id/x?y=1") == \
        "/contacts/find_by_external_id/{external_id}"
    assert find_operation(spec214, "PATCH", "/contacts/abc") is None


def test_lifecycle_admin_and_error_responses_conform_to_2_14(emu: Emulator, spec214: Dict[str, Any]) -> None:
    client, checker = checked_client(emu, spec214, "2.14")
    user = client.post("/contacts", json={"external_id": "lc-1", "email": "lc@example.com"}).json()
    lead = client.post("/contacts", json={"role": "lead", "email": "lc@example.com"}).json()
    client.get("/admins")                                                                   # 200
    client.get("/admins/" + ADMIN_ID)                                                       # 200
    client.get("/admins/4242")                                                              # 404
    client.post("/contacts/merge", json={"from": lead["id"], "into": user["id"]})           # 200
    client.get("/contacts/" + lead["id"])                                                   # 404 before 2.16
    client.post("/contacts", json={"email": "o@example.com", "owner_id": 4242})             # 400 owner
    client.put("/contacts/" + user["id"], json={"role": "lead"})                            # 400 client_error
    client.delete("/contacts/" + user["id"])
    client.post("/contacts", json={"external_id": "lc-1"})                                  # 409 archived
    client.post("/contacts/%s/unarchive" % user["id"])                                      # 400 not restorable
    emu.fail_next(1, status=403, code="api_plan_restricted", message="Active subscription needed.")
    client.get("/contacts")                                                                 # 403
    client.close()
    assert checker.problems == []
    assert {("GET", "/admins", 200), ("GET", "/admins/{admin_id}", 200), ("GET", "/admins/{admin_id}", 404),
            ("POST", "/contacts/merge", 200), ("GET", "/contacts/{contact_id}", 404), ("POST", "/contacts", 400),
            ("PUT", "/contacts/{contact_id}", 400), ("POST", "/contacts", 409),
            ("POST", "/contacts/{contact_id}/unarchive", 400), ("GET", "/contacts", 403)} <= checker.seen


def test_merged_contacts_conform_to_2_16_and_preview(emu: Emulator, spec216: Dict[str, Any],
                                                     spec_preview: Dict[str, Any]) -> None:
    for spec, version in ((spec216, "2.16"), (spec_preview, "Preview")):
        client, checker = checked_client(emu, spec, version)
        email = "m@%s.example.com" % version.lower()
        user = client.post("/contacts", json={"external_id": "mu-" + version, "email": email}).json()
        lead = client.post("/contacts", json={"role": "lead", "email": "other-" + email}).json()
        client.post("/contacts/merge", json={"from": lead["id"], "into": user["id"]})      # 400 not duplicates
        client.post("/contacts/merge", json={"from": lead["id"], "into": user["id"],
                                             "skip_duplicate_validation": True})             # 200
        client.get("/contacts/" + lead["id"])                                                # 410
        client.put("/contacts/" + lead["id"], json={"name": "x"})                            # 410 (error schema)
        emu.merge_contacts(user["id"], emu.seed_contact(external_id="canon-" + version)["id"])
        client.get("/contacts/find_by_external_id/mu-" + version)                            # 410
        client.get("/admins")
        client.close()
        assert checker.problems == [], version
        one = "/contacts/{id}" if version == "Preview" else "/contacts/{contact_id}"  # the specs name it apart
        assert {("POST", "/contacts/merge", 200), ("POST", "/contacts/merge", 400),
                ("GET", one, 410), ("PUT", one, 410),
                ("GET", "/contacts/find_by_external_id/{external_id}", 410),
                ("GET", "/admins", 200)} <= checker.seen, version


def test_merge_request_bodies_conform(spec214: Dict[str, Any], spec216: Dict[str, Any]) -> None:
    assert validate({"from": "a", "into": "b"}, request_schema(spec214, "post", "/contacts/merge")) == []
    body = {"from": "a", "into": "b", "skip_duplicate_validation": True}
    assert validate(body, request_schema(spec216, "post", "/contacts/merge")) == []


# ---- companies, tags and data events --------------------------------------------------------------------

def _wait_job(client: httpx.Client, path: str) -> None:
    deadline = time.monotonic() + 5
    while client.get(path).json()["state"] not in ("completed", "completed_with_errors"):
        assert time.monotonic() < deadline
        time.sleep(0.02)


def _next_is_a_url(problems: List[str]) -> Tuple[List[str], List[str]]:
    """Split off the one known deviation: company lists name their next page by URL (see the README)."""
    deviations = [p for p in problems if ": pages/next: " in p and "is not of type" in p]
    return [p for p in problems if p not in deviations], deviations


def _company_flow(emu: Emulator, client: httpx.Client, spec: Dict[str, Any], version: str) -> Dict[str, Any]:
    """Every company endpoint with successes and errors; company custom attributes are strings, since the
    schema types their values as strings."""
    tag = version.lower()
    user = emu.seed_contact(external_id="cu-" + tag, email="cu-%s@example.com" % tag)
    body = {"company_id": "co-" + tag, "name": "Co", "plan": "Pro", "size": 10, "website": "https://co.test",
            "industry": "Tea", "remote_created_at": 1374138000, "monthly_spend": 155.98,
            "custom_attributes": {"tier": "gold"}}
    if version != "2.14":
        body["update_last_request_at"] = True
    c = client.post("/companies", json=body).json()
    client.post("/companies", json={"company_id": "co-" + tag, "industry": "Coffee"})          # update
    client.post("/companies", json={"company_id": "lonely-" + tag})                           # no users
    client.put("/companies/" + c["id"], json={"name": "Co 2", "monthly_spend": 3})
    client.get("/companies/" + c["id"])
    # A lookup answers one company, where the operation declares company_list (Intercom's SDK generator
    # overrides it to company or company_list): checked against the company schema here.
    with make_client(emu, version=version) as plain:
        for params in ({"company_id": "co-" + tag}, {"name": "Co 2"}):
            found = plain.get("/companies", params=params).json()
            assert validate(found, component_schema(spec, "company")) == [], params
    client.post("/contacts/%s/companies" % user["id"], json={"id": c["id"]})
    client.get("/contacts/%s/companies" % user["id"])
    client.get("/companies/%s/contacts" % c["id"])
    client.get("/contacts/" + user["id"])                                                     # embeds the company
    client.get("/companies")
    client.get("/companies", params={"per_page": 5, "page": 1})
    client.post("/companies/list")
    scroll = client.get("/companies/scroll").json()
    client.get("/companies/scroll", params={"scroll_param": scroll["scroll_param"]})           # the empty end
    client.delete("/contacts/%s/companies/%s" % (user["id"], c["id"]))
    client.post("/contacts/%s/companies" % user["id"], json={"id": c["id"]})
    # Errors, documented or not, must be well-formed error lists.
    client.post("/companies", json={"company_id": "x-" + tag, "monthly_spend": 2147483648})   # 400
    client.post("/companies", json={"company_id": "x-" + tag, "custom_attributes": {"nope": "1"}})  # 400
    client.get("/companies", params={"company_id": "nope"})                                   # 404
    client.get("/companies/ffffffffffffffffffffffff")                                         # 404
    client.put("/companies/ffffffffffffffffffffffff", json={"name": "x"})                     # 404
    client.post("/contacts/%s/companies" % user["id"])                                        # 400 not specified
    client.post("/contacts/%s/companies" % user["id"], json={"id": "nope"})                   # 404 company
    client.post("/contacts/ffffffffffffffffffffffff/companies", json={"id": c["id"]})         # 404 user
    client.get("/contacts/ffffffffffffffffffffffff/companies")                                # 404 user
    client.delete("/contacts/%s/companies/nope" % user["id"])                                 # 404 company
    client.get("/companies/scroll", params={"scroll_param": "expired"})                       # 404
    emu.company_race_next()
    client.post("/companies", json={"company_id": "race-" + tag})                              # 400 race
    gone = client.post("/companies", json={"company_id": "gone-" + tag}).json()
    client.delete("/companies/" + gone["id"])
    client.delete("/companies/" + gone["id"])                                                 # 404
    return c


def _company_expectations(checker: ResponseChecker) -> None:
    want = {("POST", "/companies", 200), ("PUT", "/companies/{id}", 200), ("GET", "/companies/{id}", 200),
            ("GET", "/companies", 200), ("POST", "/companies/list", 200), ("GET", "/companies/scroll", 200),
            ("DELETE", "/companies/{id}", 200), ("GET", "/companies/{id}/contacts", 200),
            ("POST", "/contacts/{id}/companies", 200), ("GET", "/contacts/{id}/companies", 200),
            ("DELETE", "/contacts/{contact_id}/companies/{id}", 200), ("POST", "/companies", 400),
            ("GET", "/companies", 404), ("GET", "/companies/{id}", 404), ("PUT", "/companies/{id}", 404),
            ("POST", "/contacts/{id}/companies", 400), ("POST", "/contacts/{id}/companies", 404),
            ("GET", "/contacts/{id}/companies", 404), ("DELETE", "/contacts/{contact_id}/companies/{id}", 404),
            ("GET", "/companies/scroll", 404), ("DELETE", "/companies/{id}", 404)}
    # The stable files spell the path parameters after the object (company_id, contact_id): map the names.
    seen = {(m, _generic(t), s) for m, t, s in checker.seen}
    assert want <= seen, sorted(want - seen)


def _generic(template: str) -> str:
    parts = template.split("/")
    if len(parts) == 5 and parts[1] == "contacts":
        return "/contacts/{contact_id}/%s/{id}" % parts[3]
    return "/".join("{id}" if p.startswith("{") else p for p in parts)


@pytest.mark.parametrize("version", ["2.14", "2.16", "Preview"])
def test_company_responses_conform(emu: Emulator, spec214: Dict[str, Any], spec216: Dict[str, Any],
                                   spec_preview: Dict[str, Any], version: str) -> None:
    spec = {"2.14": spec214, "2.16": spec216, "Preview": spec_preview}[version]
    emu.seed_data_attribute("tier", "string", model="company")
    client, checker = checked_client(emu, spec, version)
    _company_flow(emu, client, spec, version)
    client.close()
    assert checker.problems == []
    _company_expectations(checker)


def test_company_list_next_is_a_url_not_starting_after_paging(emu: Emulator, spec214: Dict[str, Any]) -> None:
    """The one deliberate deviation: a further page of a company list is named by URL (Intercom's SDK generator
    overrides company_list.pages.next to a string), which the 2.x schema's starting_after_paging rejects."""
    user = emu.seed_contact(external_id="many")
    emu.seed_companies({"company_id": "m%d" % i, "contact_ids": [user["id"]]} for i in range(3))
    client, checker = checked_client(emu, spec214, "2.14")
    client.get("/companies", params={"per_page": 2})
    client.post("/companies/list", params={"per_page": 2})
    client.get("/companies", params={"per_page": 2, "page": 2})
    client.close()
    others, deviations = _next_is_a_url(checker.problems)
    assert others == [] and len(deviations) == 2, checker.problems


def test_company_custom_attribute_values_are_typed_as_strings(emu: Emulator, spec214: Dict[str, Any]) -> None:
    """The schema types company custom attribute values as strings although its own example holds a boolean
    and numbers; the emulator answers stored values as they are, so only string values conform."""
    emu.seed_data_attribute("headcount", "integer", model="company")
    with make_client(emu) as client:
        body = client.post("/companies", json={"company_id": "typed", "custom_attributes": {"headcount": 3}}).json()
    problems = validate(body, response_schema(spec214, "post", "/companies", 200))
    assert len(problems) == 1 and problems[0].startswith("custom_attributes/headcount")


def test_contact_with_companies_and_tags_conforms(emu: Emulator, spec214: Dict[str, Any],
                                                  spec216: Dict[str, Any], spec_preview: Dict[str, Any]) -> None:
    user = emu.seed_contact(external_id="rich")
    for i in range(11):
        emu.seed_company(company_id="rc%d" % i, contact_ids=[user["id"]])
        emu.seed_tag("rt%d" % i, contact_ids=[user["id"]])
    for spec, version in ((spec214, "2.14"), (spec216, "2.16"), (spec_preview, "Preview")):
        client, checker = checked_client(emu, spec, version)
        c = client.get("/contacts/" + user["id"]).json()
        assert c["companies"]["has_more"] is True and len(c["tags"]["data"]) == 10
        client.post("/contacts/search", json={"query": {"field": "id", "operator": "=", "value": user["id"]}})
        client.get("/contacts/%s/companies" % user["id"])
        client.get("/contacts/%s/tags" % user["id"])
        client.close()
        assert checker.problems == [], version


def _tag_flow(emu: Emulator, client: httpx.Client, version: str) -> None:
    tag = version.lower()
    user = emu.seed_contact(external_id="tu-" + tag)
    company = emu.seed_company(company_id="tc-" + tag)
    t = client.post("/tags", json={"name": "T " + tag}).json()
    client.post("/tags", json={"id": t["id"], "name": "T2 " + tag})
    client.post("/tags", json={"name": "T2 " + tag, "users": [{"id": user["id"]}]})
    client.post("/tags", json={"name": "T2 " + tag, "companies": [{"id": company["id"]}, {"company_id": "tc-" + tag}]})
    client.post("/tags", json={"name": "T2 " + tag, "companies": [{"company_id": "tc-" + tag, "untag": True}]})
    client.get("/tags")
    client.get("/tags/" + t["id"])
    client.post("/contacts/%s/tags" % user["id"], json={"id": t["id"]})
    client.get("/contacts/%s/tags" % user["id"])
    client.delete("/contacts/%s/tags/%s" % (user["id"], t["id"]))
    client.get("/companies/" + company["id"])
    client.post("/tags", json={"test": "invalid"})                                            # 400
    client.post("/tags", json={"name": "x", "users": [{"id": "nope"}]})                       # 404 in 2.14 only
    client.post("/tags", json={"name": "x", "companies": [{"company_id": "nope"}]})           # 404 in 2.14 only
    client.get("/tags/999999")                                                                # 404
    client.post("/contacts/%s/tags" % user["id"], json={"id": "999999"})                      # 404 tag
    client.post("/contacts/ffffffffffffffffffffffff/tags", json={"id": t["id"]})              # 404 user
    client.delete("/contacts/%s/tags/999999" % user["id"])                                    # 404 tag
    client.delete("/tags/" + t["id"])
    client.delete("/tags/" + t["id"])                                                         # 404


@pytest.mark.parametrize("version", ["2.14", "2.16", "Preview"])
def test_tag_responses_conform(emu: Emulator, spec214: Dict[str, Any], spec216: Dict[str, Any],
                               spec_preview: Dict[str, Any], version: str) -> None:
    spec = {"2.14": spec214, "2.16": spec216, "Preview": spec_preview}[version]
    client, checker = checked_client(emu, spec, version)
    _tag_flow(emu, client, version)
    client.close()
    assert checker.problems == []
    seen = {(m, _generic(t), s) for m, t, s in checker.seen}
    want = {("POST", "/tags", 200), ("GET", "/tags", 200), ("GET", "/tags/{id}", 200), ("DELETE", "/tags/{id}", 200),
            ("POST", "/contacts/{id}/tags", 200), ("GET", "/contacts/{id}/tags", 200),
            ("DELETE", "/contacts/{contact_id}/tags/{id}", 200), ("POST", "/tags", 400), ("GET", "/tags/{id}", 404),
            ("DELETE", "/tags/{id}", 404), ("POST", "/contacts/{id}/tags", 404),
            ("DELETE", "/contacts/{contact_id}/tags/{id}", 404)}
    if version == "2.14":
        want.add(("POST", "/tags", 404))
    assert want <= seen, sorted(want - seen)


@pytest.mark.parametrize("version", ["2.14", "2.16", "Preview"])
def test_event_responses_conform(emu: Emulator, spec214: Dict[str, Any], spec216: Dict[str, Any],
                                 spec_preview: Dict[str, Any], version: str) -> None:
    spec = {"2.14": spec214, "2.16": spec216, "Preview": spec_preview}[version]
    tag = version.lower()
    user = emu.seed_contact(external_id="eu-" + tag, email="eu-%s@example.com" % tag)
    client, checker = checked_client(emu, spec, version)
    now = int(time.time())
    # String metadata only: the stable schemas type metadata values as strings, though the endpoint's own
    # description lists numbers, rich links and monetary amounts (which the emulator accepts).
    client.post("/events", json={"event_name": "e", "created_at": now, "user_id": "eu-" + tag,
                                 "metadata": {"invite_code": "ADDAFRIEND"}})
    client.post("/events", json={"event_name": "e", "created_at": now, "user_id": "eu-" + tag})  # duplicate
    client.post("/events", json={"event_name": "e", "created_at": now, "user_id": "nobody"})     # 404
    client.post("/events", json={"event_name": "e", "user_id": "eu-" + tag})                     # 400
    client.get("/events", params={"type": "user", "user_id": "eu-" + tag, "summary": "true"})
    client.close()
    assert checker.problems == []
    assert {("POST", "/events", 202), ("POST", "/events", 404), ("POST", "/events", 400),
            ("GET", "/events", 200)} <= checker.seen
    # A plain listing answers the spec's data_event_list component; the operation declares only the summary.
    with make_client(emu, version=version) as plain:
        listed = plain.get("/events", params={"type": "user", "intercom_user_id": user["id"]}).json()
    assert listed["events"] and validate(listed, component_schema(spec, "data_event_list")) == []


def test_company_bulk_responses_conform_to_preview(emu: Emulator, spec_preview: Dict[str, Any]) -> None:
    client, checker = checked_client(emu, spec_preview, "Preview")
    existing = emu.seed_company(company_id="bulk-existing")
    job = client.post("/companies/bulk", json={"companies": [{"company_id": "bc1", "name": "B"},
                                                             {"company_id": "bulk-existing"}]}).json()
    client.post("/companies/bulk", json={"companies": [{"company_id": "bc2"}], "job": {"id": job["id"]}})
    _wait_job(client, "/companies/bulk/" + job["id"])
    client.put("/companies/bulk", json={"companies": [{"id": existing["id"], "name": "N"}]})
    client.post("/companies/bulk/delete", json={"companies": [{"id": existing["id"]}]})
    client.post("/companies/bulk", json={"companies": [{"company_id": "late"}], "job": {"id": job["id"]}})  # 403
    client.post("/companies/bulk", json={"companies": [], "job": {"id": "job_v2_999"}})                  # 404
    client.post("/companies/bulk", json={"companies": "nope"})                                           # 422
    client.put("/companies/bulk", json={"companies": [{"name": "no id"}]})                               # 422
    client.post("/companies/bulk/delete", json={"companies": [{}]})                                      # 422
    client.get("/companies/bulk/job_v2_999")                                                             # 404
    client.close()
    assert checker.problems == []
    assert {("POST", "/companies/bulk", 202), ("PUT", "/companies/bulk", 202), ("POST", "/companies/bulk/delete", 202),
            ("GET", "/companies/bulk/{id}", 200), ("POST", "/companies/bulk", 403), ("POST", "/companies/bulk", 404),
            ("POST", "/companies/bulk", 422), ("PUT", "/companies/bulk", 422),
            ("POST", "/companies/bulk/delete", 422), ("GET", "/companies/bulk/{id}", 404)} <= checker.seen


def _sdk_object_requests(emu: Emulator) -> None:
    from intercom import CreateOrUpdateCompanyRequest, CreateOrUpdateTagRequest, TagCompanyRequest, \
        TagMultipleUsersRequest, UntagCompanyRequest
    from intercom.types import CreateDataEventRequestWithEmail, CreateDataEventRequestWithId, \
        CreateDataEventRequestWithUserId, TagCompanyRequestCompaniesItem, TagMultipleUsersRequestUsersItem, \
        UntagCompanyRequestCompaniesItem

    sdk = Intercom(token=emu.token, base_url=emu.url, headers={"Intercom-Version": "2.14"})
    user = emu.seed_contact(external_id="sdk-o", email="sdk-o@example.com")
    company = sdk.companies.create_or_update(request=CreateOrUpdateCompanyRequest(
        company_id="sdk-co", name="SDK", plan="Pro", size=3, website="https://x.test", industry="Tea",
        custom_attributes={"tier": "gold"}, remote_created_at=1, monthly_spend=5))
    sdk.companies.attach_contact(user["id"], company_id=company.id)
    tag = sdk.tags.create(request=CreateOrUpdateTagRequest(name="SDK tag"))
    sdk.tags.create(request=CreateOrUpdateTagRequest(id=tag.id, name="SDK tag 2"))
    sdk.tags.create(request=TagMultipleUsersRequest(name="SDK tag 2",
                                                    users=[TagMultipleUsersRequestUsersItem(id=user["id"])]))
    sdk.tags.create(request=TagCompanyRequest(name="SDK tag 2",
                                              companies=[TagCompanyRequestCompaniesItem(company_id="sdk-co")]))
    sdk.tags.create(request=UntagCompanyRequest(name="SDK tag 2", companies=[
        UntagCompanyRequestCompaniesItem(id=company.id, untag=True)]))
    sdk.tags.tag_contact(user["id"], tag_id=tag.id)
    now = int(time.time())
    sdk.events.create(request=CreateDataEventRequestWithUserId(event_name="e", created_at=now, user_id="sdk-o",
                                                               metadata={"a": "b"}))
    sdk.events.create(request=CreateDataEventRequestWithId(event_name="e", created_at=now + 1, id=user["id"]))
    sdk.events.create(request=CreateDataEventRequestWithEmail(event_name="e", created_at=now + 2,
                                                              email="sdk-o@example.com"))


# POST /tags declares oneOf four payloads that overlap ({name, users} also matches {id?, name}), so each body is
# checked against the payload its keys name.
_TAG_PAYLOADS = {"users": "tag_multiple_users_request", "companies": "tag_company_request"}


def test_sdk_object_request_bodies_conform_to_2_14(emu: Emulator, spec214: Dict[str, Any]) -> None:
    emu.seed_data_attribute("tier", "string", model="company")
    _sdk_object_requests(emu)
    problems = []
    checked = set()
    for record in emu.requests:
        assert record.status < 400, (record.endpoint, record.status, record.body)
        template = find_operation(spec214, record.method, record.path)
        if record.endpoint == "POST /tags":
            kind = next((k for k in _TAG_PAYLOADS if k in record.body), None)
            name = _TAG_PAYLOADS[kind] if kind else "create_or_update_tag_request"
            if kind == "companies" and any(c.get("untag") for c in record.body["companies"]):
                name = "untag_company_request"
            schema = component_schema(spec214, name)
        else:
            schema = request_schema(spec214, record.method, template)  # type: ignore[arg-type]
        if schema is None:
            assert record.body is None, record.endpoint
            continue
        problems += ["%s: %s" % (record.endpoint, p) for p in validate(record.body, schema)]
        checked.add(record.endpoint)
    assert problems == []
    assert checked == {"POST /companies", "POST /contacts/{id}/companies", "POST /tags", "POST /contacts/{id}/tags",
                       "POST /events"}
