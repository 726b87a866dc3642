"""Pacing to Intercom's rate limit: no failures from it, few 429s, and a cap for shared quotas."""

from __future__ import annotations

import re
from collections import Counter

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


def test_max_requests_per_minute_caps_the_target_below_intercoms_limit(target, emulator) -> None:
    emulator.configure(rate_limit_per_minute=None)
    result = target.run(users(16), config={"batch_size": 8, "max_requests_per_minute": 60})
    assert result.returncode == 0, result
    assert len(emulator.contacts()) == 16
    per_window = Counter(int(r.time // 10) for r in emulator.requests)
    # A request sent in the last instant of a window may arrive in the next one.
    assert max(per_window.values()) <= 11
    assert len(per_window) >= 2
