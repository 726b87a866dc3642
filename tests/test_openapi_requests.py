"""Every request the target sends conforms to Intercom's published OpenAPI description.

Needs the spec copies beside the repository (../shared/intercom-openapi) and PyYAML; skipped otherwise.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List

import pytest

from tests.conftest import record, schema, state

SPEC_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "intercom-openapi"
if not SPEC_DIR.is_dir():
    pytest.skip(f"Intercom's OpenAPI files are not available ({SPEC_DIR})", allow_module_level=True)
pytest.importorskip("yaml")

from intercom_emulator.openapi import find_operation, load_spec, request_schema, validate  # noqa: E402

PROPS = {
    "id": {"type": ["null", "string"]},
    "user_id": {},
    "email": {"type": ["null", "string"]},
    "name": {"type": ["null", "string"]},
    "phone": {},
    "avatar": {},
    "signed_up_at": {"type": "string", "format": "date-time"},
    "last_seen_at": {"type": "string", "format": "date-time"},
    "owner_id": {},
    "unsubscribed_from_emails": {},
    "plan": {"type": ["null", "string"]},
    "seats": {"type": "integer"},
    "renews_at": {"type": "string", "format": "date-time"},
    "address": {"type": "object", "properties": {"city": {"type": "string"}}},
}


def rich_record(i: int, **extra: Any) -> Dict[str, Any]:
    return record({
        "user_id": f"u{i}",
        "email": f"u{i}@example.com",
        "name": f"User {i}",
        "phone": "+353871234567",
        "avatar": "https://example.com/a.png",
        "signed_up_at": "2024-01-02T03:04:05Z",
        "last_seen_at": "2024-02-02T03:04:05Z",
        "owner_id": 42,
        "unsubscribed_from_emails": False,
        "plan": None if i % 3 == 0 else "pro",
        "seats": i,
        "renews_at": "2027-01-01T00:00:00Z",
        "address": {"city": "Dublin"},
        **extra,
    })


def violations(emulator, spec: Dict[str, Any], paths: List[str]) -> List[str]:
    problems = []
    checked = 0
    for request in emulator.requests:
        if request.body is None:
            continue
        template = find_operation(spec, request.method.lower(), request.path)
        assert template is not None, f"{request.method} {request.path} is not in the spec"
        if template not in paths:
            continue
        checked += 1
        for problem in validate(request.body, request_schema(spec, request.method.lower(), template)):
            problems.append(f"{request.method} {request.path}: {problem}")
    assert checked, "no request was checked"
    return problems


def test_contacts_mode_requests_conform_to_2_14(target, emulator) -> None:
    spec = load_spec(SPEC_DIR / "intercom-2.14.yaml")
    emulator.seed_admin(id=42)  # the records' owner_id must name an admin of the workspace
    for i in range(0, 10, 2):
        emulator.seed_contact(external_id=f"u{i}", email=f"u{i}@example.com", name="Old")
    messages = [schema("users", PROPS), *[rich_record(i) for i in range(10)], state(1)]
    result = target.run(messages)
    assert result.returncode == 0, result
    paths = ["/contacts", "/contacts/{contact_id}", "/contacts/search", "/data_attributes"]
    assert violations(emulator, spec, paths) == []
    assert {r.endpoint for r in emulator.requests} >= {
        "POST /contacts", "PUT /contacts/{id}", "POST /contacts/search", "POST /data_attributes",
    }


def test_bulk_mode_requests_conform_to_preview(target, emulator) -> None:
    spec = load_spec(SPEC_DIR / "intercom-preview.yaml")
    emulator.seed_admin(id=42)  # the records' owner_id must name an admin of the workspace
    for i in range(0, 10, 2):
        emulator.seed_contact(external_id=f"u{i}", email=f"u{i}@example.com", name="Old",
                              signed_up_at=1704164645, last_seen_at=1706843045)
    messages = [schema("users", PROPS), *[rich_record(i) for i in range(10)], state(1)]
    result = target.run(messages, config={"write_mode": "bulk"})
    assert result.returncode == 0, result
    assert violations(emulator, spec, ["/contacts/bulk"]) == []
    assert emulator.count("POST /contacts/bulk") == 1 and emulator.count("PUT /contacts/bulk") == 1


COMPANY_PROPS = {
    "company_id": {}, "name": {}, "plan": {}, "size": {"type": "integer"}, "website": {}, "industry": {},
    "monthly_spend": {"type": "number"}, "remote_created_at": {"type": "string", "format": "date-time"},
    "seats": {"type": "integer"}, "tier": {"type": "string"},
}


def company_records(count: int) -> List[Dict[str, Any]]:
    return [
        record({"company_id": f"c{i}", "name": f"Co {i}", "plan": "pro", "size": 10 + i, "website": "https://x.example",
                "industry": "Tools", "monthly_spend": 99.5, "remote_created_at": "2024-01-02T03:04:05Z",
                "seats": i, "tier": "gold"}, stream="companies")
        for i in range(count)
    ]


def typed_custom_attributes_aside(emulator) -> None:
    """The company schemas type custom attribute values as strings, though their own example (and the contacts
    API) sends typed values, which the target does too: check those values' names, then the rest of the body."""
    for request in emulator.requests:
        if request.endpoint == "POST /companies" and "custom_attributes" in request.body:
            assert set(request.body.pop("custom_attributes")) <= {"seats", "tier"}


def test_companies_requests_conform_to_2_14(target, emulator) -> None:
    spec = load_spec(SPEC_DIR / "intercom-2.14.yaml")
    users = [schema("users", {"user_id": {}, "email": {}, "companies": {}}),
             record({"user_id": "u1", "email": "u1@example.com", "companies": ["c0", {"company_id": "c1", "remove": True}]})]
    messages = [schema("companies", COMPANY_PROPS, key_properties=("company_id",)), *company_records(3), *users]
    result = target.run(messages, config={"companies_stream": "companies"})
    assert result.returncode == 0, result
    typed_custom_attributes_aside(emulator)
    paths = ["/companies", "/contacts/{contact_id}/companies", "/data_attributes"]
    assert violations(emulator, spec, paths) == []
    assert emulator.count("POST /contacts/{id}/companies") == 1


def test_bulk_companies_requests_conform_to_preview(target, emulator) -> None:
    spec = load_spec(SPEC_DIR / "intercom-preview.yaml")
    messages = [schema("companies", COMPANY_PROPS, key_properties=("company_id",)), *company_records(5), state(1)]
    result = target.run(messages, config={"users_stream": None, "companies_stream": "companies", "write_mode": "bulk"})
    assert result.returncode == 0, result
    assert violations(emulator, spec, ["/companies/bulk"]) == []
    assert emulator.count("POST /companies/bulk") == 1
