"""Run-time settings of an emulator and their validation (shared by the Python API, admin HTTP and CLI)."""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, Dict, Optional

from .versions import normalize_version

# What a ``null`` unsubscribed_from_emails does (unknown live): re-subscribe, leave the value, or a 400.
UNSUBSCRIBED_NULL_CHOICES = ("false", "ignore", "reject")
# What a string over 255 characters does (unknown live): a custom attribute (long_text) or an event's metadata
# value (event_long_text).
LONG_TEXT_CHOICES = ("reject", "truncate", "store")
# What PUT /companies/{id} does with a company_id in its body.
COMPANY_PUT_COMPANY_ID_CHOICES = ("reject", "ignore")


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
    # Guesses about contacts and search that nothing public settles (see the README for each).
    unsubscribed_null: str = "false"            # unsubscribed_from_emails: null -> "false", "ignore" or "reject"
    long_text: str = "reject"                   # custom attribute strings over 255 characters (contacts, companies)
    search_max_in_values: Optional[int] = None
    search_rejects_non_ids_in_id_filter: bool = False
    email_search_case_sensitive: bool = False
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
_NON_NEGATIVE = ("search_lag", "latency", "jitter", "bulk_task_delay", "company_scroll_expiry")
_POSITIVE_INT_OR_NONE = ("rate_limit_per_minute", "search_max_in_values", "tag_users_max")
_BOOLEANS = ("bulk_enabled", "verbose", "recorded_rate_limit_headers", "email_only_user_conflicts",
             "search_rejects_non_ids_in_id_filter", "email_search_case_sensitive", "company_lookup_sees_userless",
             "company_create_race")
_CHOICES = {"unsubscribed_null": UNSUBSCRIBED_NULL_CHOICES, "long_text": LONG_TEXT_CHOICES,
            "company_put_company_id": COMPANY_PUT_COMPANY_ID_CHOICES, "event_long_text": LONG_TEXT_CHOICES}


def _non_negative(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise ValueError("%s must be a non-negative number" % name)
    return float(value)


def _positive_int_or_none(name: str, value: Any) -> Optional[int]:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
        raise ValueError("%s must be a positive integer or None" % name)
    return value


def _clean(name: str, value: Any) -> Any:
    if name in _NON_NEGATIVE:
        return _non_negative(name, value)
    if name == "clock_skew":
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ValueError("clock_skew must be a number of seconds")
        return float(value)
    if name in _POSITIVE_INT_OR_NONE:
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
