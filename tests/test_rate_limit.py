"""Pacing to Intercom's rate limit: no failures from it, few 429s, and a cap for shared quotas."""

from __future__ import annotations

import re
from collections import Counter
from typing import Dict, List

import pytest

from tests.conftest import record, schema, state


def users(count: int):
    return [schema()] + [record({"user_id": f"u{i}", "email": f"u{i}@example.com"}) for i in range(count)] + [state(1)]


def test_a_run_longer_than_one_rate_limit_window_is_paced_not_failed(target, emulator) -> None:
    emulator.configure(rate_limit_per_minute=60)  # 10 requests per 10-second window
    # 28 requests need three windows, so at least one whole window is waited out.
    result = target.run(users(25), config={"batch_size": 13})
    assert result.returncode == 0, result
    assert len(emulator.contacts()) == 25
    assert emulator.rate_limited <= 2
    assert result.states == [1]
    [summary] = [line for line in result.stderr.splitlines() if line.startswith("INFO summary:")]
    waited = float(re.search(r"([0-9.]+) s waiting for the rate limit", summary).group(1))
    assert waited > 1.0


@pytest.mark.parametrize("skew", [-6.0, 6.0])
def test_pacing_follows_intercoms_clock_not_the_local_one(target, emulator, skew: float) -> None:
    """X-RateLimit-Reset is Intercom's time; read as local time it would send early (429s) or wait late."""
    emulator.configure(rate_limit_per_minute=60, clock_skew=skew)
    result = target.run(users(25), config={"batch_size": 13})
    assert result.returncode == 0, result
    assert len(emulator.contacts()) == 25
    assert emulator.rate_limited <= 2
    # The first request of each window that follows a spent one goes out soon after that
    # window opens on Intercom's clock, not `skew` seconds later.
    by_window: Dict[int, List[float]] = {}
    for r in emulator.requests:
        by_window.setdefault(int((r.time + skew) // 10), []).append(r.time + skew)
    windows = sorted(by_window)
    late = [min(by_window[w]) - w * 10 for w in windows[1:] if len(by_window[w - 1]) >= 10]
    assert late and max(late) < 3.0, late


@pytest.mark.parametrize("skew", [-6.0, 6.0])
def test_a_slow_first_answer_under_a_skewed_clock_sets_off_no_storm_of_429s(target, emulator, skew: float) -> None:
    """A slow first answer gives a rough clock offset that later answers refine; the window must stay the same."""
    emulator.configure(rate_limit_per_minute=60, clock_skew=skew)
    emulator.delay_next(1, seconds=0.9)
    result = target.run(users(25), config={"batch_size": 13})
    assert result.returncode == 0, result
    assert len(emulator.contacts()) == 25
    assert emulator.rate_limited <= 2
    assert result.states == [1]


def test_consecutive_429s_for_one_request_back_off_whatever_the_headers_say(target, emulator) -> None:
    emulator.fail_next(4, status=429, retry_after=0, **CREATE)
    result = target.run(ONE_USER)
    assert result.returncode == 0, result
    attempts = creates(emulator)
    assert [r.status for r in attempts] == [429, 429, 429, 429, 200]
    gaps = [later.time - (earlier.time + earlier.duration) for earlier, later in zip(attempts, attempts[1:])]
    # The backoff schedule: 0.5 s doubling, each with jitter down to half.
    assert all(gap >= 0.25 * 2**k for k, gap in enumerate(gaps)), gaps
    assert [c["external_id"] for c in emulator.contacts()] == ["u1"]


def test_max_requests_per_minute_caps_the_target_below_intercoms_limit(target, emulator) -> None:
    emulator.configure(rate_limit_per_minute=None)
    result = target.run(users(16), config={"batch_size": 8, "max_requests_per_minute": 60})
    assert result.returncode == 0, result
    assert len(emulator.contacts()) == 16
    per_window = Counter(int(r.time // 10) for r in emulator.requests)
    # A request sent in the last instant of a window may arrive in the next one.
    assert max(per_window.values()) <= 11
    assert len(per_window) >= 2


CREATE = {"match_method": "POST", "match_path": r"^/contacts$"}
ONE_USER = [schema(), record({"user_id": "u1", "email": "u1@example.com"}), state(1)]


def creates(emulator):
    return [r for r in emulator.requests if r.endpoint == "POST /contacts"]


def test_a_429_with_retry_after_is_retried_no_sooner_than_it_says(target, emulator) -> None:
    # Longer than a rate-limit window, so that a target that ignored Retry-After and waited
    # for the X-RateLimit-Reset every 429 also carries (at most 10 s away) would retry sooner.
    retry_after = 11
    emulator.fail_next(1, status=429, retry_after=retry_after, **CREATE)
    result = target.run(ONE_USER)
    assert result.returncode == 0, result
    throttled, retried = creates(emulator)
    assert (throttled.status, throttled.fault, retried.status) == (429, "fail", 200)
    answered = throttled.time + throttled.duration  # the emulator logs a request just before answering it
    assert retried.time >= answered + retry_after, retried.time - answered
    assert [c["external_id"] for c in emulator.contacts()] == ["u1"]
    assert result.states == [1]


def test_a_429_without_retry_after_is_retried_no_sooner_than_the_rate_limit_window_resets(target, emulator) -> None:
    # Without Retry-After, a 429 still says when the window resets: X-RateLimit-Reset, which the
    # emulator sets to the end of the current 10-second window (a test cannot choose it). A 429
    # that falls in the last instant of a window would not tell waiting for it from a short
    # backoff, so the run is repeated (it then starts early in a window) until one does.
    for _ in range(3):
        emulator.reset()
        emulator.fail_next(1, status=429, **CREATE)
        result = target.run(ONE_USER)
        assert result.returncode == 0, result
        throttled, retried = creates(emulator)
        assert (throttled.status, throttled.fault, retried.status) == (429, "fail", 200)
        reset_at = (int(throttled.time // 10) + 1) * 10
        assert retried.time >= reset_at, reset_at - retried.time
        assert [c["external_id"] for c in emulator.contacts()] == ["u1"]
        assert result.states == [1]
        if reset_at - (throttled.time + throttled.duration) >= 1.0:
            return
    pytest.fail("no run met its 429 a second or more before the window reset")


def peak_in_flight(requests) -> int:
    """Most requests the emulator held at once, from each request's arrival and answer times."""
    # At equal times an answer counts before an arrival: back-to-back requests do not overlap.
    events = sorted([(r.time, 1) for r in requests] + [(r.time + r.duration, -1) for r in requests])
    peak = current = 0
    for _, delta in events:
        current += delta
        peak = max(peak, current)
    return peak


def test_max_concurrency_bounds_the_requests_in_flight(target, emulator) -> None:
    emulator.configure(latency=0.05)  # every request takes a while, so concurrent ones overlap
    for i in range(0, 45, 3):
        emulator.seed_contact(external_id=f"u{i}", email=f"old{i}@example.com")
    result = target.run(users(45), config={"max_concurrency": 3, "batch_size": 15})
    assert result.returncode == 0, result
    assert sorted(c["email"] for c in emulator.contacts()) == sorted(f"u{i}@example.com" for i in range(45))
    assert "created 30, updated 15," in result.stderr
    assert peak_in_flight(emulator.requests) == 3
