"""Data events: `POST /events`, one event per call (no bulk endpoint exists in any API version)."""

from __future__ import annotations

from typing import Any, Mapping

from target_intercom.intercom.http import IntercomHttp


class EventsApi:
    def __init__(self, http: IntercomHttp) -> None:
        self._http = http

    def create(self, body: Mapping[str, Any]) -> None:
        """Submit one event; Intercom answers 202 with no body, also for a duplicate it drops.

        Raises Refused (404) when Intercom has no such user. The raw request,
        not the SDK's: this is the hot path of an events load, and retrying it
        is safe because Intercom drops an event that repeats (user, name, created_at).
        """
        self._http.send_json("POST", "/events", body, "POST /events")
