"""The events benchmark: target-intercom with events_stream against the naive events peer, one emulator.

    .venv/bin/python bench/events.py                         # 10,000 events, peer on 600 (~3 min)
    .venv/bin/python bench/events.py --events 1200 --baseline-events 200   # a quick check (~1.5 min)

Events are the whole load: the emulator (80 ms ± 10 ms a call, Intercom's default
10,000 calls a minute = 1,667 per 10-second window) is seeded with `--users`
users, and each contestant loads events for them (user i of event n is n mod
users). The naive peer (events_baseline.py) looks each event's user up with the
SDK, then posts the event: two sequential calls per event. It gets fewer
events (`--baseline-events`), since at its pace 6,000 would take 17 minutes;
the two are compared by events per second. Figures come from the emulator's
request log and counters; each run is verified against the events Intercom
then holds: one per input event, with its user, name, time and metadata.
The report goes to stdout and bench/results/<timestamp>-events.md.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Tuple

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (  # noqa: E402
    BENCH,
    EmulatorProcess,
    log,
    machine,
    machine_lines,
    measure,
    mib,
    pct,
    results_path,
    run_measured,
    summary_line,
    table,
    target_command,
    window_limit,
    write_timeline,
)

TOKEN = "bench-token"
STREAM = "events"
NAMES = ("signed_up", "invoice_paid", "seat_added")
FIRST_EVENT = 1714564800  # 2024-05-01T12:00:00Z
STATE_EVERY = 1000
SCHEMA = {
    "type": "object",
    "properties": {
        "event_name": {"type": "string"},
        "created_at": {"type": "string", "format": "date-time"},
        "user_id": {"type": "string"},
        "plan": {"type": ["null", "string"]},
        "seats": {"type": ["null", "integer"]},
        "source": {"type": ["null", "string"]},
    },
}


def user_id(i: int) -> str:
    return "u%07d" % i


def iso(seconds: int) -> str:
    from datetime import datetime, timezone

    return datetime.fromtimestamp(seconds, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def expected_event(n: int, users: int) -> Dict[str, Any]:
    """Event n of the input (0-based), as its RECORD carries it."""
    return {
        "event_name": NAMES[n % len(NAMES)],
        "created_at": FIRST_EVENT + n,
        "user_id": user_id(n % users),
        "metadata": {"plan": ("starter", "pro", "team")[n % 3], "seats": 1 + n % 7, "source": "warehouse"},
    }


def singer_lines(events: int, users: int) -> Iterator[str]:
    yield json.dumps({"type": "SCHEMA", "stream": STREAM, "schema": SCHEMA, "key_properties": []}) + "\n"
    for n in range(events):
        e = expected_event(n, users)
        rec = {"event_name": e["event_name"], "created_at": iso(e["created_at"]), "user_id": e["user_id"],
               **e["metadata"]}
        yield json.dumps({"type": "RECORD", "stream": STREAM, "record": rec}) + "\n"
        if (n + 1) % STATE_EVERY == 0 or n + 1 == events:
            yield json.dumps({"type": "STATE", "value": {"events": n + 1}}) + "\n"


def check_events(stored: List[Dict[str, Any]], contacts: List[Dict[str, Any]], events: int,
                 users: int) -> Dict[str, Any]:
    """Every input event held once by its user, with its name, time and metadata; nothing else."""
    external = {c["id"]: c["external_id"] for c in contacts}
    held: Dict[Tuple[str, str, int], Dict[str, Any]] = {}
    duplicates = 0
    for e in stored:
        key = (external.get(e["contact_id"]), e["event_name"], e["created_at"])
        duplicates += key in held
        held[key] = e["metadata"]
    problems = []
    ok = 0
    for n in range(events):
        want = expected_event(n, users)
        got = held.get((want["user_id"], want["event_name"], want["created_at"]))
        if got == want["metadata"]:
            ok += 1
        elif len(problems) < 5:
            problems.append("event %d: %s" % (n, "missing" if got is None else "metadata %s" % got))
    return {"expected": events, "ok": ok, "stored": len(stored), "duplicates": duplicates, "problems": problems,
            "all_ok": ok == events and len(stored) == events and duplicates == 0}


def run_contestant(emu: EmulatorProcess, contestant: str, events: int, users: int, run_dir: Path,
                   config_path: Path, rate_limit: int) -> Dict[str, Any]:
    emu.reset()
    emu.seed([], ({"external_id": user_id(i), "email": "%s@example.com" % user_id(i)} for i in range(users)))
    assert emu.stats()["total"] == 0
    input_path = run_dir / ("%s-input.jsonl" % contestant)
    with open(input_path, "w") as out:
        out.writelines(singer_lines(events, users))
    if contestant == "target":
        command = target_command(str(config_path))
    else:
        command = [sys.executable, str(BENCH / "events_baseline.py"), "--config", str(config_path),
                   "--expected", str(events)]
    log("%s: %d events for %d users" % (contestant, events, users))
    stdout_path, stderr_path = run_dir / ("%s.stdout" % contestant), run_dir / ("%s.stderr" % contestant)
    with open(input_path, "rb") as stdin, open(stdout_path, "wb") as stdout, open(stderr_path, "wb") as stderr:
        if contestant == "baseline":
            child = run_measured(command, stdin=stdin, stdout=stdout, stderr=subprocess.PIPE, tee_stderr=stderr)
        else:
            child = run_measured(command, stdin=stdin, stdout=stdout, stderr=stderr)
    stats = emu.stats()
    records = emu.requests(stats["total"] + 10)
    write_timeline(run_dir / ("%s.requests.csv" % contestant), records)
    stored = emu.admin("GET", "events")["events"]
    check = check_events(stored, emu.contacts(), events, users)
    states = [line for line in stdout_path.read_text().splitlines() if line.strip()]
    state_ok = bool(states) and json.loads(states[-1]) == {"events": events}
    result = measure(child, stats, records, events, rate_limit)
    result.update({
        "contestant": contestant,
        "events": events,
        "events_per_s": result["users_per_s"],
        "calls_per_event": result["calls_per_user"],
        "check": check,
        "state_ok": state_ok,
        "verified": child.exit_code == 0 and state_ok and check["all_ok"],
        "summary": summary_line(stderr_path) if contestant == "target" else None,
    })
    log("%s: exit %d, %.1f s, %.1f events/s, %.3f calls/event, ceiling %s (full windows), %d 429s, %s"
        % (contestant, child.exit_code, child.wall_seconds, result["events_per_s"], result["calls_per_event"],
           pct(result["ceiling_windows"]), result["rate_limited"],
           "verified" if result["verified"] else "NOT VERIFIED: %s" % check))
    return result


def report(results: Dict[str, Dict[str, Any]], args: argparse.Namespace, info: Dict[str, str]) -> List[str]:
    limit = window_limit(args.rate_limit)
    lines = [
        "# Events benchmark",
        "",
        "Emulator: latency %.0f ms ± %.0f ms, %d requests/min (%d per 10-second window, a ceiling of %.1f calls/s); "
        "%d users seeded." % (1000 * args.latency, 1000 * args.jitter, args.rate_limit, limit, limit / 10, args.users),
        "",
    ]
    rows = []
    baseline = results.get("baseline")
    for name, r in results.items():
        ratio = ""
        if name == "target" and baseline is not None:
            ratio = "%.1f ×" % (r["events_per_s"] / baseline["events_per_s"])
        rows.append([
            name, r["events"], "%.1f" % r["wall_s"], "%.1f" % r["events_per_s"], "%.3f" % r["calls_per_event"],
            pct(r["ceiling_overall"]), "%s (%d)" % (pct(r["ceiling_windows"]), r["full_windows"]),
            r["rate_limited"], mib(r["peak_rss_kib"]), "%.1f" % r["cpu_s"], "yes" if r["verified"] else "NO", ratio,
        ])
    lines += table(["contestant", "events", "wall s", "events/s", "calls/event", "ceiling (overall)",
                    "ceiling (full windows, count)", "429s", "peak RSS", "CPU s", "verified", "events/s vs peer"],
                   rows)
    target = results.get("target")
    if target is not None:
        lines += ["", "## Goals", ""]
        accepted = (target["calls"] - target["rate_limited"]) / target["events"]
        goals = [
            ["accepted calls per event", "1 (no bulk endpoint exists)", "%.3f" % accepted,
             "met" if accepted <= 1.0 else "NOT met"],
            ["share of the rate-limit ceiling (full windows)", "≥ 90 %", pct(target["ceiling_windows"]),
             "met" if (target["ceiling_windows"] or 0) >= 0.9 else "NOT met"],
            # The governor probes once a run for a window that refills early (see ratelimit.py): one 429 at most.
            ["429s", "≤ 1 (the rate governor's one probe)", str(target["rate_limited"]),
             "met" if target["rate_limited"] <= 1 else "NOT met"],
        ]
        lines += table(["goal", "target", "measured", ""], goals)
        lines += ["", "Accepted calls per 10-second window (partial windows in parentheses): " + ", ".join(
            ("%d" if w["full"] else "(%d)") % w["accepted"] for w in target["windows_detail"]), "",
            "Target summary: `%s`" % (target["summary"] or "-")]
    lines += ["", "## API calls by endpoint", ""]
    lines += table(["contestant", "calls"], [[name, ", ".join("%s %d" % kv for kv in sorted(r["counts"].items()))]
                                             for name, r in results.items()])
    lines += ["", "## Machine", ""] + machine_lines(info)
    return lines


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description="target-intercom events vs the naive events peer")
    parser.add_argument("--events", type=int, default=10_000, help="events the target loads (default 10000)")
    parser.add_argument("--users", type=int, default=2000, help="users seeded, the events' users (default 2000)")
    parser.add_argument("--baseline-events", type=int, default=600,
                        help="events the peer loads (default 600; compared by events/s)")
    parser.add_argument("--skip-baseline", action="store_true", help="run target-intercom only")
    parser.add_argument("--latency", type=float, default=0.08, help="emulator latency per call, s (default 0.08)")
    parser.add_argument("--jitter", type=float, default=0.01, help="uniform ± jitter on the latency (default 0.01)")
    parser.add_argument("--rate-limit", type=int, default=10_000, help="emulator requests per minute (default 10000)")
    args = parser.parse_args(argv)
    if min(args.events, args.users, args.baseline_events) < 1:
        parser.error("--events, --users and --baseline-events must be at least 1")

    report_path = results_path("-events.md")
    run_dir = report_path.with_suffix("")
    run_dir.mkdir(parents=True, exist_ok=True)
    info = machine()
    results: Dict[str, Dict[str, Any]] = {}
    with EmulatorProcess(TOKEN, args.latency, args.jitter, args.rate_limit, run_dir / "emulator.stderr") as emu:
        config_path = run_dir / "config.json"
        config_path.write_text(json.dumps({"access_token": TOKEN, "events_stream": STREAM, "base_url": emu.url}))
        results["target"] = run_contestant(emu, "target", args.events, args.users, run_dir, config_path,
                                           args.rate_limit)
        if not args.skip_baseline:
            results["baseline"] = run_contestant(emu, "baseline", args.baseline_events, args.users, run_dir,
                                                 config_path, args.rate_limit)
    text = "\n".join(report(results, args, info)) + "\n"
    sys.stdout.write(text)
    report_path.write_text(text, encoding="utf-8")
    (run_dir / "metrics.json").write_text(json.dumps(
        {name: {k: v for k, v in r.items() if k != "windows_detail"} for name, r in results.items()}, indent=1))
    log("written %s" % report_path)
    return 0 if all(r["verified"] for r in results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
