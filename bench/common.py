"""Shared by the benchmark scripts: the emulator as a subprocess, measured child processes, the machine."""

from __future__ import annotations

import csv
import json
import math
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, Any, Dict, Iterable, List, Optional, Sequence, Tuple

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
RESULTS = BENCH / "results"
WINDOW_SECONDS = 10


def log(message: str) -> None:
    sys.stderr.write("[%s] %s\n" % (time.strftime("%H:%M:%S"), message))
    sys.stderr.flush()


def window_limit(per_minute: int) -> int:
    """Requests the emulator (like Intercom) allows per 10-second window for a per-minute quota."""
    return int(math.ceil(per_minute / 6))


# ---- the emulator --------------------------------------------------------------------------------


class EmulatorProcess:
    """``python -m intercom_emulator`` in a subprocess, driven through its admin HTTP interface."""

    def __init__(self, token: str, latency: float, jitter: float, rate_limit: int, log_path: Path,
                 bulk_task_delay: float = 0.2) -> None:
        self.token = token
        self.bulk_task_delay = bulk_task_delay
        self.latency = latency
        self.jitter = jitter
        self.rate_limit = rate_limit
        self._log_path = log_path
        self._log: Optional[IO[bytes]] = None
        self.proc: Optional[subprocess.Popen] = None
        self.url = ""

    def __enter__(self) -> "EmulatorProcess":
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
        command = [sys.executable, "-m", "intercom_emulator", "--port", "0", "--token", self.token,
                   "--latency", repr(self.latency), "--jitter", repr(self.jitter),
                   "--rate-limit", str(self.rate_limit), "--bulk-task-delay", repr(self.bulk_task_delay)]
        self._log = open(self._log_path, "wb")
        self.proc = subprocess.Popen(command, cwd=str(REPO), env=env, stdout=subprocess.PIPE, stderr=self._log,
                                     stdin=subprocess.DEVNULL)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().decode().strip()
        if "listening on " not in line:
            self.__exit__()
            raise RuntimeError("the emulator did not start (%r); see %s" % (line, self._log_path))
        self.url = line.rsplit(" ", 1)[1]
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc is not None and self.proc.stdout is not None:
            self.proc.stdout.close()
        if self._log is not None:
            self._log.close()

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def admin(self, method: str, action: str, body: Any = None, timeout: float = 600) -> Any:
        data = None if body is None else json.dumps(body, separators=(",", ":")).encode()
        request = urllib.request.Request(self.url + "/_emulator/" + action, data=data, method=method,
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return json.loads(response.read())

    def reset(self) -> None:
        self.admin("POST", "reset")

    def seed(self, data_attributes: List[Dict[str, Any]], contacts: Iterable[Dict[str, Any]],
             chunk: int = 20_000) -> int:
        """Seed through POST /_emulator/seed, in chunks so that neither side holds a huge body."""
        self.admin("POST", "seed", {"data_attributes": data_attributes, "contacts": [], "visible": True})
        sent = 0
        batch: List[Dict[str, Any]] = []
        for contact in contacts:
            batch.append(contact)
            if len(batch) >= chunk:
                sent += self.admin("POST", "seed", {"contacts": batch, "visible": True})["contacts"]
                batch = []
        if batch:
            sent += self.admin("POST", "seed", {"contacts": batch, "visible": True})["contacts"]
        return sent

    def seed_companies(self, companies: Iterable[Dict[str, Any]], chunk: int = 2_000) -> int:
        """Seed companies (with ``external_ids`` of seeded contacts to attach) through POST /_emulator/seed."""
        sent = 0
        batch: List[Dict[str, Any]] = []
        for company in companies:
            batch.append(company)
            if len(batch) >= chunk:
                sent += self.admin("POST", "seed", {"companies": batch})["companies"]
                batch = []
        if batch:
            sent += self.admin("POST", "seed", {"companies": batch})["companies"]
        return sent

    def stats(self) -> Dict[str, Any]:
        return self.admin("GET", "stats")

    def requests(self, limit: int) -> List[Dict[str, Any]]:
        return self.admin("GET", "requests?limit=%d" % max(1, limit))["requests"]

    def contacts(self) -> List[Dict[str, Any]]:
        return self.admin("GET", "contacts?include_archived=1")["contacts"]

    def companies(self) -> List[Dict[str, Any]]:
        """Every company (those without users too, archived ones too), with ``archived`` and ``contact_ids``."""
        return self.admin("GET", "companies?include_archived=1")["companies"]


# ---- measured child processes ------------------------------------------------------------------


@dataclass
class ChildResult:
    exit_code: int
    wall_seconds: float
    started: float  # time.time() just before the command was started
    ended: float  # time.time() just after it was reaped
    peak_rss_kib: int  # the command's own ru_maxrss (KiB on Linux), via measure_child.py
    cpu_seconds: float  # user + system CPU of the command
    samples: List[Dict[str, Any]] = field(default_factory=list)
    polled_hwm_kib: Optional[int] = None  # the largest VmHWM read from /proc while sampling (a cross-check)


def target_command(config_path: str) -> List[str]:
    """The installed ``target-intercom`` console script next to this interpreter, else ``-m``."""
    script = Path(sys.executable).parent / "target-intercom"
    if script.exists():
        return [str(script), "--config", config_path]
    found = shutil.which("target-intercom")
    if found:
        return [found, "--config", config_path]
    return [sys.executable, "-m", "target_intercom", "--config", config_path]


def run_measured(command: Sequence[str], *, stdin: Any, stdout: Any, stderr: Any,
                 feed: Optional[Iterable[str]] = None, sample_every: float = 0.0,
                 progress: Optional[List[int]] = None, tee_stderr: Optional[IO[bytes]] = None) -> ChildResult:
    """Run a command to its end under measure_child.py: exit code, wall time, CPU and peak RSS.

    The command's ``ru_maxrss`` comes from ``os.wait4`` in that small launcher, not
    in this process (see measure_child.py for why). With ``feed``, ``stdin`` must be
    ``subprocess.PIPE``: the lines are written to the command's stdin as they are
    generated (nothing is held in memory), then stdin is closed. With
    ``sample_every``, VmRSS and VmHWM are read from /proc every that many seconds,
    with the number of lines fed so far (``progress[0]``). With ``tee_stderr`` (and
    ``stderr=subprocess.PIPE``), the command's stderr goes both to that file and to ours.
    """
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    fd, result_path = tempfile.mkstemp(prefix="bench-child-", suffix=".json")
    os.close(fd)
    os.unlink(result_path)
    launcher = [sys.executable, str(BENCH / "measure_child.py"), result_path, "--"] + list(command)
    proc = subprocess.Popen(launcher, stdin=stdin, stdout=stdout, stderr=stderr, cwd=str(REPO), env=env)
    samples: List[Dict[str, Any]] = []
    hwm: List[int] = []
    tee = None
    if tee_stderr is not None:
        tee = threading.Thread(target=_tee, args=(proc.stderr, tee_stderr), daemon=True)
        tee.start()
    stop = threading.Event()
    sampler = None
    if sample_every > 0:
        sampler = threading.Thread(target=_sample_rss, args=(result_path, sample_every, stop, samples, hwm, progress),
                                   daemon=True)
        sampler.start()
    if feed is not None:
        assert proc.stdin is not None
        try:
            buffer: List[str] = []
            for line in feed:
                buffer.append(line)
                if len(buffer) >= 500:
                    proc.stdin.write("".join(buffer).encode())
                    if progress is not None:
                        progress[0] += len(buffer)
                    buffer = []
            if buffer:
                proc.stdin.write("".join(buffer).encode())
                if progress is not None:
                    progress[0] += len(buffer)
        except BrokenPipeError:
            pass  # the command stopped reading (it failed); its exit code tells
        finally:
            try:
                proc.stdin.close()
            except BrokenPipeError:
                pass
    proc.wait()
    stop.set()
    if sampler is not None:
        sampler.join()
    if tee is not None:
        tee.join()
        proc.stderr.close()
    try:
        with open(result_path) as handle:
            result = json.load(handle)
        os.unlink(result_path)
    except (OSError, ValueError):
        raise RuntimeError("measure_child.py did not report (exit code %s): %s" % (proc.returncode, launcher))
    if "exit_code" not in result:
        raise RuntimeError("measure_child.py stopped before its command ended (exit code %s)" % proc.returncode)
    return ChildResult(exit_code=result["exit_code"], wall_seconds=result["wall_seconds"],
                       started=result["started"], ended=result["ended"], peak_rss_kib=result["peak_rss_kib"],
                       cpu_seconds=result["cpu_seconds"], samples=samples, polled_hwm_kib=max(hwm) if hwm else None)


@dataclass
class ContestantRun:
    """One contestant's run against the emulator: the process, and what the emulator saw of it."""

    child: ChildResult
    stats: Dict[str, Any]  # the emulator's stats after the run (counters were reset before it)
    records: List[Dict[str, Any]]  # the emulator's request log of the run
    emulator_cpu_ms_per_request: float


def run_contestant(emu: EmulatorProcess, command: Sequence[str], input_path: Path, stdout_path: Path,
                   stderr_path: Path, before: Dict[str, Any], *, tee: bool = False,
                   timeline_path: Optional[Path] = None) -> ContestantRun:
    """Run a contestant on an input file under measure_child.py and read the emulator's counters and log.

    ``before`` is the emulator's stats just before the run (after reset and seeding). With ``tee``,
    the contestant's stderr also goes to ours (the baselines' progress lines). With ``timeline_path``,
    the request log is written there as CSV.
    """
    with open(input_path, "rb") as stdin, open(stdout_path, "wb") as stdout, open(stderr_path, "wb") as stderr:
        if tee:
            child = run_measured(command, stdin=stdin, stdout=stdout, stderr=subprocess.PIPE, tee_stderr=stderr,
                                 sample_every=0.5)
        else:
            child = run_measured(command, stdin=stdin, stdout=stdout, stderr=stderr, sample_every=0.5)
    stats = emu.stats()
    cpu_before, cpu_after = before["server_cpu"], stats["server_cpu"]
    handled = cpu_after["handled"] - cpu_before["handled"] - 1  # less the stats request itself
    emulator_cpu_ms = 1000 * (cpu_after["cpu_seconds"] - cpu_before["cpu_seconds"]) / max(1, handled)
    records = emu.requests(stats["total"] + 10)
    if timeline_path is not None:
        write_timeline(timeline_path, records)
    return ContestantRun(child, stats, records, emulator_cpu_ms)


def write_timeline(path: Path, records: List[Dict[str, Any]]) -> None:
    with open(path, "w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["time", "duration", "endpoint", "status"])
        for r in records:
            writer.writerow(["%.4f" % r["time"], "%.4f" % r["duration"], r["endpoint"], r["status"]])


# ---- figures of a run ----------------------------------------------------------------------------


def measure(child: ChildResult, stats: Dict[str, Any], records: List[Dict[str, Any]], n: int,
            rate_limit: int, noun: str = "users", per: str = "user") -> Dict[str, Any]:
    """The figures of one run of n items: keys ``<noun>``, ``<noun>_per_s`` and ``calls_per_<per>``, and the rest."""
    limit = window_limit(rate_limit)
    total = stats["total"]
    rate_limited = stats["rate_limited"]
    accepted = total - rate_limited
    wall = child.wall_seconds
    windows, detail, log_complete = full_windows(records, child.started, child.ended, limit, total)
    spans = [(r["time"], r["time"] + r["duration"]) for r in records]
    first = min((s for s, _ in spans), default=None)
    last = max((e for _, e in spans), default=None)
    return {
        noun: n,
        "exit_code": child.exit_code,
        "wall_s": wall,
        noun + "_per_s": n / wall,
        "calls": total,
        "calls_per_" + per: total / n,
        "counts": stats["counts"],
        "rate_limited": rate_limited,
        "ceiling_overall": (accepted / wall) / (limit / WINDOW_SECONDS),
        "ceiling_windows": statistics.mean(windows) if windows else None,
        "full_windows": len(windows),
        "windows_detail": detail,
        "log_complete": log_complete,
        "peak_rss_kib": child.peak_rss_kib,
        "polled_hwm_kib": child.polled_hwm_kib,
        "cpu_s": child.cpu_seconds,
        "first_request_after_s": (first - child.started) if first is not None else None,
        "last_answer_before_exit_s": (child.ended - last) if last is not None else None,
        "mean_in_flight": sum(e - s for s, e in spans) / (last - first) if spans and last > first else 0.0,
        "max_in_flight": max_in_flight(spans),
    }


def full_windows(records: List[Dict[str, Any]], started: float, ended: float, limit: int,
                 total: int) -> Tuple[List[float], List[Dict[str, Any]], bool]:
    """Utilisation of each rate-limit window touched by the run; the list holds the full windows only."""
    log_complete = len(records) >= total
    covered_from = started if log_complete else min((r["time"] for r in records), default=ended)
    per_window: Dict[int, int] = {}
    refused: Dict[int, int] = {}
    for r in records:
        window = int((r["time"] + r["duration"]) // WINDOW_SECONDS)
        if r["status"] == 429:
            refused[window] = refused.get(window, 0) + 1
        else:
            per_window[window] = per_window.get(window, 0) + 1
    first_full = int(math.ceil(covered_from / WINDOW_SECONDS))
    last_full = int(ended // WINDOW_SECONDS) - 1  # the last window that ends before the run did
    detail = []
    for window in range(int(started // WINDOW_SECONDS), int(ended // WINDOW_SECONDS) + 1):
        detail.append({"window_start": window * WINDOW_SECONDS, "full": first_full <= window <= last_full,
                       "accepted": per_window.get(window, 0), "refused": refused.get(window, 0)})
    shares = [per_window.get(w, 0) / limit for w in range(first_full, last_full + 1)]
    return shares, detail, log_complete


def max_in_flight(spans: List[Tuple[float, float]]) -> int:
    events = sorted([(s, 1) for s, _ in spans] + [(e, -1) for _, e in spans], key=lambda x: (x[0], x[1]))
    current = peak = 0
    for _, delta in events:
        current += delta
        peak = max(peak, current)
    return peak


def windows_text(detail: List[Dict[str, Any]]) -> str:
    """Accepted calls per rate-limit window, partial windows in parentheses, 429s as +N×429."""
    return ", ".join("%s%d%s" % ("" if w["full"] else "(", w["accepted"], "" if w["full"] else ")")
                     + ("+%d×429" % w["refused"] if w["refused"] else "") for w in detail)


def pct(value: Optional[float]) -> str:
    return "n/a" if value is None else "%.1f %%" % (100 * value)


def _tee(source: IO[bytes], copy: IO[bytes]) -> None:
    for line in iter(source.readline, b""):
        copy.write(line)
        copy.flush()
        sys.stderr.write(line.decode(errors="replace"))
        sys.stderr.flush()


def _sample_rss(result_path: str, every: float, stop: threading.Event, samples: List[Dict[str, Any]],
                hwm: List[int], progress: Optional[List[int]]) -> None:
    pid = None
    t0 = time.monotonic()
    while not stop.wait(every):
        if pid is None:
            try:
                with open(result_path) as handle:
                    pid = json.load(handle)["pid"]
            except (OSError, ValueError, KeyError):
                continue
        rss, peak = read_status_kib(pid, "VmRSS"), read_status_kib(pid, "VmHWM")
        if rss is None or peak is None:
            return  # it has ended (a zombie has no Vm* lines)
        hwm.append(peak)
        samples.append({"t": round(time.monotonic() - t0, 1), "lines_fed": progress[0] if progress else None,
                        "rss_kib": rss})


def read_status_kib(pid: int, key: str) -> Optional[int]:
    try:
        with open("/proc/%d/status" % pid) as status:
            for line in status:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


# ---- the machine ----------------------------------------------------------------------------------


def machine() -> Dict[str, str]:
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    ram = read_meminfo_kib("MemTotal")
    return {
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC"),
        "cpu": cpu,
        "cores": str(os.cpu_count()),
        "ram": "%.1f GiB" % (ram / 1024 / 1024) if ram else "unknown",
        "python": "%s (%s)" % (platform.python_version(), sys.executable),
        "os": "%s %s" % (platform.system(), platform.release()),
        "code": git_description(),
    }


def read_meminfo_kib(key: str) -> Optional[int]:
    try:
        with open("/proc/meminfo") as info:
            for line in info:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def git_description() -> str:
    """The commit measured, and the files of the target and emulator that differ from it."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=str(REPO), capture_output=True,
                              text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "target_intercom", "intercom_emulator",
                                "setup.py"], cwd=str(REPO), capture_output=True, text=True,
                               timeout=10).stdout.split("\n")
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    changed = [line[3:] for line in dirty if line.strip()]
    if changed:
        return "%s + uncommitted changes to %s" % (head or "?", ", ".join(changed))
    return head or "unknown"


def source_digest() -> str:
    """A short hash of target_intercom/**/*.py as they are now (the target is installed in editable mode)."""
    import hashlib

    digest = hashlib.sha256()
    root = REPO / "target_intercom"
    for path in sorted(root.rglob("*.py")):
        digest.update(str(path.relative_to(root)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def machine_lines(info: Dict[str, str]) -> List[str]:
    return ["| | |", "|---|---|"] + ["| %s | %s |" % (key, value) for key, value in info.items()]


def results_path(suffix: str) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    return RESULTS / ("%s%s" % (stamp, suffix))


def table(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> List[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    for row in rows:
        lines.append("| " + " | ".join(str(cell) for cell in row) + " |")
    return lines


def mib(kib: int) -> str:
    """KiB as MiB (1 MiB = 1,048,576 bytes; 150 MB = 143.1 MiB)."""
    return "%.1f MiB" % (kib / 1024)


def summary_line(stderr_path: Path) -> Optional[str]:
    """The target's final summary line in a run's stderr (else its last line)."""
    try:
        lines = stderr_path.read_text(errors="replace").splitlines()
    except OSError:
        return None
    found = [line for line in lines if "summary:" in line]
    return found[-1] if found else (lines[-1] if lines else None)
