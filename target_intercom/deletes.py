"""Records deleted at the source: what `_sdc_deleted_at` means to each stream, and how it is counted.

Singer taps (LOG_BASED replication) and the Meltano SDK mark a row deleted at
the source by setting `_sdc_deleted_at`. Such a record is a tombstone: its
values are whatever the tap had left, so writing them would bring the user
back. On the users and companies streams it removes the object instead (as
`delete_mode` says); Intercom cannot remove an event, so on the events stream
it is skipped.
"""

from __future__ import annotations

import logging
import threading
from typing import Any, Iterable, List, Mapping, Protocol, TypeVar

DELETED_AT = "_sdc_deleted_at"

# delete_mode values.
ARCHIVE, DELETE, IGNORE = "archive", "delete", "ignore"
DELETE_MODES = (ARCHIVE, DELETE, IGNORE)

# What the summary counts (outcomes of the users and companies streams).
ARCHIVED = "archived"
DELETED = "deleted"
ALREADY_GONE = "already gone"
# A "skipped (...)" outcome: the record settles without being written or removed.
IGNORED = "deleted at source, ignored"


def deleted_at_source(record: Mapping[str, Any]) -> bool:
    """Whether the record is a tombstone: `_sdc_deleted_at` holds a value.

    An empty string is no value: CSV and JSONL taps write "" for an empty column.
    """
    value = record.get(DELETED_AT)
    return value is not None and value != ""


class OnceLog:
    """Logs a message the first time only (records of a stream come by the thousand)."""

    def __init__(self, logger: logging.Logger, level: int, message: str) -> None:
        self._logger = logger
        self._level = level
        self._message = message
        self._done = False
        self._lock = threading.Lock()

    def __call__(self, *args: Any) -> None:
        with self._lock:
            if self._done:
                return
            self._done = True
        self._logger.log(self._level, self._message, *args)


class _Removable(Protocol):
    deleted: bool


R = TypeVar("R", bound=_Removable)


class IgnoredDeletions:
    """With delete_mode ignore, records deleted at the source are counted, said once, and left out."""

    def __init__(self, stats: Any, stream: str, mode: str) -> None:
        self._stats = stats
        self._stream = stream
        self._ignore = mode == IGNORE
        self._note = OnceLog(
            logging.getLogger(__name__),
            logging.INFO,
            "records of stream %r deleted at the source (_sdc_deleted_at) are neither written nor removed: "
            "delete_mode is ignore",
        )

    def without_ignored(self, payloads: Iterable[R]) -> List[R]:
        """The payloads to handle."""
        kept = []
        for payload in payloads:
            if payload.deleted and self._ignore:
                self._note(self._stream)
                self._stats.add(self._stream, f"skipped ({IGNORED})")
            else:
                kept.append(payload)
        return kept
