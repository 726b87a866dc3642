"""What the emulator was asked: a bounded log of requests plus exact counters."""
from __future__ import annotations

import collections
import threading
from typing import Any, Deque, Dict, List, Optional


class RequestRecord:
    """One API request as the emulator saw it. Holds no credentials."""

    __slots__ = ("method", "path", "endpoint", "query", "version", "host", "body", "status", "time",
                 "duration", "fault", "request_id")

    def __init__(self, method: str, path: str, endpoint: str, query: Dict[str, str], version: Optional[str],
                 host: Optional[str], body: Any, time: float, request_id: str) -> None:
        self.method = method
        self.path = path
        self.endpoint = endpoint
        self.query = query
        self.version = version
        self.host = host
        self.body = body
        self.status = 0
        self.time = time
        self.duration = 0.0
        # Name of the injected fault that shaped the answer, if any (e.g. "fail", "drop", "malformed").
        self.fault: Optional[str] = None
        self.request_id = request_id

    def to_dict(self) -> Dict[str, Any]:
        return {name: getattr(self, name) for name in self.__slots__}

    def __repr__(self) -> str:
        return "RequestRecord(%s %s -> %s)" % (self.method, self.path, self.status)


class RequestLog:
    def __init__(self, maxlen: int = 100_000) -> None:
        self._lock = threading.Lock()
        self._records: Deque[RequestRecord] = collections.deque(maxlen=maxlen)
        self._counts: Dict[str, int] = {}
        self._total = 0
        self._rate_limited = 0
        self._cpu = 0.0
        self._handled = 0

    def add(self, record: RequestRecord) -> None:
        with self._lock:
            self._records.append(record)
            self._counts[record.endpoint] = self._counts.get(record.endpoint, 0) + 1
            self._total += 1
            if record.status == 429:
                self._rate_limited += 1

    def add_cpu(self, seconds: float) -> None:
        with self._lock:
            self._cpu += seconds
            self._handled += 1

    def records(self) -> List[RequestRecord]:
        with self._lock:
            return list(self._records)

    def count(self, endpoint: Optional[str] = None) -> int:
        with self._lock:
            if endpoint is None:
                return self._total
            return self._counts.get(endpoint, 0)

    def counts(self) -> Dict[str, int]:
        with self._lock:
            return dict(self._counts)

    @property
    def rate_limited(self) -> int:
        with self._lock:
            return self._rate_limited

    def cpu(self) -> Dict[str, float]:
        """Server CPU spent in request handling threads (HTTP parsing included)."""
        with self._lock:
            per = self._cpu / self._handled if self._handled else 0.0
            return {"cpu_seconds": self._cpu, "handled": self._handled, "cpu_ms_per_request": per * 1000.0}

    def reset(self) -> None:
        with self._lock:
            self._records.clear()
            self._counts.clear()
            self._total = 0
            self._rate_limited = 0
            self._cpu = 0.0
            self._handled = 0
