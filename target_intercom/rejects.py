"""Records that were not loaded: accounted for, written to the rejects file, and counted.

A record is rejected when it cannot become what its stream loads (schema
violation, no identifier, a value of the wrong type) or when Intercom refuses
it with a 4xx; it is skipped when it is left alone on purpose (its user is
archived in Intercom, say). Both are written to `rejected_records_file` when
one is configured, a file only its owner may read: it holds whole records.
Once more than `max_rejected_records` were rejected (skips do not count), the
run fails.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from dataclasses import dataclass
from typing import IO, Any, Dict, Iterable, List, Optional

from target_intercom.errors import ConfigError, TooManyRejections

logger = logging.getLogger(__name__)


class RecordRejected(Exception):
    """Raised while handling one record that cannot be loaded."""

    counted = True
    outcome = "rejected"

    def __init__(self, reason: str, code: Optional[str] = None, claims: Iterable[str] = ()) -> None:
        super().__init__(reason)
        self.reason = reason
        self.code = code
        # The keys the record would have written (see units.base.Keys), when known.
        self.claims = frozenset(claims)


class RecordSkipped(RecordRejected):
    """A record left alone on purpose: listed and counted apart, never toward max_rejected_records."""

    counted = False

    def __init__(self, reason: str, code: str, because: str) -> None:
        super().__init__(reason, code)
        self.outcome = f"skipped ({because})"


@dataclass(frozen=True)
class Rejection:
    stream: str
    line: int
    identifiers: Dict[str, Any]
    reason: str
    code: Optional[str]
    record: Dict[str, Any]
    counted: bool = True

    def describe(self) -> str:
        for key, value in self.identifiers.items():
            if value is not None:
                return f"line {self.line} ({key} {value})"
        return f"line {self.line}"


class RejectsLedger:
    def __init__(self, path: Optional[str], limit: int, keep: int = 0) -> None:
        self._limit = limit
        self._lock = threading.Lock()
        self.count = 0
        # The first `keep` rejections, for a dry run's plan.
        self._keep = keep
        self.kept: List[Rejection] = []
        self._file: Optional[IO[str]] = _open_private(path) if path else None

    def add(self, rejection: Rejection) -> None:
        """Account for one record not loaded; raises once more were rejected than the limit allows."""
        with self._lock:
            if len(self.kept) < self._keep:
                self.kept.append(rejection)
            if self._file is not None:
                self._file.write(json.dumps(_file_entry(rejection), ensure_ascii=False, default=str) + "\n")
                self._file.flush()
            if not rejection.counted:
                logger.info("skipped the record at %s: %s", rejection.describe(), rejection.reason)
                return
            self.count += 1
            if self.count > self._limit:
                raise TooManyRejections(self._failure_message(rejection))
            logger.warning("rejected the record at %s: %s", rejection.describe(), rejection.reason)

    def _failure_message(self, rejection: Rejection) -> str:
        message = f"rejected the record at {rejection.describe()}: {rejection.reason}"
        if self._limit:
            message += f" ({self.count} records rejected, max_rejected_records is {self._limit})"
        return message

    def close(self) -> None:
        if self._file is not None:
            self._file.close()


def _open_private(path: str) -> IO[str]:
    """Open for appending, readable and writable by its owner only, whoever made it."""
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        os.fchmod(descriptor, 0o600)
    except OSError as exc:
        raise ConfigError(f"rejected_records_file {path} cannot be opened: {exc.strerror}") from None
    return os.fdopen(descriptor, "a", encoding="utf-8")


def _file_entry(rejection: Rejection) -> Dict[str, Any]:
    return {
        "stream": rejection.stream,
        "line": rejection.line,
        "identifiers": rejection.identifiers,
        "reason": rejection.reason,
        "error_code": rejection.code,
        "record": rejection.record,
    }
