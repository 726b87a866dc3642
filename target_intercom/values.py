"""Conversions of JSON values to the types Intercom stores.

Each converter returns the value Intercom should receive or raises
`ValueRejected` with a reason a user can act on. None (JSON null) is handled by
the callers: it clears a field and needs no conversion.
"""

from __future__ import annotations

import json
import math
import re
from datetime import datetime, timedelta, timezone
from typing import Any

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
# Intercom stores at most 255 characters in a string custom attribute.
MAX_STRING_ATTRIBUTE_LENGTH = 255

_DATETIME = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})"
    r"(?:[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?)?"
    r"\s*([Zz]|[+-]\d{2}(?::?\d{2})?)?$"
)
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


class ValueRejected(ValueError):
    """A value that cannot be sent as the type Intercom expects."""


def to_unix_seconds(value: Any) -> int:
    """A date-time (ISO 8601 text, or a number of Unix seconds) as integer Unix seconds, UTC."""
    if isinstance(value, bool):
        raise ValueRejected(f"expected a date-time, got {json.dumps(value)}")
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        _require_finite(value)
        return math.floor(value)
    if isinstance(value, str):
        return _parse_datetime(value.strip())
    raise ValueRejected(f"expected a date-time, got {_kind(value)}")


def _parse_datetime(text: str) -> int:
    match = _DATETIME.match(text)
    if not match:
        raise ValueRejected(f"expected an ISO 8601 date-time, got {_preview(text)}")
    year, month, day, hour, minute, second, fraction, offset = match.groups()
    try:
        moment = datetime(
            int(year), int(month), int(day), int(hour or 0), int(minute or 0), int(second or 0),
            tzinfo=_zone(offset),
        )
    except ValueError:
        raise ValueRejected(f"expected an ISO 8601 date-time, got {_preview(text)}") from None
    return (moment - _EPOCH) // timedelta(seconds=1)


def _zone(offset: Any) -> timezone:
    if not offset or offset in ("Z", "z"):
        return timezone.utc
    sign = -1 if offset[0] == "-" else 1
    digits = offset[1:].replace(":", "")
    hours, minutes = int(digits[:2]), int(digits[2:4] or 0)
    return timezone(sign * timedelta(hours=hours, minutes=minutes))


def to_integer(value: Any) -> int:
    if isinstance(value, bool):
        raise ValueRejected(f"expected an integer, got {json.dumps(value)}")
    if isinstance(value, int):
        number = value
    elif isinstance(value, float) and math.isfinite(value) and value.is_integer():
        number = int(value)
    elif isinstance(value, str) and re.fullmatch(r"\s*[+-]?\d+\s*", value):
        number = int(value)
    else:
        raise ValueRejected(f"expected an integer, got {_preview(value)}")
    if not INT64_MIN <= number <= INT64_MAX:
        raise ValueRejected(f"{number} is outside the 64-bit integer range Intercom stores")
    return number


def to_float(value: Any) -> float:
    if isinstance(value, bool):
        raise ValueRejected(f"expected a number, got {json.dumps(value)}")
    if isinstance(value, (int, float)):
        number = value
    elif isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            raise ValueRejected(f"expected a number, got {_preview(value)}") from None
    else:
        raise ValueRejected(f"expected a number, got {_kind(value)}")
    if isinstance(number, float):
        _require_finite(number)
    return number


def to_boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise ValueRejected(f"expected true or false, got {_preview(value)}")


def to_text(value: Any) -> str:
    """Text for a string field: numbers and booleans as their JSON text."""
    if isinstance(value, str):
        return value
    if isinstance(value, float):
        _require_finite(value)
    if isinstance(value, (bool, int, float)):
        return json.dumps(value)
    raise ValueRejected(f"expected text, got {_kind(value)}")


def to_string_attribute(value: Any) -> str:
    text = to_text(value)
    if len(text) > MAX_STRING_ATTRIBUTE_LENGTH:
        raise ValueRejected(
            f"is {len(text)} characters long; Intercom stores at most {MAX_STRING_ATTRIBUTE_LENGTH}"
        )
    return text


def json_text(value: Any) -> str:
    """Arrays are stored as their compact JSON text."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _require_finite(number: float) -> None:
    if not math.isfinite(number):
        raise ValueRejected(f"expected a finite number, got {number}")


def _kind(value: Any) -> str:
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "an array"
    return type(value).__name__


def _preview(value: Any, limit: int = 40) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= limit else text[: limit - 4] + '..."'
