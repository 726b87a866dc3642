"""The companies benchmark: target-intercom against the naive peer, six workloads, one emulator.

    .venv/bin/python bench/companies.py                         # all six workloads (~15 min)
    .venv/bin/python bench/companies.py --skip-baseline         # target-intercom only (~2 min)
    .venv/bin/python bench/companies.py --workloads attached,attach --users-per-company 100

It starts ``python -m intercom_emulator`` as run.py does (80 ms ± 10 ms a call,
10,000 calls a minute = 1,667 per 10-second window). For each workload (see
company_workloads.py) and each contestant it resets the emulator, seeds it,
runs the contestant as a subprocess on a Singer input file, reads what
happened from the emulator (request counts by endpoint, 429s, the request log)
and from ``os.wait4`` (exit code, peak RSS, CPU), then checks every company
(fields, custom attributes, attached users) and every contact. The naive peer
(companies_baseline.py: search the user, upsert the company, attach, per row) is
slow, so it gets the first ``--baseline-rows`` rows of the same input on the same
workspace, and the two are compared by rate. The report is printed on stdout and
written to ``bench/results/<timestamp>-companies.md``; inputs, logs and each run's
request timeline (CSV) go to ``bench/results/<timestamp>-companies/``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

sys.path.insert(0, str(Path(__file__).resolve().parent))

import company_workloads as cw  # noqa: E402
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
TARGET, BASELINE = "target", "baseline"
# The attached workload runs each contestant a second time on the same users without the companies field.
BARE = ", no companies field"
LISTING = ("POST /companies/list", "GET /companies/scroll")
LOOKUP = "GET /companies"
UPSERT = "POST /companies"
ATTACH = "POST /contacts/{id}/companies"

DEFINITIONS = """\
Definitions:

- **rows**: records in the contestant's input: companies (companies stream) or users (users stream).
  The baseline gets the first `--baseline-rows` of the target's rows (all of them in incremental),
  against the same seeded workspace; rates are compared, not totals.
- **verified**: exit code 0, the input's last STATE printed on stdout, and the emulator checked in full:
  every company (exactly one per expected company_id, no other, none archived) with the expected name,
  plan, size, monthly_spend, four typed custom attributes and no other, and exactly the expected users
  attached; and every contact still holding its values (no contact created or lost). Rows a contestant
  did not get must be as seeded.
- **wall s**: from starting the process to reaping it, interpreter start-up included. **rows/s** = rows ÷ wall s.
- **API calls**: every API request the emulator counted during the run, all endpoints, 429s included;
  **calls/row** = API calls ÷ rows.
- **ceiling (overall)** and **ceiling (full windows, count)**: as in run.py (bench/README.md): accepted
  calls ÷ wall s ÷ 166.7 calls/s; and the mean use of the fixed 10-second rate-limit windows that lie
  entirely inside the run (count in parentheses; n/a when there is none).
- **429s**: answers 429 the emulator sent. **peak RSS**: `ru_maxrss` of the contestant via
  `bench/measure_child.py`. **CPU s**: its user + system CPU.
- **vs baseline**: the target's rows/s ÷ the baseline's rows/s on the same workload in the same run.
- **listing calls**: `POST /companies/list` and `GET /companies/scroll` (reading the workspace's companies).
  **look-ups**: `GET /companies?company_id=` (the few companies the target looks up to tell a full re-sync
  from an incremental one). **upserts**: `POST /companies`. **attach calls**: `POST /contacts/{id}/companies`.
- **extra calls per user** (attached): (API calls with the companies field − API calls of the same users
  without it, in the same run) ÷ users.
- **calls per attachment** (attach): all API calls ÷ attachments the run made (checked in the emulator);
  the users are unchanged, so everything but the users' lookup is the attachments' cost.
"""


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description="target-intercom's companies vs the naive peer, on the emulator")
    parser.add_argument("--workloads", default=",".join(cw.WORKLOADS),
                        help="comma-separated, from %s (default: all)" % ", ".join(cw.WORKLOADS))
    parser.add_argument("--companies", type=int, default=5000,
                        help="companies in new, changed, unchanged and the incremental workspace (default 5000)")
    parser.add_argument("--incremental", type=int, default=100,
                        help="changed companies the incremental stream carries (default 100)")
    parser.add_argument("--users", type=int, default=2000, help="users in attached and attach (default 2000)")
    parser.add_argument("--users-per-company", type=int, default=10,
                        help="users per company in attached and attach (default 10)")
    parser.add_argument("--baseline-rows", type=int, default=300,
                        help="rows the baseline gets per workload (default 300)")
    parser.add_argument("--skip-baseline", action="store_true", help="run target-intercom only")
    parser.add_argument("--latency", type=float, default=0.08, help="emulator latency per call, s (default 0.08)")
    parser.add_argument("--jitter", type=float, default=0.01, help="uniform ± jitter on the latency (default 0.01)")
    parser.add_argument("--rate-limit", type=int, default=10_000,
                        help="emulator requests per minute (default 10000 = 1667 per 10 s window)")
    args = parser.parse_args(argv)
    chosen = [w.strip() for w in args.workloads.split(",") if w.strip()]
    unknown = [w for w in chosen if w not in cw.WORKLOADS]
    if unknown or not chosen:
        parser.error("--workloads takes %s (got %s)" % (", ".join(cw.WORKLOADS), args.workloads))
    for name in ("companies", "incremental", "users", "users_per_company", "baseline_rows"):
        if getattr(args, name) < 1:
            parser.error("--%s must be at least 1" % name.replace("_", "-"))

    report_path = results_path("-companies.md")
    run_dir = report_path.with_suffix("")
    run_dir.mkdir(parents=True, exist_ok=True)
    info = machine()
    log("results: %s (logs in %s/)" % (report_path, run_dir))
    results: Dict[Tuple[str, str], Dict[str, Any]] = {}
    with EmulatorProcess(TOKEN, args.latency, args.jitter, args.rate_limit, run_dir / "emulator.stderr") as emu:
        log("emulator at %s: latency %.3f s ± %.3f, %d requests/min (%d per 10 s window)"
            % (emu.url, args.latency, args.jitter, args.rate_limit, window_limit(args.rate_limit)))
        configs = {}
        for key, stream in (("users_stream", cw.USERS_STREAM), ("companies_stream", cw.STREAM)):
            path = run_dir / ("config-%s.json" % stream)
            path.write_text(json.dumps({"access_token": TOKEN, key: stream, "base_url": emu.url}))
            configs[stream] = path
        for workload in chosen:
            plan = cw.Plan(workload, companies=args.companies, incremental=args.incremental, users=args.users,
                           users_per_company=args.users_per_company)
            for contestant in contestants(workload, args.skip_baseline):
                results[(workload, contestant)] = run_one(emu, plan, contestant, configs, run_dir, args)
            if not args.skip_baseline:
                target, baseline = results[(workload, TARGET)], results[(workload, BASELINE)]
                log("[%s] target %.1f rows/s, baseline %.1f rows/s: %.1f x"
                    % (workload, target["rows_per_s"], baseline["rows_per_s"],
                       target["rows_per_s"] / baseline["rows_per_s"]))

    text = "\n".join(report(results, chosen, args, info)) + "\n"
    sys.stdout.write(text)
    report_path.write_text(text, encoding="utf-8")
    (run_dir / "metrics.json").write_text(json.dumps(
        {"%s/%s" % key: {k: v for k, v in value.items() if k != "windows_detail"} for key, value in results.items()},
        indent=1))
    log("written %s" % report_path)
    return 0 if all(r["verified"] for r in results.values()) else 1


def contestants(workload: str, skip_baseline: bool) -> List[str]:
    names = [TARGET] + ([TARGET + BARE] if workload == "attached" else [])
    if not skip_baseline:
        names += [BASELINE] + ([BASELINE + BARE] if workload == "attached" else [])
    return names


def run_one(emu: EmulatorProcess, plan: cw.Plan, contestant: str, configs: Dict[str, Path], run_dir: Path,
            args: argparse.Namespace) -> Dict[str, Any]:
    workload = plan.workload
    rows = plan.streamed()
    if contestant.startswith(BASELINE):
        rows = rows[: args.baseline_rows]
    with_companies = not contestant.endswith(BARE)
    input_path = run_dir / ("%s-%d%s.jsonl" % (workload, len(rows), "" if with_companies else "-bare"))
    if not input_path.exists():
        cw.write_singer_input(str(input_path), plan, rows, with_companies)

    emu.reset()
    body = cw.seed_body(plan)
    contacts = emu.seed(cw.ALL_DATA_ATTRIBUTES, body["contacts"])
    companies = emu.seed_companies(body["companies"])
    before = emu.stats()
    assert before["total"] == 0 and before["contacts"] == contacts and before["companies"] == companies, before
    digest = source_digest()
    noun = "users" if plan.users_stream else "companies"
    log("[%s] %s: %d %s; seeded %d companies, %d contacts" % (workload, contestant, len(rows), noun, companies,
                                                               contacts))
    config = configs[cw.USERS_STREAM if plan.users_stream else cw.STREAM]
    if contestant.startswith(TARGET):
        command = target_command(str(config))
    else:
        command = [sys.executable, str(BENCH / "companies_baseline.py"), "--config", str(config),
                   "--expected", str(len(rows)), "--user-field", cw.USER_FIELD]
    slug = "%s-%s" % (contestant.replace(BARE, "-bare"), workload)
    stdout_path, stderr_path = run_dir / (slug + ".stdout"), run_dir / (slug + ".stderr")
    run = run_contestant(emu, command, input_path, stdout_path, stderr_path, before,
                         tee=contestant.startswith(BASELINE), timeline_path=run_dir / (slug + ".requests.csv"))
    held_contacts = emu.contacts()
    # (In attached, every attachment is seeded: the same end state with or without the companies field.)
    check = cw.check_companies(emu.companies(), held_contacts, cw.expected_companies(plan, rows))
    contact_check = cw.check_contacts(held_contacts, plan)
    states = [line for line in stdout_path.read_text().splitlines() if line.strip()]
    state_ok = bool(states) and json.loads(states[-1]) == cw.final_state(plan, rows)
    child = run.child
    result = measure(child, run.stats, run.records, len(rows), args.rate_limit, noun="rows", per="row")
    counts = run.stats["counts"]
    seeded_attachments = sum(len(c.get("external_ids") or ()) for c in body["companies"])
    result.update({
        "workload": workload,
        "contestant": contestant,
        "noun": noun,
        "check": check,
        "contact_check": contact_check,
        "state_ok": state_ok,
        "states_printed": len(states),
        "verified": child.exit_code == 0 and state_ok and check["all_ok"] and contact_check["all_ok"],
        "summary": summary_line(stderr_path),
        "emulator_cpu_ms_per_request": run.emulator_cpu_ms_per_request,
        "target_source": digest,
        "listing_calls": sum(counts.get(e, 0) for e in LISTING),
        "lookups": counts.get(LOOKUP, 0),
        "upserts": counts.get(UPSERT, 0),
        "attach_calls": counts.get(ATTACH, 0),
        "attachments_made": check["attachments"] - seeded_attachments,
    })
    log("[%s] %s: exit %d, %.1f s, %.1f rows/s, %.4f calls/row, %d listing calls, %d 429s, peak RSS %s, %s"
        % (workload, contestant, child.exit_code, child.wall_seconds, result["rows_per_s"], result["calls_per_row"],
           result["listing_calls"], result["rate_limited"], mib(child.peak_rss_kib),
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
        why.append("%d/%d companies as expected, %d companies, %d duplicates; e.g. %s"
                   % (check["ok"], check["expected"], check["companies"], check["duplicates"],
                      "; ".join(check["problems"][:3]) or "-"))
    contacts = result["contact_check"]
    if not contacts["all_ok"]:
        why.append("%d/%d contacts as expected (%d held); e.g. %s"
                   % (contacts["ok"], contacts["expected"], contacts["contacts"], "; ".join(contacts["problems"][:3])))
    return ", ".join(why)


# ---- derived figures ------------------------------------------------------------------------------


def extra_per_user(results: Dict[Tuple[str, str], Dict[str, Any]], contestant: str) -> Optional[float]:
    """attached: (calls with the companies field − calls without it) ÷ users, for one contestant."""
    with_field, bare = results.get(("attached", contestant)), results.get(("attached", contestant + BARE))
    if with_field is None or bare is None:
        return None
    return (with_field["calls"] - bare["calls"]) / with_field["rows"]


def per_attachment(r: Dict[str, Any]) -> Optional[float]:
    return r["calls"] / r["attachments_made"] if r["attachments_made"] > 0 else None


def ratio(results: Dict[Tuple[str, str], Dict[str, Any]], workload: str, contestant: str) -> str:
    if contestant.startswith(BASELINE):
        return "—"
    other = results.get((workload, contestant.replace(TARGET, BASELINE)))
    if other is None:
        return "—"
    return "%.1f ×" % (results[(workload, contestant)]["rows_per_s"] / other["rows_per_s"])


def num(value: Optional[float], digits: int = 4) -> str:
    return "n/a" if value is None else "%.*f" % (digits, value)


# ---- the report -----------------------------------------------------------------------------------


def report(results: Dict[Tuple[str, str], Dict[str, Any]], chosen: List[str], args: argparse.Namespace,
           info: Dict[str, str]) -> List[str]:
    limit = window_limit(args.rate_limit)
    keys = [key for key in results if key[0] in chosen]
    lines = ["# target-intercom companies benchmark", ""]
    lines.append(
        "Emulator: latency %.0f ms ± %.0f ms per call, rate limit %d/min = %d per 10-second window (ceiling %.1f "
        "calls/s). target-intercom runs with default settings (base_url, token and `companies_stream` or "
        "`users_stream` only). Sizes: %d companies (new, changed, unchanged; the incremental workspace), an "
        "incremental stream of %d changed companies, %d users at %d users per company (attached, attach). "
        "The baseline is `bench/companies_baseline.py` (sequential SDK calls per row: search the user, `POST "
        "/companies`, attach); it is slow, so it gets the first %d rows of each input (all %d in incremental) "
        "against the same seeded workspace, and the comparison is of rates (rows/s), not of totals."
        % (args.latency * 1000, args.jitter * 1000, args.rate_limit, limit, limit / WINDOW_SECONDS, args.companies,
           args.incremental, args.users, args.users_per_company, args.baseline_rows,
           min(args.incremental, args.baseline_rows)))
    lines += ["", "## Goals", ""]
    lines += table(["goal", "from", "measured", "met"], goals(results, chosen))
    lines += ["", "## Results", ""]
    rows = []
    for key in keys:
        r = results[key]
        rows.append([key[0], key[1], "%d %s" % (r["rows"], r["noun"]),
                     "yes" if r["verified"] else "**NO**: " + describe_failure(r), "%.1f" % r["wall_s"],
                     "%.1f" % r["rows_per_s"], r["calls"], "%.4f" % r["calls_per_row"], pct(r["ceiling_overall"]),
                     pct(r["ceiling_windows"]) + (" (%d)" % r["full_windows"] if r["full_windows"] else ""),
                     r["rate_limited"], mib(r["peak_rss_kib"]), "%.1f" % r["cpu_s"], ratio(results, *key)])
    lines += table(["workload", "contestant", "rows", "verified", "wall s", "rows/s", "API calls", "calls/row",
                    "ceiling (overall)", "ceiling (full windows, count)", "429s", "peak RSS", "CPU s",
                    "rows/s vs baseline"], rows)
    lines += ["", "## Companies: reads, writes, attachments", ""]
    rows = []
    for key in keys:
        r = results[key]
        extra = extra_per_user(results, key[1]) if key[0] == "attached" and not key[1].endswith(BARE) else None
        rows.append([key[0], key[1], r["listing_calls"], r["lookups"], r["upserts"], "%.4f" % (r["upserts"] / r["rows"]),
                     r["attach_calls"], r["attachments_made"],
                     num(extra) if key[0] == "attached" and not key[1].endswith(BARE) else "—",
                     num(per_attachment(r), 3) if key[0] == "attach" else "—"])
    lines += table(["workload", "contestant", "listing calls", "look-ups", "upserts", "upserts/row", "attach calls",
                    "attachments made", "extra calls per user", "calls per attachment"], rows)
    lines += ["", "## API calls per row by endpoint", "", "Each cell: calls (calls ÷ rows).", ""]
    endpoints = sorted({e for key in keys for e in results[key]["counts"]})
    lines += table(["workload", "contestant"] + ["`%s`" % e for e in endpoints],
                   [[w, c] + [cell(results[(w, c)], e) for e in endpoints] for w, c in keys])
    lines += ["", "## Where the target's time goes", ""]
    rows = []
    for key in keys:
        if not key[1].startswith(TARGET):
            continue
        r = results[key]
        rows.append([key[0], key[1], "%.2f" % (r["first_request_after_s"] or 0),
                     "%.2f" % (r["last_answer_before_exit_s"] or 0), "%.1f" % r["mean_in_flight"], r["max_in_flight"],
                     windows_text(r["windows_detail"]), "%.2f" % r["emulator_cpu_ms_per_request"],
                     r["summary"] or ""])
    lines += table(["workload", "contestant", "s to first request", "s after last answer", "mean calls in flight",
                    "max calls in flight", "accepted calls per window (partial windows in parentheses)",
                    "emulator CPU ms per API call", "target's summary line"], rows)
    digests = sorted({results[key]["target_source"] for key in keys})
    if len(digests) > 1:
        lines += ["", "**Warning:** target_intercom/**/*.py changed during this run; the runs did not all measure "
                  "the same code. Source digest per run: %s." % ", ".join(
                      "%s/%s %s" % (key[0], key[1], results[key]["target_source"]) for key in keys)]
    incomplete = [key for key in keys if not results[key]["log_complete"]]
    if incomplete:
        lines.append("The emulator's request log (last 100,000 requests) did not cover all of %s; their window "
                     "figures use the covered windows only." % ", ".join("/".join(k) for k in incomplete))
    lines += ["", DEFINITIONS, "## Machine", ""] + machine_lines(info)
    lines += ["", "Command: `%s`" % " ".join([".venv/bin/python", "bench/companies.py"] + sys.argv[1:])]
    return lines


def cell(r: Dict[str, Any], endpoint: str) -> str:
    count = r["counts"].get(endpoint, 0)
    return "%d (%.4f)" % (count, count / r["rows"]) if count else "0"


def goals(results: Dict[Tuple[str, str], Dict[str, Any]], chosen: Sequence[str]) -> List[List[str]]:
    rows: List[List[str]] = []

    def met(ok: bool) -> str:
        return "yes" if ok else "**no**"

    def target(workload: str) -> Optional[Dict[str, Any]]:
        return results.get((workload, TARGET)) if workload in chosen else None

    r = target("new")
    if r is not None:
        rows.append(["new companies: ≤ 1.05 API calls each", "issue", "%.4f" % r["calls_per_row"],
                     met(r["calls_per_row"] <= 1.05)])
    r = target("changed")
    if r is not None:
        rows.append(["changed companies: API calls each (reported; no bound)", "brief", "%.4f" % r["calls_per_row"],
                     "—"])
    r = target("unchanged")
    if r is not None:
        rows.append(["unchanged companies, full re-sync of %d: ≤ 0.05 API calls each" % r["rows"], "issue",
                     "%.4f" % r["calls_per_row"], met(r["calls_per_row"] <= 0.05)])
    r = target("incremental")
    if r is not None:
        rows.append(["incremental (%d changed of a workspace of %d): does not read everything, at most one listing "
                     "page" % (r["rows"], r["check"]["expected"]), "issue, brief",
                     "%d listing calls, %d look-ups, %.2f calls per company" % (
                         r["listing_calls"], r["lookups"], r["calls_per_row"]), met(r["listing_calls"] <= 1)])
    extra = extra_per_user(results, TARGET) if "attached" in chosen else None
    if extra is not None:
        rows.append(["a user with an already attached company: ≤ 0.01 extra API calls", "issue", "%.4f" % extra,
                     met(extra <= 0.01)])
    r = target("attach")
    if r is not None:
        value = per_attachment(r)
        rows.append(["attach: API calls per attachment (reported: one attach, plus one look-up of the Intercom "
                     "id per company the workspace does not list)", "brief", num(value, 3), "—"])
    for workload in ("new", "changed", "attach"):
        r = target(workload)
        if r is not None:
            windows = r["ceiling_windows"]
            rows.append(["≥ 90 %% of the rate-limit ceiling, %s (full windows; overall)" % workload, "issue",
                         "%s (%d); %s" % (pct(windows), r["full_windows"], pct(r["ceiling_overall"])),
                         "n/a" if windows is None else met(windows >= 0.9)])
    rows.append(["every run verified", "brief",
                 ", ".join("%s/%s" % k for k, r in results.items() if not r["verified"]) or "all",
                 met(all(r["verified"] for r in results.values()))])
    return rows


if __name__ == "__main__":
    sys.exit(main())
