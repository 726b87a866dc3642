"""Rejected records: accounted for, written to the rejects file, and counted.

A record is rejected when it cannot become a contact (schema violation, no
identifier, a value of the wrong type) or when Intercom refuses it with a 4xx.
Each rejection is written to `rejected_records_file` when one is configured;
once more than `max_rejected_records` were rejected, the run fails.
"""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass
from typing import IO, Any, Dict, List, Optional

from target_intercom.errors import ConfigError, TooManyRejections

logger = logging.getLogger(__name__)


class RecordRejected(Exception):
    """Raised while handling one record that cannot be loaded."""

    def __init__(self, reason: str, code: Optional[str] = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.code = code


@dataclass(frozen=True)
class Rejection:
    stream: str
    line: int
    identifiers: Dict[str, Any]
    reason: str
    code: Optional[str]
    record: Dict[str, Any]

    def describe(self) -> str:
        for key in ("user_id", "id", "email"):
            if self.identifiers.get(key) is not None:
                return f"line {self.line} ({key} {self.identifiers[key]})"
        return f"line {self.line}"


class RejectsLedger:
    def __init__(self, path: Optional[str], limit: int, keep: int = 0) -> None:
        self._limit = limit
        self._lock = threading.Lock()
        self.count = 0
        # The first `keep` rejections, for a dry run's plan.
        self._keep = keep
        self.kept: List[Rejection] = []
        self._file: Optional[IO[str]] = None
        if path:
            try:
                self._file = open(path, "a", encoding="utf-8")
            except OSError as exc:
                raise ConfigError(f"rejected_records_file {path} cannot be opened: {exc.strerror}") from None

    def reject(self, rejection: Rejection) -> None:
        """Account for one rejected record; raises once the limit is passed."""
        with self._lock:
            self.count += 1
            if len(self.kept) < self._keep:
                self.kept.append(rejection)
            if self._file is not None:
                self._file.write(json.dumps(_file_entry(rejection), ensure_ascii=False, default=str) + "\n")
                self._file.flush()
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


def _file_entry(rejection: Rejection) -> Dict[str, Any]:
    return {
        "stream": rejection.stream,
        "line": rejection.line,
        "identifiers": rejection.identifiers,
        "reason": rejection.reason,
        "error_code": rejection.code,
        "record": rejection.record,
    }
