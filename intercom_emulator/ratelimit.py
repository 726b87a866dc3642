"""Intercom's rate limit: a per-minute quota enforced in fixed 10-second wall-clock windows."""
from __future__ import annotations

import math
import threading
import time
from typing import Callable, Optional, Tuple

WINDOW_SECONDS = 10
# Recorded (Grouparoo, API 2.3): X-RateLimit-Reset is always 2 s past the 10-second boundary where the
# window actually refills.
RECORDED_RESET_LAG = 2
# Reported when limiting is switched off, so clients reading the headers still see numbers.
UNLIMITED = 1_000_000_000


def window_limit(per_minute: Optional[int]) -> int:
    if per_minute is None:
        return UNLIMITED
    return int(math.ceil(per_minute / (60 / WINDOW_SECONDS)))


class RateLimiter:
    def __init__(self, per_minute: Optional[int], clock: Callable[[], float] = time.time) -> None:
        self._lock = threading.Lock()
        self._clock = clock
        self._per_minute = per_minute
        self._window = -1
        self._used = 0

    def configure(self, per_minute: Optional[int]) -> None:
        with self._lock:
            self._per_minute = per_minute

    def reset(self) -> None:
        with self._lock:
            self._window = -1
            self._used = 0

    def acquire(self, recorded: bool = False) -> Tuple[bool, int, int, int]:
        """Take one request from the current window.

        Returns (allowed, limit, remaining, reset_epoch_seconds). A refused request takes nothing.

        ``recorded`` reports the headers as live Intercom does: Remaining counts the window's budget before
        this request (the first answer of a window shows the limit, the last allowed one shows 1), and Reset
        lies 2 s after the window refills. Otherwise Remaining counts after the request and Reset is the
        boundary itself.
        """
        now = self._clock()
        window = int(now // WINDOW_SECONDS)
        with self._lock:
            if window != self._window:
                self._window = window
                self._used = 0
            limit = window_limit(self._per_minute)
            before = self._used
            allowed = self._per_minute is None or before < limit
            if allowed:
                self._used += 1
            used = before if recorded else self._used
            remaining = max(0, limit - used) if allowed else 0
        reset = (window + 1) * WINDOW_SECONDS + (RECORDED_RESET_LAG if recorded else 0)
        return allowed, limit, remaining, reset
