"""Admins: the teammates of the workspace, whom a contact's owner_id must name."""

from __future__ import annotations

from typing import List

from target_intercom.intercom.http import IntercomHttp


class AdminsApi:
    def __init__(self, http: IntercomHttp) -> None:
        self._http = http

    def ids(self) -> List[str]:
        """Every admin's id (read once a run, through the SDK's typed method)."""
        listing = self._http.call("GET /admins", lambda: self._http.sdk.admins.list())
        return [str(admin.id) for admin in listing.admins or []]
