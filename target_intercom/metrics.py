"""What a run did, counted per stream, and reported on stderr while it runs.

Every `interval` seconds a progress line (records read and what became of
them, records per second, time spent waiting for the rate limit) and Singer
METRIC lines (record counts by stream and outcome, HTTP request timers by
endpoint and status) go to the log; the same once more at the end, followed
by the summary line. Nothing here names a user: logs at INFO hold no personal
data.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Callable, Dict, List, Mapping, Optional, Sequence, Tuple

from singer.metrics import Point
from singer.metrics import log as log_metric

from target_intercom.deletes import ALREADY_GONE, ARCHIVED, DELETED

logger = logging.getLogger(__name__)

READ = "read"
SKIPPED = "skipped"
# Counted about records, not an end of their own: a record whose text was cut is also created, updated, ...
TRUNCATED = "truncated"
NOTES = frozenset((TRUNCATED,))
# How a dry run's plan names an outcome.
_PLAN_VERBS = {
    "created": "create",
    "updated": "update",
    "rejected": "reject",
    "sent": "send",
    TRUNCATED: "truncate",
    ARCHIVED: "archive",
    DELETED: "delete",
}
# Outcomes of records deleted at the source: they settle a record like the stream's own outcomes.
REMOVALS = frozenset((ARCHIVED, DELETED, ALREADY_GONE))


@dataclass(frozen=True)
class StreamReport:
    """How one stream is reported: its noun ("users") and the outcomes always shown, in order.

    Other counts of the stream (skips, "companies attached", ...) are shown
    when there are any. `records` False: objects written on behalf of another
    stream's records (companies named by user records), not records read.
    """

    stream: str
    noun: str
    outcomes: Sequence[str]
    records: bool = True

    def ends(self, outcome: str) -> bool:
        """Whether the outcome ends what was written (not "tags added", "companies attached", ...)."""
        return outcome in self.outcomes or outcome in REMOVALS or outcome.startswith(SKIPPED)

    def settled(self, outcome: str) -> bool:
        """Whether the outcome ends one of the stream's records."""
        return self.records and self.ends(outcome)


class RunStats:
    """Records counted by stream and outcome ("read", "created", "skipped (archived in Intercom)", ...)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Dict[Tuple[str, str], int] = {}
        self.started = time.monotonic()

    def add(self, stream: str, outcome: str, amount: int = 1) -> None:
        with self._lock:
            key = (stream, outcome)
            self._counts[key] = self._counts.get(key, 0) + amount

    def snapshot(self) -> Dict[Tuple[str, str], int]:
        with self._lock:
            return dict(self._counts)


RequestTotals = Mapping[str, Tuple[int, float]]


class Reporter:
    """Progress lines and Singer metrics every `interval` seconds, on a thread of its own."""

    def __init__(
        self,
        stats: RunStats,
        streams: Sequence[StreamReport],
        requests: Callable[[], RequestTotals],
        rate_limit_wait: Callable[[], float],
        interval: float = 10.0,
    ) -> None:
        self._stats = stats
        self._streams = list(streams)
        self._requests = requests
        self._rate_limit_wait = rate_limit_wait
        self._interval = interval
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None
        self._counts_reported: Dict[Tuple[str, str], int] = {}
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
        total_requests = sum(count for count, _ in self._requests().values())
        planned = "planned (dry run): " if dry_run else ""
        parts = [
            f"{self._read(stream, counts)}{'; ' if stream.records else ': '}{planned}{self._outcomes(stream, counts)}"
            for stream in self._shown(counts)
        ]
        return (
            f"summary: {'; '.join(parts)}; {total_requests} API requests in {self._elapsed():.1f} s "
            f"({self._rate(counts)}); {self._rate_limit_wait():.1f} s waiting for the rate limit"
        )

    def plan(self) -> str:
        """A dry run's counts: what each record would have become."""
        counts = self._stats.snapshot()
        shown = self._shown(counts)
        parts = [self._outcomes(stream, counts, verbs=True) for stream in shown]
        if len(shown) > 1:
            parts = [f"{stream.noun}: {part}" for stream, part in zip(shown, parts)]
        return "plan (dry run, nothing was written): " + "; ".join(parts)

    def _loop(self) -> None:
        while not self._stop.wait(self._interval):
            self._progress()
            self._emit_metrics()

    def _progress(self) -> None:
        counts = self._stats.snapshot()
        parts = [f"{self._read(stream, counts)} ({self._outcomes(stream, counts)})" for stream in self._shown(counts)]
        logger.info(
            "progress: %s; %s; %.1f s waiting for the rate limit",
            ", ".join(parts),
            self._rate(counts),
            self._rate_limit_wait(),
        )

    def _shown(self, counts: Mapping[Tuple[str, str], int]) -> List[StreamReport]:
        """Streams with records, or the first stream when none has any yet."""
        shown = [s for s in self._streams if any(stream == s.stream for stream, _ in counts)]
        return shown or self._streams[:1]

    @staticmethod
    def _read(stream: StreamReport, counts: Mapping[Tuple[str, str], int]) -> str:
        if not stream.records:
            return stream.noun
        return f"{counts.get((stream.stream, READ), 0)} {stream.noun} read"

    @staticmethod
    def _outcomes(stream: StreamReport, counts: Mapping[Tuple[str, str], int], verbs: bool = False) -> str:
        others = [o for s, o in counts if s == stream.stream and o != READ and o not in stream.outcomes]
        extra = sorted(o for o in others if o not in NOTES) + sorted(o for o in others if o in NOTES)
        return ", ".join(
            f"{_PLAN_VERBS.get(outcome, outcome) if verbs else outcome} {counts.get((stream.stream, outcome), 0)}"
            for outcome in [*stream.outcomes, *extra]
        )

    def _rate(self, counts: Mapping[Tuple[str, str], int]) -> str:
        reports = {report.stream: report for report in self._streams}
        settled = sum(n for (stream, outcome), n in counts.items() if stream in reports and reports[stream].settled(outcome))
        shown = [report for report in self._shown(counts) if report.records]
        noun = shown[0].noun if len(shown) == 1 else "records"
        return f"{settled / self._elapsed():.1f} {noun}/s"

    def _elapsed(self) -> float:
        return max(time.monotonic() - self._stats.started, 1e-9)

    def _emit_metrics(self) -> None:
        counts = self._stats.snapshot()
        reports = {report.stream: report for report in self._streams}
        for (stream, outcome), count in sorted(counts.items()):
            delta = count - self._counts_reported.get((stream, outcome), 0)
            # Only what ends a record is a record_count: not "tags added", "companies attached", ...
            if delta and stream in reports and reports[stream].ends(outcome):
                counter_tags = {"endpoint": stream, "outcome": outcome}
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


def _no_none(tags: Dict[str, object]) -> Dict[str, object]:
    return {k: v for k, v in tags.items() if v is not None}
