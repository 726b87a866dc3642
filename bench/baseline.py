"""The naive baseline: what peer targets do, one record at a time, with the python-intercom SDK.

For each RECORD of the users stream, in input order and strictly sequentially:

1. ``contacts.search`` for ``external_id = user_id`` (one call; the SDK pager is not
   iterated, because it never ends);
2. ``contacts.update`` of the first contact found, or ``contacts.create`` (role user)
   when none is, with every field of the record: user_id as external_id, email and
   name as core fields, everything else as custom attributes, date-time fields
   (by the SCHEMA's format) converted to Unix seconds.

Nothing clever: no comparison with what Intercom holds, no batching, no
concurrency. A 429 is retried once the window resets (X-RateLimit-Reset), as a
fair peer would; any other error is logged and the record counted as failed.
STATE values are printed on stdout as they are read (every record before them
has been written by then). Progress goes to stderr.

    python bench/baseline.py --config config.json < users.jsonl

The config is the target's (access_token, users_stream, base_url).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import datetime, timezone
from typing import Any, Callable, Dict, Optional, Set, Tuple, TypeVar

from intercom import Intercom
from intercom.core.api_error import ApiError

T = TypeVar("T")
CORE = {"user_id": "external_id", "email": "email", "name": "name"}


def unix_seconds(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return int(moment.timestamp())


class Baseline:
    def __init__(self, client: Intercom, stream: str, expected: int) -> None:
        self.client = client
        self.stream = stream
        self.expected = expected
        self.date_fields: Set[str] = set()
        self.counts = {"records": 0, "created": 0, "updated": 0, "failed": 0, "retried_429": 0}
        self.noun = "users"  # what progress lines call the records
        self.started = time.monotonic()
        self._last_progress = self.started

    def process(self, line: bytes) -> None:
        if not line.strip():
            return
        message = json.loads(line)
        kind = message.get("type")
        if kind == "SCHEMA" and message.get("stream") == self.stream:
            properties = message["schema"].get("properties") or {}
            self.date_fields = {name for name, spec in properties.items() if spec.get("format") == "date-time"}
        elif kind == "RECORD" and message.get("stream") == self.stream:
            self.upsert(message["record"])
        elif kind == "STATE":
            sys.stdout.write(json.dumps(message.get("value")) + "\n")
            sys.stdout.flush()

    def upsert(self, record: Dict[str, Any]) -> Optional[str]:
        """Search, then update or create; returns the contact's Intercom id (None if the write failed)."""
        self.counts["records"] += 1
        body: Dict[str, Any] = {}
        custom: Dict[str, Any] = {}
        for name, value in record.items():
            if name in self.date_fields:
                value = unix_seconds(value)
            if name in CORE:
                body[CORE[name]] = str(value) if name == "user_id" else value
            else:
                custom[name] = value
        if custom:
            body["custom_attributes"] = custom
        external_id = body.get("external_id")
        contact_id: Optional[str] = None
        try:
            found = self.search(external_id)
            if found is not None:
                contact_id = self.call(lambda: self.client.contacts.update(found.id, **body)).id
                self.counts["updated"] += 1
            else:
                contact_id = self.call(lambda: self.client.contacts.create(request={"role": "user", **body})).id
                self.counts["created"] += 1
        except ApiError as exc:
            self.counts["failed"] += 1
            sys.stderr.write("baseline: user_id %s failed: %s %s\n" % (external_id, exc.status_code, exc.body))
        self.progress()
        return contact_id

    def search(self, external_id: Any) -> Any:
        """The first contact search shows for external_id = the value (one page, one call), or None."""
        page = self.call(lambda: self.client.contacts.search(
            query={"field": "external_id", "operator": "=", "value": external_id}))
        return page.items[0] if page.items else None

    def call(self, send: Callable[[], T]) -> T:
        while True:
            try:
                return send()
            except ApiError as exc:
                if exc.status_code != 429:
                    raise
                self.counts["retried_429"] += 1
                reset = (exc.headers or {}).get("x-ratelimit-reset")
                wait = float(reset) - time.time() if reset else 1.0
                time.sleep(min(max(wait, 0.0) + 0.05, 11.0))

    def progress(self, final: bool = False) -> None:
        now = time.monotonic()
        if not final and now - self._last_progress < 15:
            return
        self._last_progress = now
        done = self.counts["records"]
        rate = done / (now - self.started) if now > self.started else 0.0
        eta = ""
        if self.expected and rate > 0 and not final:
            left = (self.expected - done) / rate
            eta = ", about %dm%02ds left" % (left // 60, left % 60)
        total = "/%d" % self.expected if self.expected else ""
        sys.stderr.write("baseline: %d%s %s, %.1f %s/s%s\n" % (done, total, self.noun, rate, self.noun, eta))
        sys.stderr.flush()


def load_client(config_path: str) -> Tuple[Dict[str, Any], Intercom]:
    """A peer's config file, and the SDK client it describes (what every naive peer starts from)."""
    with open(config_path, encoding="utf-8") as handle:
        config = json.load(handle)
    client = Intercom(
        token=config["access_token"],
        base_url=config.get("base_url") or "https://api.intercom.io",
        headers={"Intercom-Version": config.get("intercom_version", "2.14")},
    )
    return config, client


def run_peer(peer: Any, label: str) -> int:
    """Feed stdin to a peer row by row, then print its summary; exit 1 if a row failed."""
    for line in sys.stdin.buffer:
        peer.process(line)
    peer.progress(final=True)
    sys.stderr.write("%s: summary %s\n" % (label, json.dumps(peer.counts)))
    return 1 if peer.counts["failed"] else 0


def main(argv: Optional[list] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", required=True, help="JSON with access_token, users_stream, base_url")
    parser.add_argument("--expected", type=int, default=0, help="number of records, for the progress ETA")
    args = parser.parse_args(argv)
    config, client = load_client(args.config)
    return run_peer(Baseline(client, config.get("users_stream", "users"), args.expected), "baseline")


if __name__ == "__main__":
    sys.exit(main())
