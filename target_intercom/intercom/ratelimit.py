"""Pacing requests to Intercom's rate limit.

Intercom counts requests per app in 10-second windows and reports, on every
authenticated response, how many are left (`X-RateLimit-Remaining`) and when
the window resets (`X-RateLimit-Reset`, Unix seconds on Intercom's clock). The
governor lets a request go only while the window has room for it and every
request already in flight, so a long sync runs at the limit without provoking
429s. An optional local cap (`max_requests_per_minute`) leaves part of the
quota to others.

Recordings of the real API show two quirks, which the governor learns from
the answers instead of assuming them:

- the first answer of a window reports Remaining equal to the limit: the count
  is taken before the request it answers, so every reading is one too high;
- a window refills about 2 s before the X-RateLimit-Reset it advertised. When
  a window is spent, one request (the probe) goes out a little before the
  refill learned so far; an answer from the new window proves how early the
  refill came, and the first probe refused with a 429 ends the probing. So
  probing costs at most one 429 a run.
"""

from __future__ import annotations

import email.utils
import math
import threading
import time
from typing import Callable, Mapping, Optional, Tuple

from target_intercom.errors import Interrupted

WINDOW_SECONDS = 10.0
# The reset time comes from Intercom's clock; a wait longer than a window
# means the clocks disagree, not that the window is longer.
_MAX_WAIT = WINDOW_SECONDS + 1.0
# Each probe tries the next window this much earlier than the refill learned so far.
PROBE_STEP = 0.5
# No window is taken to refill longer than this before its advertised reset.
MAX_REFILL_LEAD = WINDOW_SECONDS / 2


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

    @property
    def latest(self) -> float:
        """The largest offset the answers so far allow (infinite before the first)."""
        return self._high


class RateGovernor:
    """Lets a request go only while the current window has room for it and every request in flight.

    Windows are told apart by their advertised reset, a time on Intercom's
    clock; the local time a window refills is worked out only when it is waited
    for, from the clock offset and the refill lead known then. So a better
    estimate of the offset never makes answers of the current window look like
    answers of another one.
    """

    def __init__(
        self, max_requests_per_minute: Optional[int] = None, clock: Callable[[], float] = time.time
    ) -> None:
        self._clock = clock
        self._server_clock = ServerClock()
        self._cond = threading.Condition()
        self._limit: Optional[int] = None
        # The current window: its advertised reset and the requests left in it.
        # None: not known yet (before the first answer, or just after a refill).
        self._reset: Optional[float] = None
        self._remaining: Optional[int] = None
        # The advertised reset of the last window known to be over: its answers are stale.
        self._over = -math.inf
        # Intercom reports X-RateLimit-Remaining before counting the request it answers.
        self._counts_before = False
        # Seconds a window refills before its advertised reset: learned, never assumed.
        self._lead = 0.0
        self._probing = True
        # The advertised resets of the window the last probe went out in, and of the last one a 429 came from.
        self._probe: Optional[float] = None
        self._refused: Optional[float] = None
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
                wait = self._next_send(now)
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

    def observe(self, status: int, headers: Mapping[str, str], sent_at: float, received_at: float) -> None:
        """Learn the window's state from an answer's headers (times are local, Unix s)."""
        with self._cond:
            self._answered = True
            self._cond.notify_all()
            self._server_clock.observe(headers.get("date"), sent_at, received_at)
            reading = _reading(headers)
            if reading is None:
                return
            limit, remaining, reset = reading
            if limit is not None:
                self._limit = limit
                self._counts_before = self._counts_before or remaining >= limit
            left = 0 if status == 429 else max(0, remaining - 1) if self._counts_before else remaining
            if status == 429:
                if reset == self._probe:
                    self._probing = False  # the probe was early: the refill is no earlier than learned
                self._refused = reset
            if reset > self._over and (self._reset is None or reset > self._reset):
                self._new_window(reset, left, received_at)
            elif reset == self._reset:
                self._remaining = left if self._remaining is None else min(self._remaining, left)
            elif status == 429 and sent_at >= self._refill_at(reset):
                # Sent after its window was taken to have refilled: trust the advertised reset again.
                self._lead, self._probing = 0.0, False
                if self._reset is None:
                    self._reset, self._remaining, self._over = reset, 0, reset - WINDOW_SECONDS

    def _new_window(self, reset: float, left: int, received_at: float) -> None:
        if self._reset is not None or self._over > -math.inf:
            # The window before refilled by the time this answer was written, which
            # bounds how long before its advertised reset it did.
            previous = self._reset if self._reset is not None else self._over
            proven = previous - received_at - self._server_clock.latest
            self._lead = min(max(self._lead, proven), MAX_REFILL_LEAD)
        self._reset, self._remaining = reset, left

    def _refill_at(self, reset: float) -> float:
        """The local time the window with this advertised reset refills, as far as known."""
        return reset - self._lead - self._server_clock.offset

    def _next_send(self, now: float) -> float:
        """Seconds to wait before the next request (at most; an answer may end it sooner); 0: send now."""
        if self._reset is not None and now >= self._refill_at(self._reset):
            # A new window: until an answer says otherwise, it holds the full limit.
            self._over, self._reset, self._remaining = self._reset, None, None
        if not self._answered and self._in_flight:
            return _MAX_WAIT  # the first request learns the limit before others go
        remaining = self._limit if self._remaining is None else self._remaining
        if remaining is not None and remaining - self._in_flight <= 0:
            return self._until_refill(now)
        return self._until_local_cap_allows(now)

    def _until_refill(self, now: float) -> float:
        if self._reset is None:
            # The answers under way will say when the window resets.
            return _MAX_WAIT if self._in_flight else 0.0
        wait = self._refill_at(self._reset) - now
        probed = self._reset in (self._probe, self._refused)
        if self._probing and not probed and self._lead < MAX_REFILL_LEAD:
            # One request tries the new window a little earlier than learned so far;
            # not after a 429, which may come from others using the app's quota.
            wait -= PROBE_STEP
            if wait <= 0:
                self._probe = self._reset
                return 0.0
        return min(wait, _MAX_WAIT) + 0.01

    def _until_local_cap_allows(self, now: float) -> float:
        if self._local_cap is None:
            return 0.0
        window = math.floor(now / WINDOW_SECONDS) * WINDOW_SECONDS
        if window != self._local_window:
            self._local_window, self._local_sent = window, 0
        if self._local_sent >= self._local_cap:
            return window + WINDOW_SECONDS - now + 0.01
        return 0.0


def _reading(headers: Mapping[str, str]) -> Optional[Tuple[Optional[int], int, float]]:
    """(limit, remaining, advertised reset) from an answer's rate-limit headers, if it has them."""
    try:
        remaining = int(headers["x-ratelimit-remaining"])
        reset = float(headers["x-ratelimit-reset"])
    except (KeyError, ValueError):
        return None
    limit = headers.get("x-ratelimit-limit", "")
    return (int(limit) if limit.isdigit() else None), remaining, reset
