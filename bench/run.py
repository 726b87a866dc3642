"""The throughput benchmark: target-intercom against the naive baseline, three workloads, one emulator.

    .venv/bin/python bench/run.py                      # 6,000 users, all three workloads (~50 min)
    .venv/bin/python bench/run.py --users 300          # a quick check (~3 min)
    .venv/bin/python bench/run.py --workloads unchanged --skip-baseline

It starts ``python -m intercom_emulator`` with Intercom-like latency (80 ms ± 10 ms a
call) and the default rate limit (10,000 a minute = 1,667 per 10-second window).
For each workload (see workloads.py) and each contestant it resets the emulator,
seeds it, runs the contestant as a subprocess on the same Singer input, and
reads what happened from the emulator (request counts, 429s, the request log)
and from ``os.wait4`` (exit code, peak RSS, CPU). Every contact is then checked
against the values the input asks for. The report is printed on stdout and
written to ``bench/results/<timestamp>.md``; the contestants' stderr and each
run's request timeline (CSV) go to ``bench/results/<timestamp>/``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

sys.path.insert(0, str(Path(__file__).resolve().parent))

import workloads  # noqa: E402
from common import (  # noqa: E402
    BENCH,
    EmulatorProcess,
    WINDOW_SECONDS,
    log,
    machine,
    machine_lines,
    measure,
    mib,
    pct,
    results_path,
    run_contestant,
    source_digest,
    summary_line,
    table,
    target_command,
    window_limit,
    windows_text,
)

TOKEN = "bench-token"
CONTESTANTS = ("target", "baseline")
# target-intercom with write_mode bulk (Intercom's Preview bulk contacts jobs), run with --bulk.
BULK = "target (bulk)"

DEFINITIONS = """\
Definitions:

- **wall s**: from starting the process to reaping it, interpreter start-up included.
- **users/s**: users in the input ÷ wall s.
- **API calls**: every API request the emulator counted during the run, all endpoints, 429s included;
  **calls/user** = API calls ÷ users.
- **ceiling (overall)**: (API calls the rate limiter accepted ÷ wall s) ÷ (window limit ÷ 10 s), i.e.
  the share of the rate-limit ceiling used over the whole run, start-up and tail included. Fixed windows
  let a run that starts late in a window use that window's whole quota, so short runs can exceed 100 %.
- **ceiling (full windows)**: the mean, over the emulator's fixed 10-second windows (Unix time aligned,
  as its limiter counts them) that lie entirely inside the run, of accepted calls in the window ÷ window
  limit. A call is placed in a window by the time the emulator answered it (request log `time +
  duration`: the limiter counts it after the injected latency, a handler's few milliseconds before the
  answer). "n/a" when the run covers no full window.
- **429s**: answers 429 the emulator sent (its `rate_limited` counter).
- **peak RSS**: the contestant process's own maximum resident set size: `ru_maxrss` from `os.wait4` in
  `bench/measure_child.py`, a small launcher (a child's `ru_maxrss` on Linux also carries its forking
  parent's peak, so the benchmark process must not be that parent).
- **CPU s**: user + system CPU time of the contestant process.
- **verified**: exit code 0, the last STATE of the input printed on stdout, and every contact in the
  emulator checked field by field (all users, not a sample): one contact per user, no others, with the
  input's email, name and five typed custom attributes.
- **vs baseline**: the target's users/s ÷ the baseline's users/s on the same workload in the same run.
"""


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description="target-intercom vs the naive baseline, against the emulator")
    parser.add_argument("--users", type=int, default=6000, help="users per workload (default 6000)")
    parser.add_argument("--workloads", default=",".join(workloads.WORKLOADS),
                        help="comma-separated, from new, changed, unchanged (default: all three)")
    parser.add_argument("--skip-baseline", action="store_true", help="run target-intercom only")
    parser.add_argument("--bulk", action="store_true",
                        help="also run target-intercom with write_mode bulk beside the contacts mode")
    parser.add_argument("--bulk-task-delay", type=float, default=0.2,
                        help="seconds the emulator takes to run one bulk task (default 0.2)")
    parser.add_argument("--latency", type=float, default=0.08, help="emulator latency per call, s (default 0.08)")
    parser.add_argument("--jitter", type=float, default=0.01, help="uniform ± jitter on the latency (default 0.01)")
    parser.add_argument("--rate-limit", type=int, default=10_000,
                        help="emulator requests per minute (default 10000 = 1667 per 10 s window)")
    args = parser.parse_args(argv)
    chosen = [w.strip() for w in args.workloads.split(",") if w.strip()]
    unknown = [w for w in chosen if w not in workloads.WORKLOADS]
    if unknown or not chosen:
        parser.error("--workloads takes new, changed, unchanged (got %s)" % args.workloads)
    if args.users < 1:
        parser.error("--users must be at least 1")
    contestants = ["target"] if args.skip_baseline else list(CONTESTANTS)
    if args.bulk:
        contestants.insert(1, BULK)

    report_path = results_path(".md")
    run_dir = report_path.with_suffix("")
    run_dir.mkdir(parents=True, exist_ok=True)
    info = machine()
    n = args.users
    log("results: %s (logs in %s/)" % (report_path, run_dir))

    input_path = run_dir / "users.jsonl"
    workloads.write_singer_input(str(input_path), n)
    results: Dict[Tuple[str, str], Dict[str, Any]] = {}
    with EmulatorProcess(TOKEN, args.latency, args.jitter, args.rate_limit, run_dir / "emulator.stderr",
                         bulk_task_delay=args.bulk_task_delay) as emu:
        config_path = run_dir / "config.json"
        config = {"access_token": TOKEN, "users_stream": workloads.STREAM, "base_url": emu.url}
        config_path.write_text(json.dumps(config))
        (run_dir / "config-bulk.json").write_text(json.dumps({**config, "write_mode": "bulk"}))
        log("emulator at %s: latency %.3f s ± %.3f, %d requests/min (%d per 10 s window)"
            % (emu.url, args.latency, args.jitter, args.rate_limit, window_limit(args.rate_limit)))
        for workload in chosen:
            for contestant in contestants:
                results[(workload, contestant)] = run_one(emu, workload, contestant, n, input_path, config_path,
                                                          run_dir, args.rate_limit)
            if "baseline" in contestants:
                target, baseline = results[(workload, "target")], results[(workload, "baseline")]
                log("[%s] target %.1f users/s, baseline %.1f users/s: %.1f x"
                    % (workload, target["users_per_s"], baseline["users_per_s"],
                       target["users_per_s"] / baseline["users_per_s"]))

    text = "\n".join(report(results, chosen, contestants, n, args, info)) + "\n"
    sys.stdout.write(text)
    report_path.write_text(text, encoding="utf-8")
    (run_dir / "metrics.json").write_text(json.dumps(
        {"%s/%s" % key: {k: v for k, v in value.items() if k != "windows_detail"} for key, value in results.items()},
        indent=1))
    log("written %s" % report_path)
    return 0 if all(r["verified"] for r in results.values()) else 1


def run_one(emu: EmulatorProcess, workload: str, contestant: str, n: int, input_path: Path, config_path: Path,
            run_dir: Path, rate_limit: int) -> Dict[str, Any]:
    emu.reset()
    seeded = emu.seed(workloads.DATA_ATTRIBUTES, workloads.seed_contacts(n, workload))
    before = emu.stats()
    assert before["total"] == 0 and before["contacts"] == seeded, before
    digest = source_digest()
    log("[%s] %s: %d users, %d contacts seeded" % (workload, contestant, n, seeded))
    if contestant == "target":
        command = target_command(str(config_path))
    elif contestant == BULK:
        command = target_command(str(config_path.with_name("config-bulk.json")))
    else:
        command = [sys.executable, str(BENCH / "baseline.py"), "--config", str(config_path), "--expected", str(n)]
    slug = contestant.replace(" ", "-").replace("(", "").replace(")", "")
    stdout_path = run_dir / ("%s-%s.stdout" % (slug, workload))
    stderr_path = run_dir / ("%s-%s.stderr" % (slug, workload))
    # The baseline's progress lines go to our stderr as well as to its log.
    run = run_contestant(emu, command, input_path, stdout_path, stderr_path, before, tee=contestant == "baseline",
                         timeline_path=run_dir / ("%s-%s.requests.csv" % (slug, workload)))
    check = workloads.check_contacts(emu.contacts(), n)
    states = [line for line in stdout_path.read_text().splitlines() if line.strip()]
    state_ok = bool(states) and json.loads(states[-1]) == workloads.final_state(n)
    child = run.child
    result = measure(child, run.stats, run.records, n, rate_limit)
    result.update({
        "workload": workload,
        "contestant": contestant,
        "check": check,
        "state_ok": state_ok,
        "states_printed": len(states),
        "verified": child.exit_code == 0 and state_ok and check["all_ok"],
        "summary": summary_line(stderr_path) if contestant != "baseline" else None,
        "emulator_cpu_ms_per_request": run.emulator_cpu_ms_per_request,
        "target_source": digest,
    })
    log("[%s] %s: exit %d, %.1f s, %.1f users/s, %.3f calls/user, %d 429s, peak RSS %s, %s"
        % (workload, contestant, child.exit_code, child.wall_seconds, result["users_per_s"], result["calls_per_user"],
           result["rate_limited"], mib(child.peak_rss_kib),
           "verified" if result["verified"] else "NOT VERIFIED: %s" % describe_failure(result)))
    return result


def describe_failure(result: Dict[str, Any]) -> str:
    why = []
    if result["exit_code"] != 0:
        why.append("exit code %d" % result["exit_code"])
    if not result["state_ok"]:
        why.append("last STATE not confirmed (%d printed)" % result["states_printed"])
    check = result["check"]
    if not check["all_ok"]:
        why.append("%d/%d users as expected, %d contacts, %d duplicates; e.g. %s"
                   % (check["ok"], check["expected"], check["contacts"], check["duplicates"],
                      "; ".join(check["problems"][:3]) or "-"))
    return ", ".join(why)


# ---- the report -----------------------------------------------------------------------------------


def report(results: Dict[Tuple[str, str], Dict[str, Any]], chosen: List[str], contestants: List[str], n: int,
           args: argparse.Namespace, info: Dict[str, str]) -> List[str]:
    limit = window_limit(args.rate_limit)
    lines = ["# target-intercom benchmark: %d users per workload" % n, ""]
    lines.append("Emulator: latency %.0f ms ± %.0f ms per call, rate limit %d/min = %d per 10-second window "
                 "(ceiling %.1f calls/s). target-intercom runs with default settings (base_url, token and "
                 "users_stream only; `target (bulk)` adds write_mode bulk, with the emulator taking %.1f s per bulk "
                 "task). The baseline is `bench/baseline.py` (sequential SDK search, then create or "
                 "update, per record)." % (args.latency * 1000, args.jitter * 1000, args.rate_limit, limit,
                                          limit / WINDOW_SECONDS, args.bulk_task_delay))
    lines += ["", "## Results", ""]
    rows = []
    for workload in chosen:
        for contestant in contestants:
            r = results[(workload, contestant)]
            ratio = "—"
            if contestant != "baseline" and (workload, "baseline") in results:
                ratio = "%.1f ×" % (r["users_per_s"] / results[(workload, "baseline")]["users_per_s"])
            rows.append([workload, contestant, "yes" if r["verified"] else "**NO**: " + describe_failure(r),
                         r["exit_code"], "%.1f" % r["wall_s"], "%.1f" % r["users_per_s"], r["calls"],
                         "%.4f" % r["calls_per_user"], pct(r["ceiling_overall"]),
                         pct(r["ceiling_windows"]) + (" (%d)" % r["full_windows"] if r["full_windows"] else ""),
                         r["rate_limited"], mib(r["peak_rss_kib"]), "%.1f" % r["cpu_s"], ratio])
    lines += table(["workload", "contestant", "verified", "exit", "wall s", "users/s", "API calls", "calls/user",
                    "ceiling (overall)", "ceiling (full windows, count)", "429s", "peak RSS", "CPU s",
                    "users/s vs baseline"], rows)
    lines += ["", "## Goals", ""]
    lines += table(["goal", "measured", "met"], goals(results, chosen, contestants))
    lines += ["", "## API calls by endpoint", ""]
    endpoints = sorted({e for r in results.values() for e in r["counts"]})
    lines += table(["workload", "contestant"] + ["`%s`" % e for e in endpoints],
                   [[w, c] + [results[(w, c)]["counts"].get(e, 0) for e in endpoints]
                    for w in chosen for c in contestants])
    lines += ["", "## Where the target's time goes", ""]
    rows = []
    for workload in chosen:
        r = results[(workload, "target")]
        windows = windows_text(r["windows_detail"])
        rows.append([workload, "%.2f" % (r["first_request_after_s"] or 0), "%.2f" % (r["last_answer_before_exit_s"] or 0),
                     "%.1f" % r["mean_in_flight"], r["max_in_flight"], windows,
                     "%.2f" % (1000 * r["cpu_s"] / r["users"]), "%.2f" % r["emulator_cpu_ms_per_request"],
                     r["summary"] or ""])
    lines += table(["workload", "s to first request", "s after last answer", "mean calls in flight",
                    "max calls in flight", "accepted calls per window (partial windows in parentheses)",
                    "target CPU ms per user (start-up included)", "emulator CPU ms per API call", "target's summary line"], rows)
    digests = sorted({r["target_source"] for r in results.values()})
    if len(digests) > 1:
        lines += ["", "**Warning:** target_intercom/**/*.py changed during this run; the runs did not all measure the "
                  "same code. Source digest per run: %s." % ", ".join(
                      "%s/%s %s" % (key[0], key[1], r["target_source"]) for key, r in results.items())]
    incomplete = [key for key, r in results.items() if not r["log_complete"]]
    if incomplete:
        lines.append("The emulator's request log (last 100,000 requests) did not cover all of %s; their window "
                     "figures use the covered windows only." % ", ".join("/".join(k) for k in incomplete))
    lines += ["", DEFINITIONS, "## Machine", ""] + machine_lines(info)
    lines += ["", "Command: `%s`" % " ".join([Path(sys.executable).name, "bench/run.py"] + sys.argv[1:])]
    return lines


def goals(results: Dict[Tuple[str, str], Dict[str, Any]], chosen: List[str], contestants: List[str]) -> List[List[str]]:
    rows: List[List[str]] = []

    def met(ok: bool) -> str:
        return "yes" if ok else "**no**"

    for workload, bound in (("new", 1.05), ("changed", 1.05), ("unchanged", 0.03)):
        if workload in chosen:
            value = results[(workload, "target")]["calls_per_user"]
            rows.append(["API calls per %s user ≤ %.2f" % (workload, bound), "%.4f" % value, met(value <= bound)])
    for workload in ("new", "changed"):
        if workload in chosen:
            r = results[(workload, "target")]
            rows.append(["≥ 90 %% of the rate-limit ceiling, %s (overall / full windows)" % workload,
                         "%s / %s" % (pct(r["ceiling_overall"]), pct(r["ceiling_windows"])),
                         "%s / %s" % (met(r["ceiling_overall"] >= 0.9),
                                      "n/a" if r["ceiling_windows"] is None else met(r["ceiling_windows"] >= 0.9))])
    if "baseline" in contestants:
        for workload in chosen:
            ratio = results[(workload, "target")]["users_per_s"] / results[(workload, "baseline")]["users_per_s"]
            if workload == "unchanged":
                rows.append(["≥ 10 × the baseline's users/s, unchanged", "%.1f ×" % ratio, met(ratio >= 10)])
            else:
                rows.append(["faster than the baseline, %s" % workload, "%.1f ×" % ratio, met(ratio > 1)])
    if BULK in contestants:
        for workload in ("new", "changed"):
            if workload in chosen:
                value = results[(workload, BULK)]["calls_per_user"]
                rows.append(["bulk mode: API calls per %s user ≤ 0.05" % workload, "%.4f" % value, met(value <= 0.05)])
    rows.append(["every run verified", ", ".join("%s/%s" % k for k, r in results.items() if not r["verified"])
                 or "all", met(all(r["verified"] for r in results.values()))])
    return rows


if __name__ == "__main__":
    sys.exit(main())
