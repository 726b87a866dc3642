"""The tags benchmark: what tagging costs, in API calls, against the naive per-user pattern.

    .venv/bin/python bench/tags.py                 # 1,000 users and 1,000 companies (~1 min)
    .venv/bin/python bench/tags.py --users 5000    # larger

The emulator (80 ms ± 10 ms a call, Intercom's default rate limit) holds `--users`
users and as many companies, each already as the input describes it. Four runs:

1. users: one tag added to every user (`tags: ["vip"]`);
2. the same input again: nothing to tag;
3. users with `managed_tags: "all"` and an empty tags list: the tag removed from
   every user (one call per removal: Intercom has no bulk untag for contacts);
4. companies: one tag added to every company, then the same input again.

The naive peer pattern tags one user per call (`POST /contacts/{id}/tags`), so
its cost is one call per user and tag, plus the lookup of the user; it is not
run, its cost is that count. Every run is verified against the tags the
emulator then holds. The report goes to stdout and
bench/results/<timestamp>-tags.md.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, Dict, List, Tuple

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (  # noqa: E402
    EmulatorProcess,
    log,
    machine,
    machine_lines,
    results_path,
    run_contestant,
    summary_line,
    table,
    target_command,
)

TOKEN = "bench-token"
TAG = "vip"
USERS_SCHEMA = {"type": "object", "properties": {"user_id": {"type": "string"}, "email": {"type": "string"},
                                                 "tags": {"type": ["array", "string"]}}}
COMPANIES_SCHEMA = {"type": "object", "properties": {"company_id": {"type": "string"}, "name": {"type": "string"},
                                                     "tags": {"type": ["array", "string"]}}}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--users", type=int, default=1000, help="users, and companies (default 1000)")
    args = parser.parse_args()
    out = results_path("-tags")
    out.mkdir(parents=True, exist_ok=True)
    n = args.users
    rows: List[List[Any]] = []
    with EmulatorProcess(TOKEN, 0.08, 0.01, 10_000, out / "emulator.log") as emu:
        emu.seed([], ({"external_id": f"u{i}", "email": f"u{i}@example.com"} for i in range(n)))
        emu.seed_companies({"company_id": f"c{i}", "name": f"c{i}", "external_ids": [f"u{i}"]} for i in range(n))
        users = [{"user_id": f"u{i}", "email": f"u{i}@example.com"} for i in range(n)]
        companies = [{"company_id": f"c{i}", "name": f"c{i}"} for i in range(n)]
        runs: List[Tuple[str, str, List[Dict[str, Any]], Dict[str, Any], int]] = [
            ("users: add one tag", "users", [{**u, "tags": [TAG]} for u in users], {}, n),
            ("users: the same again", "users", [{**u, "tags": [TAG]} for u in users], {}, n),
            ("users: remove it (managed_tags all)", "users", [{**u, "tags": []} for u in users],
             {"managed_tags": "all"}, 0),
            ("companies: add one tag", "companies", [{**c, "tags": TAG} for c in companies], {}, n),
            ("companies: the same again", "companies", [{**c, "tags": TAG} for c in companies], {}, n),
        ]
        for label, stream, records, extra, expect in runs:
            rows.append(run(emu, out, label, stream, records, extra, expect))
    report = render(n, rows)
    (out.parent / (out.name + ".md")).write_text(report)
    print(report)
    return 0 if all(row[-1] == "yes" for row in rows) else 1


def run(emu: EmulatorProcess, out: Path, label: str, stream: str, records: List[Dict[str, Any]],
        extra: Dict[str, Any], expect: int) -> List[Any]:
    slug = label.split(":")[0] + "-" + str(abs(hash(label)) % 1000)
    config = {"access_token": TOKEN, "base_url": emu.url, f"{stream}_stream": stream, **extra}
    if stream == "companies":
        config["companies_stream"] = "companies"
    config_path = out / f"{slug}.config.json"
    config_path.write_text(json.dumps(config))
    input_path = out / f"{slug}.jsonl"
    schema = USERS_SCHEMA if stream == "users" else COMPANIES_SCHEMA
    key = "user_id" if stream == "users" else "company_id"
    with open(input_path, "w") as f:
        f.write(json.dumps({"type": "SCHEMA", "stream": stream, "schema": schema, "key_properties": [key]}) + "\n")
        for r in records:
            f.write(json.dumps({"type": "RECORD", "stream": stream, "record": r}) + "\n")
        f.write(json.dumps({"type": "STATE", "value": {"done": True}}) + "\n")
    before = emu.stats()
    log(f"[{label}] {len(records)} records")
    result = run_contestant(emu, target_command(str(config_path)), input_path, out / f"{slug}.stdout",
                            out / f"{slug}.stderr", before)
    counts = {k: v - before["counts"].get(k, 0) for k, v in result.stats["counts"].items()}
    tagging = sum(v for k, v in counts.items() if "tags" in k and not k.startswith("GET /tags"))
    reads = counts.get("GET /tags", 0)
    held = tagged_count(emu, stream)
    verified = result.child.exit_code == 0 and held == expect
    per = tagging / len(records) if records else 0.0
    log(f"[{label}] exit {result.child.exit_code}, {tagging} tagging calls, {reads} GET /tags, {held} tagged")
    return [label, len(records), tagging, reads, sum(counts.values()), f"{per:.3f}", len(records),
            summary_line(out / f"{slug}.stderr") or "", "yes" if verified else "no"]


def tagged_count(emu: EmulatorProcess, stream: str) -> int:
    tags = emu.admin("GET", "tags")["tags"]
    vip = [t for t in tags if t["name"] == TAG]
    if not vip:
        return 0
    return len(vip[0]["contact_ids"] if stream == "users" else vip[0]["company_ids"])


def render(n: int, rows: List[List[Any]]) -> str:
    lines = [f"# target-intercom tags benchmark: {n} users, {n} companies", ""]
    lines += ["Emulator: latency 80 ms ± 10 ms, 10,000 requests a minute. Tagging calls: `POST /tags`, "
              "`DELETE /contacts/{id}/tags/{id}` and `GET /contacts/{id}/tags`; `GET /tags` is the one read of "
              "the workspace's tags. The naive peer tags one user per call: one call per user and tag.", ""]
    lines += table(["run", "records", "tagging calls", "GET /tags", "all API calls", "tagging calls per record",
                    "naive peer's tagging calls", "target's summary line", "verified"], rows)
    lines += ["", "## Goals", ""]
    add, again = rows[0], rows[1]
    lines += table(["goal", "measured", "met"], [
        ["one tag added to 1,000 users: ≤ 25 calls", f"{add[2]} tagging + {add[3]} GET /tags per {add[1]} users",
         "yes" if (add[2] + add[3]) * 1000 / max(1, add[1]) <= 25 else "no"],
        ["re-running: 0 calls for tags", f"{again[2]} tagging calls ({again[3]} GET /tags)",
         "yes" if again[2] == 0 else "no"],
    ])
    lines += ["", "## Machine", ""] + machine_lines(machine())
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
