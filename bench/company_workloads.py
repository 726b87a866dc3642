"""Benchmark data for companies: the Singer input, the emulator seed and the checks, for each workload.

Company i (0-based) always has company_id ``c0000042`` and the same values. Its
record (stream ``companies``) has the core fields company_id, name, plan, size and
monthly_spend and four custom attributes, one of each other type a tap sends:

    primary_user_id  string                      -> Intercom string (user i's user_id)
    health_score     number                      -> Intercom float
    verified         boolean                     -> Intercom boolean
    renewal_at       string, format date-time    -> Intercom date (Unix seconds)

primary_user_id names the company's user, the contact a peer's "group" call
searches for before it attaches it (see companies_baseline.py); for
target-intercom it is one more custom attribute.

Users come from workloads.py (user i: ``u0000042``, its values there); in the
users workloads the users stream's SCHEMA adds ``companies``, a list of
company_ids, and user i names company ``i // users_per_company``.

Workloads (what the emulator holds before the run, and the stream):

    new          nothing but the data attributes;        companies 0..n-1
    changed      companies 0..n-1, each differing in one field (company i in field i % 7),
                 each with user i attached (so Intercom lists it);   companies 0..n-1
    unchanged    companies 0..n-1 holding the record's values, user i attached to each;
                 companies 0..n-1 (a full re-sync)
    incremental  as unchanged, except that m companies spread over the workspace differ
                 in one field;                             those m companies
    attached     users 0..u-1 holding their values, each attached to its company;
                 users 0..u-1 naming their company (and, for comparison, the same users
                 without the companies field)
    attach       as attached, but no user is attached to any company yet; the same users

The data attributes (the users' five, the companies' four) are seeded in every
workload, so no contestant spends calls creating them.

Run as a script to write files by hand:

    python bench/company_workloads.py singer unchanged 5000 > companies.jsonl
    python bench/company_workloads.py seed unchanged 5000 > seed.json   # for --seed or POST /_emulator/seed
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from typing import Any, Dict, Iterator, List, Optional, Sequence, Set

import workloads
from workloads import iso8601, same_value, user_id

STREAM = "companies"
USERS_STREAM = workloads.STREAM
COMPANY_WORKLOADS = ("new", "changed", "unchanged", "incremental")
USER_WORKLOADS = ("attached", "attach")
WORKLOADS = COMPANY_WORKLOADS + USER_WORKLOADS
STATE_EVERY = workloads.STATE_EVERY
# The field of a company record that names its user (for the baseline's search).
USER_FIELD = "primary_user_id"

SCHEMA: Dict[str, Any] = {
    "type": "object",
    "properties": {
        "company_id": {"type": "string"},
        "name": {"type": ["null", "string"]},
        "plan": {"type": ["null", "string"]},
        "size": {"type": ["null", "integer"]},
        "monthly_spend": {"type": ["null", "integer"]},
        USER_FIELD: {"type": ["null", "string"]},
        "health_score": {"type": ["null", "number"]},
        "verified": {"type": ["null", "boolean"]},
        "renewal_at": {"type": ["null", "string"], "format": "date-time"},
    },
}
CORE = ("name", "plan", "size", "monthly_spend")
DATA_ATTRIBUTES: List[Dict[str, str]] = [
    {"name": USER_FIELD, "data_type": "string", "model": "company"},
    {"name": "health_score", "data_type": "float", "model": "company"},
    {"name": "verified", "data_type": "boolean", "model": "company"},
    {"name": "renewal_at", "data_type": "date", "model": "company"},
]
CUSTOM = tuple(attribute["name"] for attribute in DATA_ATTRIBUTES)
# Every data attribute a workload seeds: the users' (workloads.py) and the companies'.
ALL_DATA_ATTRIBUTES = workloads.DATA_ATTRIBUTES + DATA_ATTRIBUTES
# In the changed (and incremental) workload, company i holds a stale value of CHANGED_FIELDS[i % 7].
CHANGED_FIELDS = ("name", "plan", "size", "monthly_spend", "health_score", "verified", "renewal_at")

USERS_SCHEMA: Dict[str, Any] = {
    "type": "object",
    "properties": dict(workloads.SCHEMA["properties"],
                       companies={"type": ["null", "array"], "items": {"type": "string"}}),
}

_PLANS = ("basic", "growth", "pro", "premium", "enterprise")
_RENEWALS_FROM = 1_767_225_600  # 2026-01-01T00:00:00Z
_YEAR = 365 * 86_400


def company_id(i: int) -> str:
    return "c%07d" % i


def values(i: int) -> Dict[str, Any]:
    """Company i's values as Intercom holds them (plan by its name, custom attributes typed, the date in seconds)."""
    return {
        "name": "Bench Company %d" % i,
        "plan": _PLANS[i % len(_PLANS)],
        "size": 1 + (i * 13) % 5_000,
        "monthly_spend": (i * 7_919) % 100_000,
        USER_FIELD: user_id(i),
        "health_score": ((i * 3_989) % 10_000) / 100.0,  # 0.00 .. 99.99
        "verified": i % 3 == 0,
        "renewal_at": _RENEWALS_FROM + (i * 4_001) % _YEAR,
    }


def stale_values(i: int) -> Dict[str, Any]:
    """What the changed workload seeds: company i's values with field i % 7 made different."""
    held = values(i)
    name = CHANGED_FIELDS[i % len(CHANGED_FIELDS)]
    held[name] = {
        "name": held["name"] + " (old)",
        "plan": _PLANS[(i + 1) % len(_PLANS)],
        "size": held["size"] + 1,
        "monthly_spend": held["monthly_spend"] + 100,
        "health_score": round(held["health_score"] + 1.25, 2),
        "verified": not held["verified"],
        "renewal_at": held["renewal_at"] - 86_400,
    }[name]
    return held


def record(i: int) -> Dict[str, Any]:
    """The RECORD's record for company i (the date-time as ISO 8601 text, as a tap sends it)."""
    v = values(i)
    out: Dict[str, Any] = {"company_id": company_id(i)}
    out.update((k, v[k]) for k in CORE + CUSTOM)
    out["renewal_at"] = iso8601(v["renewal_at"])
    return out


def company_of(user: int, users_per_company: int) -> int:
    return user // users_per_company


def user_record(i: int, users_per_company: Optional[int]) -> Dict[str, Any]:
    """User i's record (workloads.record), naming its company unless users_per_company is None."""
    out = workloads.record(i)
    if users_per_company is not None:
        out["companies"] = [company_id(company_of(i, users_per_company))]
    return out


# ---- the plan of a workload ----------------------------------------------------------------------


@dataclass(frozen=True)
class Plan:
    """One workload's sizes: n companies in the companies workloads (m of them streamed in incremental);
    u users, users_per_company to a company, in the users workloads."""

    workload: str
    companies: int = 5_000
    incremental: int = 100
    users: int = 2_000
    users_per_company: int = 10

    @property
    def users_stream(self) -> bool:
        return self.workload in USER_WORKLOADS

    @property
    def workspace_companies(self) -> int:
        if self.users_stream:
            return -(-self.users // self.users_per_company)
        return 0 if self.workload == "new" else self.companies

    @property
    def workspace_users(self) -> int:
        if self.users_stream:
            return self.users
        return 0 if self.workload == "new" else self.companies

    def streamed(self) -> List[int]:
        """The companies (or users) the stream carries, in order."""
        if self.users_stream:
            return list(range(self.users))
        if self.workload == "incremental":
            step = max(1, self.companies // self.incremental)
            return [k * step for k in range(min(self.incremental, self.companies))]
        return list(range(self.companies))

    def stale(self) -> Set[int]:
        """Companies the workspace holds with a stale value."""
        if self.workload == "changed":
            return set(range(self.companies))
        if self.workload == "incremental":
            return set(self.streamed())
        return set()


def state_value(stream: str, records_sent: int) -> Dict[str, Any]:
    return {"bookmarks": {stream: {"records": records_sent}}}


def singer_messages(plan: Plan, rows: Sequence[int], with_companies: bool = True) -> Iterator[Dict[str, Any]]:
    """SCHEMA, then a RECORD per row (a company, or a user), with a STATE after every 1,000th and the last."""
    if plan.users_stream:
        stream, schema, key = USERS_STREAM, USERS_SCHEMA if with_companies else workloads.SCHEMA, "user_id"
    else:
        stream, schema, key = STREAM, SCHEMA, "company_id"
    yield {"type": "SCHEMA", "stream": stream, "schema": schema, "key_properties": [key]}
    for count, i in enumerate(rows, 1):
        if plan.users_stream:
            rec = user_record(i, plan.users_per_company if with_companies else None)
        else:
            rec = record(i)
        yield {"type": "RECORD", "stream": stream, "record": rec}
        if count % STATE_EVERY == 0 or count == len(rows):
            yield {"type": "STATE", "value": state_value(stream, count)}


def final_state(plan: Plan, rows: Sequence[int]) -> Dict[str, Any]:
    return state_value(USERS_STREAM if plan.users_stream else STREAM, len(rows))


def write_singer_input(path: str, plan: Plan, rows: Sequence[int], with_companies: bool = True) -> None:
    dumps = json.JSONEncoder(separators=(",", ":")).encode
    with open(path, "w", encoding="utf-8") as out:
        for message in singer_messages(plan, rows, with_companies):
            out.write(dumps(message) + "\n")


# ---- the seed ------------------------------------------------------------------------------------


def seed_contacts(plan: Plan) -> Iterator[Dict[str, Any]]:
    """The workspace's users, each holding exactly its values (workloads.py)."""
    for i in range(plan.workspace_users):
        yield workloads.contact(i, workloads.values(i))


def company(i: int, held: Dict[str, Any], external_ids: Sequence[str]) -> Dict[str, Any]:
    """Company i as the emulator's seed takes it, holding `held`, with these users attached."""
    out: Dict[str, Any] = {"company_id": company_id(i)}
    out.update((k, held[k]) for k in CORE)
    out["custom_attributes"] = {k: held[k] for k in CUSTOM}
    if external_ids:
        out["external_ids"] = list(external_ids)
    return out


def seed_companies(plan: Plan) -> Iterator[Dict[str, Any]]:
    stale = plan.stale()
    for c in range(plan.workspace_companies):
        held = stale_values(c) if c in stale else values(c)
        if plan.workload == "attach":
            members: List[str] = []
        elif plan.users_stream:
            members = [user_id(i) for i in range(c * plan.users_per_company,
                                                 min(plan.users, (c + 1) * plan.users_per_company))]
        else:
            members = [user_id(c)]
        yield company(c, held, members)


def seed_body(plan: Plan) -> Dict[str, Any]:
    """The body of POST /_emulator/seed (also the --seed file format) for a workload."""
    return {"data_attributes": ALL_DATA_ATTRIBUTES, "contacts": list(seed_contacts(plan)), "visible": True,
            "companies": list(seed_companies(plan))}


# ---- what the emulator must hold afterwards ------------------------------------------------------


def expected_companies(plan: Plan, processed: Sequence[int]) -> Dict[str, Dict[str, Any]]:
    """company_id -> {"values": ..., "users": set of user_ids attached}, after a run that processed these rows.

    A correct run leaves each company it was given holding the record's values, and every other one as
    seeded; the users stream attaches each processed user to its company. (The baseline processes a
    sample of the rows, so its runs leave the rest as seeded.)
    """
    done = set(processed)
    out: Dict[str, Dict[str, Any]] = {}
    if plan.workload == "new":
        for i in processed:
            out[company_id(i)] = {"values": values(i), "users": set()}
        return out
    stale = plan.stale()
    for c in range(plan.workspace_companies):
        if plan.users_stream:
            members = range(c * plan.users_per_company, min(plan.users, (c + 1) * plan.users_per_company))
            users = {user_id(i) for i in members if plan.workload == "attached" or i in done}
            out[company_id(c)] = {"values": values(c), "users": users}
        else:
            held = stale_values(c) if c in stale and c not in done else values(c)
            out[company_id(c)] = {"values": held, "users": {user_id(c)}}
    return out


def check_companies(companies: List[Dict[str, Any]], contacts: List[Dict[str, Any]],
                    expected: Dict[str, Dict[str, Any]]) -> Dict[str, Any]:
    """Compare every company the emulator holds (and its attached users) with what is expected.

    Exactly one live company per expected company_id and no other company (archived ones count); each
    with the expected name, plan, size, monthly_spend and four typed custom attributes, no other custom
    attribute, and exactly the expected users attached.
    """
    external = {c["id"]: c.get("external_id") for c in contacts}
    by_company_id: Dict[str, Dict[str, Any]] = {}
    duplicates = 0
    problems: List[str] = []
    for held in companies:
        key = held.get("company_id")
        if key in by_company_id:
            duplicates += 1
        by_company_id[key] = held
    ok = 0
    attachments = 0
    for key, wanted in expected.items():
        held = by_company_id.get(key)
        if held is None:
            problems.append("%s: missing" % key)
            continue
        v = wanted["values"]
        wrong = []
        if held.get("archived"):
            wrong.append("archived")
        plan_name = (held.get("plan") or {}).get("name")
        for name, value in (("name", held.get("name")), ("plan", plan_name), ("size", held.get("size")),
                            ("monthly_spend", held.get("monthly_spend"))):
            if not same_value(value, v[name]):
                wrong.append("%s (%r, wanted %r)" % (name, value, v[name]))
        custom = held.get("custom_attributes") or {}
        for name in CUSTOM:
            if not same_value(custom.get(name), v[name]):
                wrong.append("custom_attributes.%s (%r, wanted %r)" % (name, custom.get(name), v[name]))
        extra = sorted(set(custom) - set(CUSTOM))
        if extra:
            wrong.append("other custom attributes %s" % ", ".join(extra))
        users = {external.get(cid, "?" + cid) for cid in held.get("contact_ids") or ()}
        attachments += len(users & wanted["users"])
        if users != wanted["users"]:
            missing, unexpected = sorted(wanted["users"] - users), sorted(users - wanted["users"])
            wrong.append("users attached: %d missing (%s), %d unexpected (%s)"
                         % (len(missing), ", ".join(missing[:3]), len(unexpected), ", ".join(unexpected[:3])))
        if wrong:
            problems.append("%s: %s" % (key, "; ".join(wrong)))
        else:
            ok += 1
    others = sorted(set(by_company_id) - set(expected))
    if others:
        problems.append("%d companies not expected (%s)" % (len(others), ", ".join(map(str, others[:3]))))
    return {
        "companies": len(companies),
        "expected": len(expected),
        "ok": ok,
        "duplicates": duplicates,
        "attachments": attachments,
        "problems": problems[:5],
        "problem_count": len(problems),
        "all_ok": ok == len(expected) and not others and duplicates == 0,
    }


def check_contacts(contacts: List[Dict[str, Any]], plan: Plan) -> Dict[str, Any]:
    """The workspace's users must still hold exactly their values (no contact is created, none is lost)."""
    return workloads.check_contacts(contacts, plan.workspace_users)


def main(argv: List[str]) -> int:
    if len(argv) == 3 and argv[0] in ("singer", "seed") and argv[1] in WORKLOADS:
        size = int(argv[2])
        plan = Plan(argv[1], companies=size) if argv[1] in COMPANY_WORKLOADS else Plan(argv[1], users=size)
        if argv[0] == "singer":
            for message in singer_messages(plan, plan.streamed()):
                sys.stdout.write(json.dumps(message, separators=(",", ":")) + "\n")
        else:
            json.dump(seed_body(plan), sys.stdout)
            sys.stdout.write("\n")
        return 0
    sys.stderr.write("usage: company_workloads.py {singer,seed} {%s} N\n" % ",".join(WORKLOADS))
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
