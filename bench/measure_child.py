"""Run one command and record its exit code, wall time, CPU and peak RSS (for the benchmark scripts).

    python bench/measure_child.py RESULT.json -- COMMAND [ARG...]

Why a separate, small process: on Linux a child's ``ru_maxrss`` (from ``wait4``)
is the larger of its own peak and the peak RSS of the process that forked it,
because exec records the parent's high-water mark in the child's accounting.
A benchmark process that has just loaded 6,000 contacts from the emulator would
pass its own 80 MB on to every contestant it starts (a ``python -c pass`` child of
a 300 MB parent reports 300 MB). Started from this launcher, which stays at about
10 MB, a contestant's ``ru_maxrss`` is its own.

stdin, stdout and stderr pass straight through to the command. RESULT.json gets
``{"pid": ...}`` as soon as the command starts (so the caller can sample /proc),
then is replaced by the result when it ends. The exit code is the command's.
"""

import json
import os
import sys
import time


def main() -> int:
    if len(sys.argv) < 4 or sys.argv[2] != "--":
        sys.stderr.write(__doc__)
        return 2
    result_path, command = sys.argv[1], sys.argv[3:]
    started = time.time()
    t0 = time.monotonic()
    pid = os.posix_spawnp(command[0], command, os.environ)
    _write(result_path, {"pid": pid})
    while True:
        try:
            _, status, usage = os.wait4(pid, 0)
            break
        except InterruptedError:
            continue
    wall = time.monotonic() - t0
    code = os.waitstatus_to_exitcode(status)
    _write(result_path, {"pid": pid, "exit_code": code, "wall_seconds": wall, "started": started,
                         "ended": time.time(), "peak_rss_kib": usage.ru_maxrss,
                         "cpu_seconds": usage.ru_utime + usage.ru_stime})
    return code if 0 <= code < 256 else 1


def _write(path: str, data: dict) -> None:
    temporary = path + ".tmp"
    with open(temporary, "w") as out:
        json.dump(data, out)
    os.replace(temporary, path)


if __name__ == "__main__":
    sys.exit(main())
