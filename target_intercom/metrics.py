"""What a run did, counted: records by outcome, for progress lines, metrics and the summary."""

from __future__ import annotations

import threading
import time
from typing import Dict

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

    @property
    def settled(self) -> int:
        with self._lock:
            return sum(self._counts[outcome] for outcome in OUTCOMES)
