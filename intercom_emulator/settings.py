"""Run-time settings of an emulator and their validation (shared by the Python API, admin HTTP and CLI)."""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, Dict, Optional

from .versions import normalize_version


@dataclass
class Settings:
    token: str = "emulator-token"
    search_lag: float = 0.0
    rate_limit_per_minute: Optional[int] = 10_000
    latency: float = 0.0
    jitter: float = 0.0
    bulk_task_delay: float = 0.2
    bulk_enabled: bool = True
    default_version: str = "2.14"
    verbose: bool = False
    # Seconds Intercom's clock runs ahead of this machine's (negative: behind); moves Date and X-RateLimit-Reset.
    clock_skew: float = 0.0

    def as_dict(self) -> Dict[str, Any]:
        data = asdict(self)
        # The token is a secret of the test; never hand it back through any interface.
        data.pop("token")
        return data


SETTING_NAMES = frozenset(Settings.__dataclass_fields__)


def _non_negative(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise ValueError("%s must be a non-negative number" % name)
    return float(value)


def apply_settings(settings: Settings, changes: Dict[str, Any]) -> None:
    """Validate every change first, then apply them all, so a bad call changes nothing."""
    unknown = sorted(set(changes) - SETTING_NAMES)
    if unknown:
        raise TypeError("unknown emulator setting(s): %s" % ", ".join(unknown))
    clean: Dict[str, Any] = {}
    for name, value in changes.items():
        if name in ("search_lag", "latency", "jitter", "bulk_task_delay"):
            clean[name] = _non_negative(name, value)
        elif name == "clock_skew":
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise ValueError("clock_skew must be a number of seconds")
            clean[name] = float(value)
        elif name == "rate_limit_per_minute":
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                raise ValueError("rate_limit_per_minute must be a positive integer or None")
            clean[name] = value
        elif name in ("bulk_enabled", "verbose"):
            if not isinstance(value, bool):
                raise ValueError("%s must be a boolean" % name)
            clean[name] = value
        elif name == "default_version":
            canonical = normalize_version(value if isinstance(value, str) else None)
            if canonical is None:
                raise ValueError("default_version %r is not an Intercom API version" % (value,))
            clean[name] = canonical
        elif name == "token":
            if not isinstance(value, str) or not value:
                raise ValueError("token must be a non-empty string")
            clean[name] = value
    for name, value in clean.items():
        setattr(settings, name, value)
