"""Benchmark data: the Singer input for N users and the emulator seed for each workload.

User i (0-based) always has the same identifiers, user_id ``u0000042`` and email
``user0000042@example.com``; the values its RECORD carries depend only on i. The
stream's SCHEMA has user_id, email and name (core fields) and five custom
attributes, one of each type a tap sends:

    plan       string                      -> Intercom string
    seats      integer                     -> Intercom integer
    mrr        number                      -> Intercom float
    active     boolean                     -> Intercom boolean
    renews_at  string, format date-time    -> Intercom date (Unix seconds)

Workloads (what the emulator holds before the run):

    new        nothing but the five custom data attributes
    changed    every user, holding the record's values except one: user i differs in
               field i % 6 (name, plan, seats, mrr, active, renews_at), so every
               user needs a write and every type's comparison is exercised
    unchanged  every user, holding exactly the record's values (custom attributes
               typed, the date-time as Unix seconds): no write is needed

The five custom data attributes are seeded in every workload, so neither
contestant spends calls creating them.

Run as a script to write files by hand:

    python bench/workloads.py singer 6000 > users.jsonl
    python bench/workloads.py seed changed 6000 > seed.json   # for --seed or POST /_emulator/seed
"""

from __future__ import annotations

import json
import sys
from datetime import datetime, timezone
from typing import Any, Dict, Iterator, List

STREAM = "users"
WORKLOADS = ("new", "changed", "unchanged")
STATE_EVERY = 1000

SCHEMA: Dict[str, Any] = {
    "type": "object",
    "properties": {
        "user_id": {"type": "string"},
        "email": {"type": ["null", "string"]},
        "name": {"type": ["null", "string"]},
        "plan": {"type": ["null", "string"]},
        "seats": {"type": ["null", "integer"]},
        "mrr": {"type": ["null", "number"]},
        "active": {"type": ["null", "boolean"]},
        "renews_at": {"type": ["null", "string"], "format": "date-time"},
    },
}

# The custom data attributes as Intercom types them (what the target would create from the SCHEMA).
DATA_ATTRIBUTES: List[Dict[str, str]] = [
    {"name": "plan", "data_type": "string"},
    {"name": "seats", "data_type": "integer"},
    {"name": "mrr", "data_type": "float"},
    {"name": "active", "data_type": "boolean"},
    {"name": "renews_at", "data_type": "date"},
]
CUSTOM = [attribute["name"] for attribute in DATA_ATTRIBUTES]
# In the changed workload, user i holds a stale value of field CHANGED_FIELDS[i % 6].
CHANGED_FIELDS = ("name",) + tuple(CUSTOM)

_PLANS = ("free", "starter", "team", "business", "enterprise")
_RENEWALS_FROM = 1_767_225_600  # 2026-01-01T00:00:00Z
_YEAR = 365 * 86_400


def user_id(i: int) -> str:
    return "u%07d" % i


def email(i: int) -> str:
    return "user%07d@example.com" % i


def values(i: int) -> Dict[str, Any]:
    """User i's values as Intercom holds them (custom attributes typed, the date as Unix seconds)."""
    return {
        "name": "Bench User %d" % i,
        "plan": _PLANS[i % len(_PLANS)],
        "seats": 1 + (i * 7) % 500,
        "mrr": ((i * 3_701) % 1_000_000) / 100.0,  # 0.00 .. 9999.99, two decimals
        "active": i % 2 == 0,
        "renews_at": _RENEWALS_FROM + (i * 3_607) % _YEAR,
    }


def stale_values(i: int) -> Dict[str, Any]:
    """What the changed workload seeds: the values with field i % 6 made different."""
    held = values(i)
    name = CHANGED_FIELDS[i % len(CHANGED_FIELDS)]
    held[name] = {
        "name": held["name"] + " (old)",
        "plan": _PLANS[(i + 1) % len(_PLANS)],
        "seats": held["seats"] + 1,
        "mrr": round(held["mrr"] + 1.25, 2),
        "active": not held["active"],
        "renews_at": held["renews_at"] - 86_400,
    }[name]
    return held


def iso8601(unix_seconds: int) -> str:
    return datetime.fromtimestamp(unix_seconds, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def record(i: int) -> Dict[str, Any]:
    """The RECORD's record for user i (the date-time as ISO 8601 text, as a tap sends it)."""
    v = values(i)
    return {
        "user_id": user_id(i),
        "email": email(i),
        "name": v["name"],
        "plan": v["plan"],
        "seats": v["seats"],
        "mrr": v["mrr"],
        "active": v["active"],
        "renews_at": iso8601(v["renews_at"]),
    }


def state_value(records_sent: int) -> Dict[str, Any]:
    return {"bookmarks": {STREAM: {"last_user_id": user_id(records_sent - 1), "records": records_sent}}}


def final_state(n: int) -> Dict[str, Any]:
    """The last STATE value of the input for n users (what a target must confirm last)."""
    return state_value(n)


def singer_messages(n: int) -> Iterator[Dict[str, Any]]:
    """SCHEMA, then n RECORDs with a STATE after every 1,000th (and after the last one)."""
    yield {"type": "SCHEMA", "stream": STREAM, "schema": SCHEMA, "key_properties": ["user_id"]}
    for i in range(n):
        yield {"type": "RECORD", "stream": STREAM, "record": record(i)}
        if (i + 1) % STATE_EVERY == 0 or i + 1 == n:
            yield {"type": "STATE", "value": state_value(i + 1)}


def singer_lines(n: int) -> Iterator[str]:
    """The Singer input as text lines, generated lazily (nothing is held in memory)."""
    dumps = json.JSONEncoder(separators=(",", ":")).encode
    for message in singer_messages(n):
        yield dumps(message) + "\n"


def write_singer_input(path: str, n: int) -> None:
    with open(path, "w", encoding="utf-8") as out:
        for line in singer_lines(n):
            out.write(line)


def contact(i: int, held: Dict[str, Any]) -> Dict[str, Any]:
    """User i as an Intercom contact holding `held` (values as `values` returns them)."""
    return {
        "external_id": user_id(i),
        "email": email(i),
        "role": "user",
        "name": held["name"],
        "custom_attributes": {name: held[name] for name in CUSTOM},
    }


def seed_contact(i: int, workload: str) -> Dict[str, Any]:
    return contact(i, values(i) if workload == "unchanged" else stale_values(i))


def seed_contacts(n: int, workload: str, start: int = 0) -> Iterator[Dict[str, Any]]:
    """The contacts the emulator holds before the run (none for the new workload)."""
    if workload not in WORKLOADS:
        raise ValueError("workload must be one of %s" % ", ".join(WORKLOADS))
    if workload == "new":
        return
    for i in range(start, n):
        yield seed_contact(i, workload)


def seed_body(n: int, workload: str) -> Dict[str, Any]:
    """The body of POST /_emulator/seed (also the --seed file format) for a workload."""
    return {"data_attributes": DATA_ATTRIBUTES, "contacts": list(seed_contacts(n, workload)), "visible": True}


def expected_contact(i: int) -> Dict[str, Any]:
    """What Intercom must hold for user i after a correct run of any workload."""
    return contact(i, values(i))


def same_value(held: Any, wanted: Any) -> bool:
    """Whether Intercom holds the wanted value, with its type (a float may come back as an equal integer)."""
    if isinstance(held, bool) or isinstance(wanted, bool):
        return held is wanted
    if isinstance(wanted, float):
        return isinstance(held, (int, float)) and held == wanted
    return type(held) is type(wanted) and held == wanted


def check_contacts(contacts: List[Dict[str, Any]], n: int) -> Dict[str, Any]:
    """Compare the emulator's contacts with what n users must look like after the run.

    Every contact is checked (not a sample): count, one contact per user, and
    external_id, email, role, name and the five custom attributes with their types.
    """
    by_external_id: Dict[str, Dict[str, Any]] = {}
    duplicates = 0
    for contact in contacts:
        key = contact.get("external_id")
        if key in by_external_id:
            duplicates += 1
        by_external_id[key] = contact
    problems: List[str] = []
    ok = 0
    for i in range(n):
        wanted = expected_contact(i)
        held = by_external_id.get(wanted["external_id"])
        if held is None:
            problems.append("%s: missing" % wanted["external_id"])
            continue
        wrong = [field for field in ("email", "role", "name") if held.get(field) != wanted[field]]
        custom = held.get("custom_attributes") or {}
        wrong += ["custom_attributes.%s (%r, wanted %r)" % (name, custom.get(name), value)
                  for name, value in wanted["custom_attributes"].items() if not same_value(custom.get(name), value)]
        if wrong:
            problems.append("%s: %s" % (wanted["external_id"], ", ".join(wrong)))
        else:
            ok += 1
    extra = len(contacts) - n
    return {
        "contacts": len(contacts),
        "expected": n,
        "ok": ok,
        "duplicates": duplicates,
        "problems": problems[:5],
        "problem_count": len(problems),
        "all_ok": ok == n and extra == 0 and duplicates == 0,
    }


def main(argv: List[str]) -> int:
    if len(argv) == 2 and argv[0] == "singer":
        for line in singer_lines(int(argv[1])):
            sys.stdout.write(line)
        return 0
    if len(argv) == 3 and argv[0] == "seed" and argv[1] in WORKLOADS:
        json.dump(seed_body(int(argv[2]), argv[1]), sys.stdout)
        sys.stdout.write("\n")
        return 0
    sys.stderr.write("usage: workloads.py singer N | workloads.py seed {new,changed,unchanged} N\n")
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
