"""The naive events peer: what peer integrations do with a stream of events, one at a time, with the SDK.

For each RECORD of the events stream, in input order and strictly sequentially:

1. ``contacts.search`` for ``external_id = user_id`` (one call; the pager is not iterated);
2. ``events.create`` naming the contact found by its Intercom id, with ``created_at``
   as Unix seconds and every other field of the record as metadata. An event whose
   user is not found is counted as skipped.

A 429 is retried once the window resets (X-RateLimit-Reset); any other error is
logged and the event counted as failed. STATE values are printed as they are read.

    python bench/events_baseline.py --config config.json < events.jsonl

The config is the target's (access_token, events_stream, base_url).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any, Callable, Dict, Optional, TypeVar

from intercom import Intercom
from intercom.core.api_error import ApiError

from baseline import load_client, run_peer, unix_seconds

T = TypeVar("T")
OWN_FIELDS = ("event_name", "created_at", "user_id")


class EventsPeer:
    def __init__(self, client: Intercom, stream: str, expected: int) -> None:
        self.client = client
        self.stream = stream
        self.expected = expected
        self.counts = {"records": 0, "sent": 0, "skipped": 0, "failed": 0, "retried_429": 0}
        self.started = time.monotonic()
        self._last_progress = self.started

    def process(self, line: bytes) -> None:
        if not line.strip():
            return
        message = json.loads(line)
        kind = message.get("type")
        if kind == "RECORD" and message.get("stream") == self.stream:
            self.send(message["record"])
        elif kind == "STATE":
            sys.stdout.write(json.dumps(message.get("value")) + "\n")
            sys.stdout.flush()

    def send(self, record: Dict[str, Any]) -> None:
        self.counts["records"] += 1
        user_id = str(record["user_id"])
        metadata = {k: v for k, v in record.items() if k not in OWN_FIELDS and v is not None}
        try:
            page = self.call(lambda: self.client.contacts.search(
                query={"field": "external_id", "operator": "=", "value": user_id}))
            found = page.items[0] if page.items else None
            if found is None:
                self.counts["skipped"] += 1
            else:
                # A plain dict: the SDK's model types metadata values as strings (the 2.14 schema), though
                # Intercom takes numbers too.
                request: Dict[str, Any] = {
                    "event_name": record["event_name"],
                    "created_at": unix_seconds(record["created_at"]),
                    "id": found.id,
                }
                if metadata:
                    request["metadata"] = metadata
                self.call(lambda: self.client.events.create(request=request))  # type: ignore[arg-type]
                self.counts["sent"] += 1
        except ApiError as exc:
            self.counts["failed"] += 1
            sys.stderr.write("events peer: user_id %s failed: %s %s\n" % (user_id, exc.status_code, exc.body))
        self.progress()

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
        total = "/%d" % self.expected if self.expected else ""
        sys.stderr.write("events peer: %d%s events, %.1f events/s\n" % (done, total, rate))
        sys.stderr.flush()


def main(argv: Optional[list] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", required=True, help="JSON with access_token, events_stream, base_url")
    parser.add_argument("--expected", type=int, default=0, help="number of records, for the progress line")
    args = parser.parse_args(argv)
    config, client = load_client(args.config)
    return run_peer(EventsPeer(client, config.get("events_stream", "events"), args.expected), "events peer")

if __name__ == "__main__":
    sys.exit(main())
