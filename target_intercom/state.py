"""Which STATE may be printed: the one place that writes to stdout.

A STATE is printed (its bare value, one line, flushed) once every record of
every configured stream read before it is settled: written to Intercom, found
unchanged, or rejected or skipped and accounted for. Records settle batch by
batch, and batches can finish out of order; a STATE waits for the oldest
unsettled batch.
"""

from __future__ import annotations

import json
import threading
from collections import deque
from typing import IO, Any, Deque, Optional, Set, Tuple


class StateTracker:
    def __init__(self, out: Optional[IO[str]]) -> None:
        """`out` None (a dry run) confirms nothing, so prints nothing."""
        self._out = out
        self._lock = threading.Lock()
        self._records_read = 0
        self._open_batches: Set[int] = set()
        self._states: Deque[Tuple[int, Any]] = deque()

    def record_read(self) -> int:
        """Count one record of a configured stream; returns its position in the input."""
        with self._lock:
            position = self._records_read
            self._records_read += 1
            return position

    def batch_opened(self, first_position: int) -> None:
        with self._lock:
            self._open_batches.add(first_position)

    def batch_settled(self, first_position: int) -> None:
        with self._lock:
            self._open_batches.discard(first_position)
            self._print_ready()

    def state_read(self, value: Any) -> None:
        with self._lock:
            self._states.append((self._records_read, value))
            self._print_ready()

    def _print_ready(self) -> None:
        settled_below = min(self._open_batches, default=self._records_read)
        while self._states and self._states[0][0] <= settled_below:
            _, value = self._states.popleft()
            if self._out is not None:
                self._out.write(json.dumps(value) + "\n")
                self._out.flush()

