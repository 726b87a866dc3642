"""The only module that talks HTTP to Intercom.

It wraps the official python-intercom SDK's HTTP client with what the SDK
lacks: a pinned `Intercom-Version` header, pacing to the rate limit
(`ratelimit`), retries of 429s, 5xx, timeouts, dropped connections and garbled
responses with backoff for a bounded time, and translation of Intercom's
errors into the exceptions below. The per-object modules beside it (contacts,
data attributes, ...) say which endpoint to call and what its answer means;
this one says how a call is made.
"""

from __future__ import annotations

import email.utils
import logging
import random
import re
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Mapping, Optional, Tuple, TypeVar

import httpx
from intercom import Intercom
from intercom.core.api_error import ApiError

from target_intercom import __version__
from target_intercom.errors import AuthError, IntercomUnavailable, Interrupted
from target_intercom.intercom.ratelimit import RateGovernor

logger = logging.getLogger(__name__)

T = TypeVar("T")

PREVIEW_VERSION = "Preview"
_CONFLICT_ID = re.compile(r"id=([0-9A-Za-z_-]+)")
_CANONICAL = re.compile(r"</contacts/([^>/]+)>\s*;\s*rel=\"?canonical")
_BACKOFF_FIRST = 0.5
_BACKOFF_MAX = 30.0


class Refused(Exception):
    """Intercom refused a request with a 4xx other than 401/403/409/429 (or a bulk job's "closed" 403)."""

    def __init__(
        self, status: int, code: Optional[str], message: str, headers: Optional[Mapping[str, str]] = None
    ) -> None:
        super().__init__(f"Intercom answered {status} {code or ''}: {message}".replace("  ", " "))
        self.status = status
        self.code = code
        self.message = message
        self.headers: Mapping[str, str] = headers or {}

    @property
    def merged_into(self) -> Optional[str]:
        """A 410 for a merged contact names the contact it was merged into: `Link: </contacts/ID>; rel="canonical"`."""
        found = _CANONICAL.search(self.headers.get("link", "")) if self.status == 410 else None
        return found.group(1) if found else None

    def describe(self) -> str:
        """How a record's rejection quotes Intercom."""
        return f"Intercom refused it ({self.status} {self.code or 'error'}: {self.message})"


class AccessDenied(AuthError):
    """403: the token is valid but may not do this (the plan, a missing scope, no Preview access)."""

    def __init__(self, label: str, code: Optional[str], message: str) -> None:
        super().__init__(f"Intercom refused access to {label} (403 {code or 'error'}: {message})")
        self.code = code
        self.message = message


class Conflict(Exception):
    """409: the object the request would create or change collides with an existing one (its id is named)."""

    def __init__(self, existing_id: Optional[str], archived: bool, message: str) -> None:
        super().__init__(message)
        self.existing_id = existing_id
        self.archived = archived


@dataclass
class RequestLog:
    """Counts of requests by endpoint and outcome, and time spent in them."""

    counts: Dict[str, int] = field(default_factory=dict)
    seconds: Dict[str, float] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, label: str, status: str, seconds: float) -> None:
        logger.debug("%s: %s in %.3f s", label, status, seconds)
        key = f"{label} {status}"
        with self._lock:
            self.counts[key] = self.counts.get(key, 0) + 1
            self.seconds[key] = self.seconds.get(key, 0.0) + seconds

    def totals(self) -> Dict[str, Tuple[int, float]]:
        """"<endpoint> <status>" -> (requests, seconds spent in them)."""
        with self._lock:
            return {key: (count, self.seconds[key]) for key, count in self.counts.items()}


class IntercomHttp:
    """Every request to Intercom goes through `call`: paced, retried, and its errors translated."""

    def __init__(
        self,
        *,
        token: str,
        base_url: str,
        version: str,
        timeout: float,
        max_retry_time: float,
        max_connections: int,
        governor: RateGovernor,
    ) -> None:
        self.governor = governor
        self.version = version
        self._max_retry_time = max_retry_time
        self._base_url = base_url
        self._token = token
        limits = httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections)
        self._http = httpx.Client(
            timeout=timeout,
            limits=limits,
            headers={"User-Agent": f"target-intercom/{__version__}"},
            event_hooks={"request": [_stamp_sent_at], "response": [self._observe_response]},
        )
        self.sdk = Intercom(
            token=token, base_url=base_url, headers={"Intercom-Version": version}, httpx_client=self._http
        )
        self.log = RequestLog()
        self._stopping = threading.Event()

    def stop(self) -> None:
        """No more requests and no more retries; requests under way still finish."""
        self._stopping.set()
        self.governor.stop()

    def close(self) -> None:
        self._http.close()

    def send_json(
        self,
        method: str,
        path: str,
        body: Optional[Mapping[str, Any]],
        label: str,
        version: Optional[str] = None,
        params: Optional[Mapping[str, Any]] = None,
    ) -> Dict[str, Any]:
        """A request on the SDK's HTTP client without its models; returns the parsed answer ({} when empty).

        The SDK's models cost about 2 ms of CPU per object, 30 times the request
        itself, and some endpoints have no SDK method; `path` must be encoded.
        """
        headers = {
            "Authorization": f"Bearer {self._token}",
            "Intercom-Version": version or self.version,
            "Accept": "application/json",
        }
        url = self._base_url + path

        def send() -> Dict[str, Any]:
            response = self._http.request(
                method, url, json=dict(body) if body is not None else None, headers=headers, params=params
            )
            if response.status_code == 202 and not response.content:
                return {}  # accepted for later processing (data events)
            try:
                parsed = response.json()
            except ValueError:
                raise ApiError(status_code=response.status_code, headers=dict(response.headers), body=response.text)
            if not 200 <= response.status_code < 300 or not isinstance(parsed, dict):
                raise ApiError(status_code=response.status_code, headers=dict(response.headers), body=parsed)
            return parsed

        return self.call(label, send)

    def call(self, label: str, send: Callable[[], T]) -> T:
        """Send until Intercom answers for good: retried within max_retry_time, errors translated."""
        deadline = time.monotonic() + self._max_retry_time
        attempt = 0
        while True:
            self.governor.acquire()
            started = time.monotonic()
            try:
                result = send()
            except ApiError as exc:
                self.log.add(label, str(exc.status_code), time.monotonic() - started)
                failure = _classify(label, exc)
                delay = _retry_delay(attempt, exc.headers or {}, exc.status_code)
            except httpx.TransportError as exc:
                self.log.add(label, type(exc).__name__, time.monotonic() - started)
                failure = f"{type(exc).__name__}"
                delay = _backoff(attempt)
            else:
                self.log.add(label, "ok", time.monotonic() - started)
                return result
            finally:
                self.governor.release()
            if time.monotonic() + delay > deadline:
                raise IntercomUnavailable(
                    f"Intercom did not complete {label} within max_retry_time "
                    f"({self._max_retry_time:g} s); last answer: {failure}"
                )
            logger.info("%s failed (%s); retrying in %.1f s", label, failure, delay)
            if self._stopping.wait(delay):
                raise Interrupted(f"stopped while retrying {label}")
            attempt += 1

    def _observe_response(self, response: httpx.Response) -> None:
        received_at = time.time()
        sent_at = response.request.extensions.get(_SENT_AT, received_at)
        self.governor.observe(response.status_code, response.headers, sent_at, received_at)


def _classify(label: str, exc: ApiError) -> str:
    """Raise for answers that must not be retried; describe the ones that will be."""
    status = exc.status_code or 0
    code, message = _error_detail(exc.body)
    if status == 403 and "closed for new task" in message:
        raise Refused(status, code, message)  # a bulk job that takes no more tasks
    if status == 401:
        raise AuthError(f"Intercom rejected the access token (401 {code or 'unauthorized'})")
    if status == 403:
        # Not the token: what it may do. Intercom's code and message say what is missing.
        raise AccessDenied(label, code, message)
    if status == 409:
        found = _CONFLICT_ID.search(message)
        raise Conflict(found.group(1) if found else None, "archived" in message.lower(), message)
    if 200 <= status < 300:
        return f"{status} with a body that is not valid JSON"
    if status in (408, 429) or status >= 500:
        return f"{status} {code or ''}".strip()
    raise Refused(status, code, message, {k.lower(): v for k, v in (exc.headers or {}).items()})


def _retry_delay(attempt: int, headers: Mapping[str, str], status: Optional[int]) -> float:
    retry_after = _retry_after_seconds(headers.get("retry-after"))
    if status == 429:
        # The governor holds the retry until the window refills; the backoff
        # keeps a request refused again and again from hammering Intercom,
        # whatever its headers say.
        return max(_backoff(attempt), retry_after or 0.0)
    return _backoff(attempt) if retry_after is None else retry_after


# Where a request keeps the local time it left at, for the governor's reading of Intercom's clock.
_SENT_AT = "target_intercom.sent_at"


def _stamp_sent_at(request: httpx.Request) -> None:
    request.extensions[_SENT_AT] = time.time()


def _backoff(attempt: int) -> float:
    return min(_BACKOFF_MAX, _BACKOFF_FIRST * 2**attempt) * random.uniform(0.5, 1.0)


def _retry_after_seconds(value: Optional[str]) -> Optional[float]:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    parsed = email.utils.parsedate_to_datetime(value) if value else None
    return max(0.0, parsed.timestamp() - time.time()) if parsed else None


def _error_detail(body: Any) -> Tuple[Optional[str], str]:
    errors = getattr(body, "errors", None)
    if errors:
        first = errors[0]
        return getattr(first, "code", None), getattr(first, "message", None) or ""
    if isinstance(body, dict):
        items = body.get("errors") or []
        if items and isinstance(items[0], dict):
            return items[0].get("code"), items[0].get("message") or ""
        return None, str(body)[:200]
    text = str(body or "")
    return None, (text[:200] if text else "empty body")
