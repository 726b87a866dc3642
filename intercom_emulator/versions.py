"""The ``Intercom-Version`` header: which values exist and what they change in responses."""
from __future__ import annotations

from typing import Optional, Tuple

# 2.17 is documented on developers.intercom.com; it renders like 2.16 (no spec copy here covers it).
STABLE_VERSIONS = tuple(["1.%d" % i for i in range(5)] + ["2.%d" % i for i in range(18)])
PREVIEW = "Preview"
UNSTABLE = "Unstable"
_BY_LOWER = {v.lower(): v for v in STABLE_VERSIONS + (PREVIEW, UNSTABLE)}


def normalize_version(raw: Optional[str]) -> Optional[str]:
    """Canonical spelling of a version, or None when Intercom would not know it."""
    if raw is None:
        return None
    return _BY_LOWER.get(raw.strip().lower())


def _numeric(version: str) -> Tuple[int, int]:
    if version in (PREVIEW, UNSTABLE):
        # Both track the newest API, so they sort after every numbered version.
        return (99, 0)
    major, minor = version.split(".")
    return (int(major), int(minor))


def at_least(version: str, other: str) -> bool:
    return _numeric(version) >= _numeric(other)


def owner_id_is_string(version: str) -> bool:
    """2.16 changed ``owner_id`` from integer to string in every contact schema."""
    return at_least(version, "2.16")


def merged_is_gone(version: str) -> bool:
    """From 2.16 a merged contact answers 410 Gone with a canonical Link; before, a plain 404."""
    return at_least(version, "2.16")


def is_preview(version: str) -> bool:
    return version in (PREVIEW, UNSTABLE)
