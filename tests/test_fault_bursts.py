"""Bursts of throttling and server errors on the writes themselves: retried, and every user written once.

A fault set with no endpoint filter lands on the first requests of a run, which
are searches; these bursts are aimed at the creates (POST /contacts) and at
the updates (PUT /contacts/{id}) instead.
"""

from __future__ import annotations

from typing import Any, Dict, List

import pytest

from tests.conftest import record, schema, state

CREATE = {"match_method": "POST", "match_path": r"^/contacts$"}
UPDATE = {"match_method": "PUT", "match_path": r"^/contacts/[^/]+$"}
WRITES = {"create": ("POST /contacts", CREATE), "update": ("PUT /contacts/{id}", UPDATE)}

BURST = 6
USERS = 30

BURSTS = {
    "429": dict(status=429, retry_after=0),
    "500": dict(status=500),
    "502": dict(status=502),
    "503 with an HTML body": dict(status=503, body="html"),
    "504": dict(status=504),
}


def messages() -> List[Dict[str, Any]]:
    out: List[Dict[str, Any]] = [schema()]
    for i in range(USERS):
        out.append(record({"user_id": f"u{i}", "email": f"u{i}@example.com", "name": f"User {i}", "plan": f"p{i}"}))
        if (i + 1) % 10 == 0:
            out.append(state({"offset": i + 1}))
    return out


@pytest.mark.parametrize("write", sorted(WRITES))
@pytest.mark.parametrize("burst", sorted(BURSTS))
def test_a_burst_of_failed_writes_is_retried_and_each_user_is_written_once(target, emulator, burst, write) -> None:
    endpoint, match = WRITES[write]
    if write == "update":
        emulator.seed_data_attribute("plan", "string")
        for i in range(USERS):
            emulator.seed_contact(
                external_id=f"u{i}", email=f"u{i}@example.com", name="Old", custom_attributes={"plan": "old"}
            )
    emulator.fail_next(BURST, **BURSTS[burst], **match)

    result = target.run(messages(), config={"batch_size": 10})

    assert result.returncode == 0, result
    assert emulator.faults()["faults"] == [], "the burst did not fire every time it was set to"
    failed = [r for r in emulator.requests if r.fault == "fail"]
    assert len(failed) == BURST and {r.endpoint for r in failed} == {endpoint}
    contacts = emulator.contacts()
    ids = [c["external_id"] for c in contacts]
    assert sorted(ids) == sorted(f"u{i}" for i in range(USERS)) and len(set(ids)) == len(ids)
    for c in contacts:
        i = int(c["external_id"][1:])
        assert (c["email"], c["name"], c["custom_attributes"]) == (f"u{i}@example.com", f"User {i}", {"plan": f"p{i}"})
    # Exactly one successful write per user, all of the kind the burst hit.
    succeeded = [r for r in emulator.requests if r.endpoint in ("POST /contacts", "PUT /contacts/{id}") and r.status == 200]
    assert sorted(r.endpoint for r in succeeded) == [endpoint] * USERS
    assert result.states == [{"offset": n} for n in (10, 20, 30)]
    assert f"{USERS} users read; created {USERS if write == 'create' else 0}, updated {USERS if write == 'update' else 0}," in result.stderr
