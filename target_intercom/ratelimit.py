"""Pacing requests to Intercom's rate limit.

Intercom counts requests per app in 10-second windows and reports, on every
authenticated response, how many are left (`X-RateLimit-Remaining`) and when
the window resets (`X-RateLimit-Reset`, Unix seconds). The governor lets a
request go only while the window has room for it and every request already in
flight, so a long sync runs at the limit without provoking 429s. An optional
local cap (`max_requests_per_minute`) leaves part of the quota to others.
"""

from __future__ import annotations

import email.utils
import math
import threading
import time
from typing import Callable, Mapping, Optional

from target_intercom.errors import Interrupted

WINDOW_SECONDS = 10.0
# The reset time comes from Intercom's clock; a wait longer than a window
# means the clocks disagree, not that the window is longer.
_MAX_WAIT = WINDOW_SECONDS + 1.0


class ServerClock:
    """How far Intercom's clock is ahead of this machine's, learned from the Date of its answers.

    X-RateLimit-Reset is a time on Intercom's clock: read with a local clock a few
    seconds off, the governor would wait that much longer after every window, or
    send into a spent one. Date has whole seconds only, but each answer bounds the
    offset from both sides (Intercom wrote it after the request left and before
    the answer arrived), and the bounds narrow as answers come.
    """

    def __init__(self) -> None:
        self._low = -math.inf
        self._high = math.inf

    def observe(self, date: Optional[str], sent_at: float, received_at: float) -> None:
        try:
            stamped = email.utils.parsedate_to_datetime(date).timestamp() if date else None
        except (TypeError, ValueError):
            return
        if stamped is None:
            return
        low, high = stamped - received_at, stamped + 1.0 - sent_at
        if max(low, self._low) > min(high, self._high):
            self._low, self._high = low, high  # a clock was set meanwhile: start again from this answer
        else:
            self._low, self._high = max(low, self._low), min(high, self._high)

    @property
    def offset(self) -> float:
        """Seconds to subtract from an Intercom time to get the local time.

        Clocks that may agree are taken to agree (they usually do, to the
        millisecond). Otherwise the lower bound: a window then seems to open up
        to a second late, which costs a moment, where early would cost 429s.
        """
        if math.isinf(self._low) or self._low <= 0.0 <= self._high:
            return 0.0
        return self._low


class RateGovernor:
    def __init__(
        self, max_requests_per_minute: Optional[int] = None, clock: Callable[[], float] = time.time
    ) -> None:
        self._clock = clock
        self._server_clock = ServerClock()
        self._cond = threading.Condition()
        self._remaining: Optional[int] = None
        self._reset_at: Optional[float] = None
        self._limit: Optional[int] = None
        self._answered = False
        self._in_flight = 0
        self._local_cap = (
            math.floor(max_requests_per_minute * WINDOW_SECONDS / 60.0) if max_requests_per_minute else None
        )
        self._local_window = -1.0
        self._local_sent = 0
        self.waited_seconds = 0.0
        self._held_since: Optional[float] = None
        self._stopped = False

    def acquire(self) -> None:
        """Block until a request may be sent; counts it as in flight."""
        with self._cond:
            while True:
                if self._stopped:
                    raise Interrupted("stopped while waiting for Intercom's rate limit")
                now = self._clock()
                wait = self._wait_needed(now)
                if wait <= 0:
                    break
                if self._held_since is None:
                    self._held_since = now
                self._cond.wait(timeout=min(wait, _MAX_WAIT))
            if self._held_since is not None:
                # Wall time during which requests were held, however many waited.
                self.waited_seconds += now - self._held_since
                self._held_since = None
            self._in_flight += 1
            if self._local_cap is not None:
                self._local_sent += 1

    def stop(self) -> None:
        """Let no more requests go; waiting ones raise `Interrupted`."""
        with self._cond:
            self._stopped = True
            self._cond.notify_all()

    def release(self) -> None:
        """The request has been answered (or failed)."""
        with self._cond:
            self._in_flight -= 1
            self._cond.notify_all()

    def observe(self, headers: Mapping[str, str], sent_at: float, received_at: float) -> None:
        """Learn the window's state from a response's rate-limit headers (times are local, Unix s)."""
        with self._cond:
            self._answered = True
            self._cond.notify_all()
            self._server_clock.observe(headers.get("date"), sent_at, received_at)
            try:
                remaining = int(headers["x-ratelimit-remaining"])
                reset_at = float(headers["x-ratelimit-reset"]) - self._server_clock.offset
            except (KeyError, ValueError):
                return
            if "x-ratelimit-limit" in headers and headers["x-ratelimit-limit"].isdigit():
                self._limit = int(headers["x-ratelimit-limit"])
            if self._reset_at is None or reset_at > self._reset_at:
                self._reset_at, self._remaining = reset_at, remaining
            elif reset_at == self._reset_at and self._remaining is not None:
                self._remaining = min(self._remaining, remaining)

    def exhausted_until(self, reset_at: float) -> None:
        """A 429 says the window is spent until `reset_at` (Intercom's X-RateLimit-Reset)."""
        with self._cond:
            reset_at -= self._server_clock.offset
            if self._reset_at is None or reset_at >= self._reset_at:
                self._reset_at, self._remaining = reset_at, 0

    def _wait_needed(self, now: float) -> float:
        """Seconds to wait before the next request (at most; a response may end it sooner)."""
        if self._reset_at is not None and now >= self._reset_at:
            # A new window: until an answer says otherwise, it holds the full limit.
            self._reset_at, self._remaining = None, self._limit
        if not self._answered and self._in_flight:
            return _MAX_WAIT  # the first request learns the limit before others go
        if self._remaining is not None and self._remaining - self._in_flight <= 0:
            if self._reset_at is None:
                # The answers under way will say when the window resets.
                return _MAX_WAIT if self._in_flight else 0.0
            return min(self._reset_at - now, _MAX_WAIT) + 0.01
        if self._local_cap is not None:
            window = math.floor(now / WINDOW_SECONDS) * WINDOW_SECONDS
            if window != self._local_window:
                self._local_window, self._local_sent = window, 0
            if self._local_sent >= self._local_cap:
                return window + WINDOW_SECONDS - now + 0.01
        return 0.0
