"""What a run did, counted, and reported on stderr while it runs.

Every `interval` seconds a progress line (users read and written, users per
second, time spent waiting for the rate limit) and Singer METRIC lines (record
counts by outcome, HTTP request timers by endpoint and status) go to the log;
the same once more at the end, followed by the summary line. Nothing here
names a user: logs at INFO hold no personal data.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Callable, Dict, Mapping, Optional, Tuple

from singer.metrics import Point
from singer.metrics import log as log_metric

logger = logging.getLogger(__name__)

OUTCOMES = ("created", "updated", "unchanged", "rejected")


class RunStats:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Dict[str, int] = {"read": 0, **{outcome: 0 for outcome in OUTCOMES}}
        self.started = time.monotonic()

    def add(self, outcome: str, amount: int = 1) -> None:
        with self._lock:
            self._counts[outcome] += amount

    def snapshot(self) -> Dict[str, int]:
        with self._lock:
            return dict(self._counts)


RequestTotals = Mapping[str, Tuple[int, float]]


class Reporter:
    """Progress lines and Singer metrics every `interval` seconds, on a thread of its own."""

    def __init__(
        self,
        stats: RunStats,
        requests: Callable[[], RequestTotals],
        rate_limit_wait: Callable[[], float],
        stream: str,
        interval: float = 10.0,
    ) -> None:
        self._stats = stats
        self._requests = requests
        self._rate_limit_wait = rate_limit_wait
        self._stream = stream
        self._interval = interval
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None
        self._counts_reported: Dict[str, int] = {}
        self._requests_reported: Dict[str, Tuple[int, float]] = {}

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="progress", daemon=True)
        self._thread.start()

    def finish(self, dry_run: bool) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self._emit_metrics()
        logger.info("%s", self.summary(dry_run))

    def summary(self, dry_run: bool) -> str:
        counts = self._stats.snapshot()
        elapsed = max(time.monotonic() - self._stats.started, 1e-9)
        total_requests = sum(count for count, _ in self._requests().values())
        planned = "planned (dry run): " if dry_run else ""
        return (
            f"summary: {counts['read']} users read; {planned}created {counts['created']}, "
            f"updated {counts['updated']}, unchanged {counts['unchanged']}, rejected {counts['rejected']}; "
            f"{total_requests} API requests in {elapsed:.1f} s ({_settled(counts) / elapsed:.1f} users/s); "
            f"{self._rate_limit_wait():.1f} s waiting for the rate limit"
        )

    def _loop(self) -> None:
        while not self._stop.wait(self._interval):
            self._progress()
            self._emit_metrics()

    def _progress(self) -> None:
        counts = self._stats.snapshot()
        elapsed = max(time.monotonic() - self._stats.started, 1e-9)
        written = counts["created"] + counts["updated"]
        logger.info(
            "progress: %d users read, %d written (created %d, updated %d), unchanged %d, rejected %d; "
            "%.1f users/s; %.1f s waiting for the rate limit",
            counts["read"],
            written,
            counts["created"],
            counts["updated"],
            counts["unchanged"],
            counts["rejected"],
            _settled(counts) / elapsed,
            self._rate_limit_wait(),
        )

    def _emit_metrics(self) -> None:
        counts = self._stats.snapshot()
        for outcome in OUTCOMES:
            delta = counts[outcome] - self._counts_reported.get(outcome, 0)
            if delta:
                counter_tags = {"endpoint": self._stream, "outcome": outcome}
                log_metric(logger, Point("counter", "record_count", delta, counter_tags))
        self._counts_reported = counts
        for key, (count, seconds) in sorted(self._requests().items()):
            before_count, before_seconds = self._requests_reported.get(key, (0, 0.0))
            if count == before_count:
                continue
            endpoint, status = key.rsplit(" ", 1)
            timer_tags: Dict[str, object] = {
                "endpoint": endpoint,
                "status": "succeeded" if status == "ok" else "failed",
                "http_status_code": int(status) if status.isdigit() else None,
                "requests": count - before_count,
            }
            mean = (seconds - before_seconds) / (count - before_count)
            log_metric(logger, Point("timer", "http_request_duration", round(mean, 6), _no_none(timer_tags)))
            self._requests_reported[key] = (count, seconds)


def _settled(counts: Mapping[str, int]) -> int:
    return sum(counts[outcome] for outcome in OUTCOMES)


def _no_none(tags: Dict[str, object]) -> Dict[str, object]:
    return {k: v for k, v in tags.items() if v is not None}

