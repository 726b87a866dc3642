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
    # Guesses about companies, tags and events that the spec leaves open (see the README for each).
    company_lookup_sees_userless: bool = True   # GET /companies?company_id= finds a company without users
    company_create_race: bool = True            # overlapping creates of one new company_id: the later one gets 400
    company_put_company_id: str = "reject"      # PUT /companies/{id} with a company_id: "reject" (404) or "ignore"
    company_scroll_expiry: float = 60.0         # seconds an unused company scroll stays open (documented: 1 minute)
    tag_users_max: Optional[int] = None         # most users one POST /tags takes (None: no limit); above it a 400
    event_long_text: str = "store"              # metadata strings over 255 characters: "store", "truncate" or "reject"

    def as_dict(self) -> Dict[str, Any]:
        data = asdict(self)
        # The token is a secret of the test; never hand it back through any interface.
        data.pop("token")
        return data


SETTING_NAMES = frozenset(Settings.__dataclass_fields__)
_CHOICES = {"company_put_company_id": ("reject", "ignore"), "event_long_text": ("store", "truncate", "reject")}


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
        if name in ("search_lag", "latency", "jitter", "bulk_task_delay", "company_scroll_expiry"):
            clean[name] = _non_negative(name, value)
        elif name == "clock_skew":
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise ValueError("clock_skew must be a number of seconds")
            clean[name] = float(value)
        elif name == "rate_limit_per_minute":
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                raise ValueError("rate_limit_per_minute must be a positive integer or None")
            clean[name] = value
        elif name in ("bulk_enabled", "verbose", "company_lookup_sees_userless", "company_create_race"):
            if not isinstance(value, bool):
                raise ValueError("%s must be a boolean" % name)
            clean[name] = value
        elif name == "default_version":
            canonical = normalize_version(value if isinstance(value, str) else None)
            if canonical is None:
                raise ValueError("default_version %r is not an Intercom API version" % (value,))
            clean[name] = canonical
        elif name == "tag_users_max":
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                raise ValueError("tag_users_max must be a positive integer or None")
            clean[name] = value
        elif name in _CHOICES:
            if value not in _CHOICES[name]:
                raise ValueError("%s must be one of %s" % (name, ", ".join(_CHOICES[name])))
            clean[name] = value
        elif name == "token":
            if not isinstance(value, str) or not value:
                raise ValueError("token must be a non-empty string")
            clean[name] = value
    for name, value in clean.items():
        setattr(settings, name, value)
