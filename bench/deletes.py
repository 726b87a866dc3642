"""Calls per deletion: users deleted at the source (`_sdc_deleted_at`), counted from the emulator's request log.

    python bench/deletes.py [--users 1000] [--batch-size 100]

Seeds N users in a fresh in-process emulator, then runs the real CLI on N
tombstone records in each mode (stable archive, stable delete, bulk delete)
and prints the requests by endpoint, and per deleted user. No latency and no
rate limit: this counts calls, it does not time them.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any, Dict

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from intercom_emulator import Emulator  # noqa: E402

MODES: Dict[str, Dict[str, Any]] = {
    "stable archive": {"delete_mode": "archive"},
    "stable delete": {"delete_mode": "delete"},
    "bulk delete": {"delete_mode": "delete", "write_mode": "bulk"},
}


def measure(users: int, batch_size: int, settings: Dict[str, Any]) -> Dict[str, int]:
    with Emulator(token="bench", rate_limit_per_minute=None, bulk_task_delay=0.2) as emu:
        emu.seed_contacts(({"external_id": f"u{i}", "email": f"u{i}@example.com"} for i in range(users)), visible=True)
        lines = [{"type": "SCHEMA", "stream": "users", "key_properties": ["user_id"],
                  "schema": {"type": "object", "properties": {"user_id": {"type": "string"}}}}]
        lines += [{"type": "RECORD", "stream": "users", "record": {"user_id": f"u{i}", "_sdc_deleted_at": "2026-01-01"}}
                  for i in range(users)]
        lines.append({"type": "STATE", "value": {"done": True}})
        config = {"access_token": "bench", "base_url": emu.url, "users_stream": "users", "batch_size": batch_size,
                  **settings}
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp, "config.json")
            path.write_text(json.dumps(config))
            env = {**os.environ, "PYTHONPATH": str(REPO)}
            done = subprocess.run([sys.executable, "-m", "target_intercom", "--config", str(path)],
                                  input="\n".join(map(json.dumps, lines)).encode(), capture_output=True, env=env)
        if done.returncode != 0:
            raise SystemExit(done.stderr.decode()[-2000:])
        live = len(emu.contacts())
        if live:
            raise SystemExit(f"{live} users were not removed")
        return emu.counts()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--batch-size", type=int, default=100)
    args = parser.parse_args()
    for name, settings in MODES.items():
        counts = measure(args.users, args.batch_size, settings)
        total = sum(counts.values())
        detail = ", ".join(f"{endpoint} {n}" for endpoint, n in sorted(counts.items()))
        print(f"{name}: {total} requests for {args.users} users = {total / args.users:.3f} per deletion ({detail})")


if __name__ == "__main__":
    main()
