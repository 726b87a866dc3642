"""Injected failures: a queue of one-shot (or endless) faults and the "every write after K fails" gate."""
from __future__ import annotations

import re
import threading
from typing import Any, Dict, List, Optional, Pattern

FAIL = "fail"
DROP = "drop"
DELAY = "delay"
MALFORMED = "malformed"

BODY_KINDS = ("json", "html", "empty")
MALFORMED_KINDS = ("truncated", "garbage")


class Fault:
    __slots__ = ("kind", "remaining", "status", "body", "retry_after", "after_processing", "seconds",
                 "malformed", "method", "path_re", "code", "message")

    def __init__(self, kind: str, remaining: Optional[int], *, status: int = 500, body: str = "json",
                 retry_after: Optional[float] = None, after_processing: bool = False, seconds: float = 0.0,
                 malformed: str = "truncated", match_method: Optional[str] = None,
                 match_path: Optional[str] = None, code: Optional[str] = None,
                 message: Optional[str] = None) -> None:
        if remaining is not None and (isinstance(remaining, bool) or not isinstance(remaining, int) or remaining < 1):
            raise ValueError("n must be a positive integer or None (forever)")
        if body not in BODY_KINDS:
            raise ValueError("body must be one of %s" % ", ".join(BODY_KINDS))
        if malformed not in MALFORMED_KINDS:
            raise ValueError("kind must be one of %s" % ", ".join(MALFORMED_KINDS))
        if not isinstance(status, int) or not 100 <= status <= 599:
            raise ValueError("status must be an HTTP status code")
        for label, value in (("code", code), ("message", message)):
            if value is not None and not isinstance(value, str):
                raise ValueError("%s must be a string" % label)
        self.kind = kind
        self.remaining = remaining
        self.status = status
        self.body = body
        self.retry_after = retry_after
        self.after_processing = after_processing
        self.seconds = float(seconds)
        self.malformed = malformed
        self.method = match_method.upper() if match_method else None
        self.path_re: Optional[Pattern[str]] = re.compile(match_path) if match_path else None
        # The error.list's code and message (a JSON body only); None: the usual pair for the status.
        self.code = code
        self.message = message

    def matches(self, method: str, path: str) -> bool:
        if self.method is not None and self.method != method:
            return False
        return self.path_re is None or self.path_re.search(path) is not None

    def describe(self) -> Dict[str, Any]:
        return {"kind": self.kind, "remaining": self.remaining, "status": self.status, "body": self.body,
                "after_processing": self.after_processing, "seconds": self.seconds,
                "match_method": self.method, "match_path": self.path_re.pattern if self.path_re else None,
                "code": self.code, "message": self.message}


_READS_BY_POST = ("/contacts/search", "/companies/list")


def is_write(method: str, path: str) -> bool:
    # Search and the company list are POSTs but read; everything else sent with POST/PUT changes state.
    return method in ("POST", "PUT") and path not in _READS_BY_POST


class FaultPlan:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: List[Fault] = []
        self._write_gate: Optional[Dict[str, Any]] = None
        self._write_successes = 0

    def add(self, fault: Fault) -> None:
        with self._lock:
            self._faults.append(fault)

    def fail_writes_after(self, k: int, status: int = 500, body: str = "json", code: Optional[str] = None,
                          message: Optional[str] = None) -> None:
        if isinstance(k, bool) or not isinstance(k, int) or k < 0:
            raise ValueError("k must be a non-negative integer")
        Fault(FAIL, None, status=status, body=body, code=code, message=message)  # validates the arguments
        with self._lock:
            self._write_gate = {"k": k, "status": status, "body": body, "code": code, "message": message}
            self._write_successes = 0

    def clear(self) -> None:
        with self._lock:
            self._faults = []
            self._write_gate = None
            self._write_successes = 0

    def take(self, method: str, path: str) -> Optional[Fault]:
        """The first queued fault that matches this request, consuming one of its uses."""
        with self._lock:
            if self._write_gate is not None and is_write(method, path) \
                    and self._write_successes >= self._write_gate["k"]:
                gate = self._write_gate
                return Fault(FAIL, 1, status=gate["status"], body=gate["body"], code=gate["code"],
                             message=gate["message"])
            for i, fault in enumerate(self._faults):
                if fault.matches(method, path):
                    if fault.remaining is not None:
                        fault.remaining -= 1
                        if fault.remaining == 0:
                            del self._faults[i]
                    return fault
        return None

    def note_response(self, method: str, path: str, status: int) -> None:
        if 200 <= status < 300 and is_write(method, path):
            with self._lock:
                if self._write_gate is not None:
                    self._write_successes += 1

    def describe(self) -> Dict[str, Any]:
        with self._lock:
            return {"faults": [f.describe() for f in self._faults],
                    "fail_writes_after": dict(self._write_gate) if self._write_gate else None,
                    "successful_writes": self._write_successes}
