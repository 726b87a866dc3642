"""Run-time settings of an emulator and their validation (shared by the Python API, admin HTTP and CLI)."""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, Dict, Optional

from .versions import normalize_version

# What a ``null`` unsubscribed_from_emails does (unknown live): re-subscribe, leave the value, or a 400.
UNSUBSCRIBED_NULL_CHOICES = ("false", "ignore", "reject")
# What a string custom attribute over 255 characters does (unknown live).
LONG_TEXT_CHOICES = ("reject", "truncate", "store")


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
    # Recorded: Remaining counts before the request, Reset is 2 s after the window flips. False: the old guess.
    recorded_rate_limit_headers: bool = True
    # Guess (today's): a create carrying an external_id still 409s against a user holding the email but no
    # external_id. Intercom's help says such a create makes a duplicate, so this is off by default.
    email_only_user_conflicts: bool = False
    # The guesses below are switchable because nothing public settles them.
    unsubscribed_null: str = "false"
    long_text: str = "reject"
    search_max_in_values: Optional[int] = None
    search_rejects_non_ids_in_id_filter: bool = False
    email_search_case_sensitive: bool = False

    def as_dict(self) -> Dict[str, Any]:
        data = asdict(self)
        # The token is a secret of the test; never hand it back through any interface.
        data.pop("token")
        return data


SETTING_NAMES = frozenset(Settings.__dataclass_fields__)
_BOOLEANS = ("bulk_enabled", "verbose", "recorded_rate_limit_headers", "email_only_user_conflicts",
             "search_rejects_non_ids_in_id_filter", "email_search_case_sensitive")
_CHOICES = {"unsubscribed_null": UNSUBSCRIBED_NULL_CHOICES, "long_text": LONG_TEXT_CHOICES}


def _non_negative(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise ValueError("%s must be a non-negative number" % name)
    return float(value)


def _positive_int_or_none(name: str, value: Any) -> Optional[int]:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
        raise ValueError("%s must be a positive integer or None" % name)
    return value


def _clean(name: str, value: Any) -> Any:
    if name in ("search_lag", "latency", "jitter", "bulk_task_delay"):
        return _non_negative(name, value)
    if name == "clock_skew":
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ValueError("clock_skew must be a number of seconds")
        return float(value)
    if name in ("rate_limit_per_minute", "search_max_in_values"):
        return _positive_int_or_none(name, value)
    if name in _BOOLEANS:
        if not isinstance(value, bool):
            raise ValueError("%s must be a boolean" % name)
        return value
    if name in _CHOICES:
        if value not in _CHOICES[name]:
            raise ValueError("%s must be one of %s" % (name, ", ".join(_CHOICES[name])))
        return value
    if name == "default_version":
        canonical = normalize_version(value if isinstance(value, str) else None)
        if canonical is None:
            raise ValueError("default_version %r is not an Intercom API version" % (value,))
        return canonical
    if name == "token":
        if not isinstance(value, str) or not value:
            raise ValueError("token must be a non-empty string")
        return value
    raise AssertionError(name)  # pragma: no cover - every field of Settings is handled above


def apply_settings(settings: Settings, changes: Dict[str, Any]) -> None:
    """Validate every change first, then apply them all, so a bad call changes nothing."""
    unknown = sorted(set(changes) - SETTING_NAMES)
    if unknown:
        raise TypeError("unknown emulator setting(s): %s" % ", ".join(unknown))
    clean = {name: _clean(name, value) for name, value in changes.items()}
    for name, value in clean.items():
        setattr(settings, name, value)
