"""The memory benchmark: peak RSS of target-intercom streaming 1,000,000 records.

    .venv/bin/python bench/memory.py                     # 100,000 then 1,000,000 records
    .venv/bin/python bench/memory.py --records 200000 --compare 20000

The emulator runs without latency and without a rate limit, seeded with every
user already holding exactly the record's values: the nightly full re-sync of
unchanged users, the one million-record case that finishes in minutes here.
The Singer input is generated on the fly and written into target-intercom's
stdin through a pipe (never a file, never held in memory). Peak RSS comes from
``os.wait4`` (ru_maxrss); VmRSS is also sampled every few seconds to show it
stays flat while the records flow. The smaller run (``--compare``, default
100,000) uses the same seeded emulator, to show that peak RSS does not grow
with the number of records. The report is printed and written to
``bench/results/<timestamp>-memory.md``.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional

sys.path.insert(0, str(Path(__file__).resolve().parent))

import workloads  # noqa: E402
from common import (  # noqa: E402
    EmulatorProcess,
    log,
    machine,
    machine_lines,
    mib,
    read_status_kib,
    results_path,
    run_measured,
    source_digest,
    summary_line,
    table,
    target_command,
)

TOKEN = "bench-token"
GOAL_BYTES = 150_000_000  # "under 150 MB"
WRITES = ("POST /contacts", "PUT /contacts/{id}", "POST /contacts/bulk", "PUT /contacts/bulk",
          "POST /data_attributes")


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description="peak RSS of target-intercom on a million unchanged users")
    parser.add_argument("--records", type=int, default=1_000_000, help="records in the big run (default 1000000)")
    parser.add_argument("--compare", type=int, default=100_000,
                        help="records in the smaller run, to compare with (default 100000; 0 skips it)")
    parser.add_argument("--sample-every", type=float, default=2.0, help="seconds between VmRSS samples")
    parser.add_argument("--workload", choices=workloads.WORKLOADS, default="unchanged",
                        help="what the emulator holds (default unchanged; new and changed make the target write "
                             "every user, which takes far longer)")
    parser.add_argument("--notes", type=int, default=0,
                        help="with --workload new: this many more string fields of %d characters per user, "
                             "created as custom attributes by the target (the widest contacts it remembers)"
                             % NOTE_LENGTH)
    args = parser.parse_args(argv)
    if args.notes and args.workload != "new":
        parser.error("--notes needs --workload new")
    sizes = [n for n in (args.compare, args.records) if n > 0]
    if not sizes:
        parser.error("--records must be at least 1")
    report_path = results_path("-memory.md")
    run_dir = report_path.with_suffix("")
    run_dir.mkdir(parents=True, exist_ok=True)
    info = machine()
    seeded_users = max(sizes)
    results = []
    with EmulatorProcess(TOKEN, 0.0, 0.0, 0, run_dir / "emulator.stderr") as emu:
        config_path = run_dir / "config.json"
        config_path.write_text(json.dumps({"access_token": TOKEN, "users_stream": workloads.STREAM,
                                           "base_url": emu.url}))
        log("emulator at %s (no latency, no rate limit)" % emu.url)
        seeded = 0
        for number, n in enumerate(sizes):
            # Unchanged users are seeded once for every run: nothing is written to them.
            if args.workload != "unchanged" or number == 0:
                users = n if args.workload != "unchanged" else seeded_users
                log("seeding %d users (%s workload)..." % (users, args.workload))
                emu.reset()
                seeded = emu.seed(workloads.DATA_ATTRIBUTES, workloads.seed_contacts(users, args.workload))
                log("seeded %d contacts" % seeded)
            results.append(run_one(emu, n, args.workload, config_path, run_dir, args.sample_every, args.notes))
        emulator_hwm = read_status_kib(emu.pid, "VmHWM")
        final_contacts = emu.stats()["contacts"]
    text = "\n".join(report(results, args, info, seeded, final_contacts, emulator_hwm)) + "\n"
    sys.stdout.write(text)
    report_path.write_text(text, encoding="utf-8")
    (run_dir / "metrics.json").write_text(json.dumps(results, indent=1))
    log("written %s" % report_path)
    return 0 if all(r["verified"] for r in results) else 1


def run_one(emu: EmulatorProcess, n: int, workload: str, config_path: Path, run_dir: Path,
            sample_every: float, notes: int) -> Dict[str, Any]:
    before = emu.stats()
    stdout_path = run_dir / ("target-%d.stdout" % n)
    stderr_path = run_dir / ("target-%d.stderr" % n)
    log("target-intercom: streaming %d records..." % n)
    digest = source_digest()
    progress = [0]
    with open(stdout_path, "wb") as stdout, open(stderr_path, "wb") as stderr:
        child = run_measured(target_command(str(config_path)), stdin=subprocess.PIPE, stdout=stdout, stderr=stderr,
                             feed=with_notes(n, notes) if notes else workloads.singer_lines(n),
                             sample_every=sample_every, progress=progress)
    after = emu.stats()
    counts = {k: v - before["counts"].get(k, 0) for k, v in after["counts"].items()
              if v - before["counts"].get(k, 0)}
    calls = after["total"] - before["total"]
    states = [line for line in stdout_path.read_text().splitlines() if line.strip()]
    state_ok = bool(states) and json.loads(states[-1]) == workloads.final_state(n)
    summary = summary_line(stderr_path)
    # A create retried after a lost answer meets its own contact (409) and updates it: still one contact.
    outcomes = {"new": ("created", "updated"), "changed": ("updated",), "unchanged": ("unchanged",)}[workload]
    settled = sum(_summary_count(summary, outcome) or 0 for outcome in outcomes)
    writes = sum(counts.get(k, 0) for k in WRITES)
    expected_contacts = before["contacts"] + (n if workload == "new" else 0)
    verified = (child.exit_code == 0 and state_ok and settled == n and after["contacts"] == expected_contacts
                and (writes == 0 if workload == "unchanged" else writes >= n))
    total_lines = progress[0]
    result = {
        "records": n,
        "workload": workload,
        "target_source": digest,
        "exit_code": child.exit_code,
        "wall_s": child.wall_seconds,
        "records_per_s": n / child.wall_seconds,
        "calls": calls,
        "calls_per_user": calls / n,
        "counts": counts,
        "rate_limited": after["rate_limited"] - before["rate_limited"],
        "peak_rss_kib": child.peak_rss_kib,
        "polled_hwm_kib": child.polled_hwm_kib,
        "cpu_s": child.cpu_seconds,
        "samples": child.samples,
        "rss_at": rss_at_progress(child.samples, total_lines),
        "state_ok": state_ok,
        "states_printed": len(states),
        "summary": summary,
        "writes": writes,
        "verified": verified,
    }
    log("target-intercom, %d records: exit %d, %.1f s, %.0f records/s, %.4f calls/user, peak RSS %s%s"
        % (n, child.exit_code, child.wall_seconds, result["records_per_s"], result["calls_per_user"],
           mib(child.peak_rss_kib), "" if verified else " (NOT VERIFIED: %s)" % summary))
    return result


NOTE_LENGTH = 200


def with_notes(n: int, notes: int) -> Iterator[str]:
    """The workload's input with `notes` more string fields per user, each value distinct."""
    dumps = json.JSONEncoder(separators=(",", ":")).encode
    names = ["note%02d" % k for k in range(notes)]
    for message in workloads.singer_messages(n):
        if message["type"] == "SCHEMA":
            properties = dict(message["schema"]["properties"])
            properties.update({name: {"type": ["null", "string"]} for name in names})
            message = {**message, "schema": {**message["schema"], "properties": properties}}
        elif message["type"] == "RECORD":
            user = message["record"]["user_id"]
            message["record"].update({name: ("%s %s " % (user, name)).ljust(NOTE_LENGTH, "~") for name in names})
        yield dumps(message) + "\n"


def rss_at_progress(samples: List[Dict[str, Any]], total_lines: int) -> Dict[str, Optional[int]]:
    """VmRSS at the last sample taken before 25 %, 50 %, 75 % and 100 % of the input had been fed."""
    out: Dict[str, Optional[int]] = {}
    for share in (0.25, 0.5, 0.75, 1.0):
        before = [s for s in samples if s["lines_fed"] is not None and s["lines_fed"] <= share * total_lines]
        out["%d%%" % int(share * 100)] = before[-1]["rss_kib"] if before else None
    return out


def _summary_count(summary: Optional[str], word: str) -> Optional[int]:
    found = re.search(r"%s (\d+)" % word, summary or "")
    return int(found.group(1)) if found else None


HOLDS = {
    "unchanged": "seeded with {seeded:,} users that already hold the records' values (5 typed custom attributes)",
    "changed": "seeded before each run with its users holding one stale value each",
    "new": "seeded with the custom data attributes only (every user is created)",
}


def report(results: List[Dict[str, Any]], args: argparse.Namespace, info: Dict[str, str], seeded: int,
           final_contacts: int, emulator_hwm: Optional[int]) -> List[str]:
    workload = args.workload
    lines = ["# target-intercom memory benchmark: %s users streamed through a pipe" % workload, ""]
    lines.append("Emulator without latency and without rate limit, %s; target-intercom with default settings "
                 "(base_url, token and users_stream only), the Singer input generated on the fly into its stdin."
                 % HOLDS[workload].format(seeded=seeded))
    if args.notes:
        lines += ["", "Wide users: each record also carries %d string fields of %d characters (distinct per user), "
                  "which the target creates as custom attributes; the contacts it remembers are as wide."
                  % (args.notes, NOTE_LENGTH)]
    lines += ["", "## Results", ""]
    rows = []
    for r in results:
        at = r["rss_at"]
        rows.append(["{:,}".format(r["records"]), "yes" if r["verified"] else "**NO**", r["exit_code"],
                     "%.1f" % r["wall_s"], "%.0f" % r["records_per_s"], r["calls"], "%.4f" % r["calls_per_user"],
                     r["rate_limited"], "**%s**" % mib(r["peak_rss_kib"]),
                     " / ".join(mib(at[k]) if at[k] else "—" for k in ("25%", "50%", "75%", "100%")),
                     "%.1f" % r["cpu_s"]])
    lines += table(["records", "verified", "exit", "wall s", "records/s", "API calls", "calls/user", "429s",
                    "peak RSS", "VmRSS at 25 / 50 / 75 / 100 % of the input fed", "CPU s"], rows)
    lines += ["", "## Goal", ""]
    big = results[-1]
    goal_rows = [["peak RSS under 150 MB on {:,} records".format(big["records"]),
                  "%s (%.1f MB)" % (mib(big["peak_rss_kib"]), big["peak_rss_kib"] * 1024 / 1e6),
                  "yes" if big["peak_rss_kib"] * 1024 < GOAL_BYTES else "**no**"]]
    if len(results) == 2:
        small = results[0]
        growth = (big["peak_rss_kib"] - small["peak_rss_kib"]) / 1024
        goal_rows.append(["peak RSS does not grow with the records ({:,} vs {:,})".format(
            small["records"], big["records"]), "%+.1f MiB for %.0f × the records" % (
            growth, big["records"] / small["records"]), "yes" if growth < 10 else "**no**"])
    lines += table(["goal", "measured", "met"], goal_rows)
    lines += ["", "## Details", ""]
    for r in results:
        lines.append("- {:,} records: calls by endpoint {}; target's summary: `{}`; STATE lines printed {} (last "
                     "one is the input's last: {}); VmHWM polled from /proc: {}.".format(
                         r["records"], json.dumps(r["counts"]), r["summary"], r["states_printed"],
                         "yes" if r["state_ok"] else "no", mib(r["polled_hwm_kib"]) if r["polled_hwm_kib"] else "—"))
    lines.append("- Contacts in the emulator after the last run: %d (seeded %d); writes by the target: %s." % (
        final_contacts, seeded, ", ".join(str(r["writes"]) for r in results)))
    if len({r["target_source"] for r in results}) > 1:
        lines.append("- **Warning:** target_intercom/**/*.py changed between the runs (source digests %s)."
                     % ", ".join(r["target_source"] for r in results))
    if emulator_hwm:
        lines.append("- The emulator's own peak RSS (not measured against the goal): %s." % mib(emulator_hwm))
    settled = {"new": "created (or updated, after a retried create)", "changed": "updated",
               "unchanged": "unchanged"}[workload]
    lines += ["", DEFINITIONS.format(every=args.sample_every, settled=settled), "", "## Machine", ""]
    lines += machine_lines(info)
    lines += ["", "Command: `%s`" % " ".join([Path(sys.executable).name, "bench/memory.py"] + sys.argv[1:])]
    return lines


DEFINITIONS = """\
Definitions: **peak RSS** is the target-intercom process's own `ru_maxrss`, from `os.wait4` in
`bench/measure_child.py` (a small launcher, so that the benchmark's own memory is not attributed to the
target); **VmRSS at x %** is the last /proc sample (every {every:g} s) taken before x % of the input lines had
been written into the pipe (a pipe buffers only 64 KiB, so the target had read nearly as much);
**calls/user** counts every API request the emulator received during the run ÷ records; **verified** means
exit code 0, the input's last STATE printed, every record counted {settled} in the target's summary line, and
the expected writes and contact count in the emulator (none and unchanged for the unchanged workload)."""


if __name__ == "__main__":
    sys.exit(main())
