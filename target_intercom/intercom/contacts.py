"""Contacts: search, reads, creates and updates, and the Preview bulk contacts jobs."""

from __future__ import annotations

from typing import Any, Callable, Dict, Iterator, List, Mapping, Optional
from urllib.parse import quote

from target_intercom.intercom.http import PREVIEW_VERSION, IntercomHttp, Refused
from target_intercom.intercom.models import IntercomContact, contact_from_json, contact_from_sdk

SEARCH_PAGE_SIZE = 150


class ContactsApi:
    def __init__(self, http: IntercomHttp) -> None:
        self._http = http

    def search(self, query: Mapping[str, Any]) -> Iterator[IntercomContact]:
        """Every contact matching the query, following cursors (the SDK's pager never does)."""
        cursor: Optional[str] = None
        while True:
            pagination: Dict[str, Any] = {"per_page": SEARCH_PAGE_SIZE}
            if cursor:
                pagination["starting_after"] = cursor
            body = {"query": dict(query), "pagination": pagination}
            page = self._http.send_json("POST", "/contacts/search", body, "POST /contacts/search")
            for item in page.get("data") or []:
                yield contact_from_json(item)
            cursor = ((page.get("pages") or {}).get("next") or {}).get("starting_after")
            if not cursor:
                return

    # Reads by id are a few a run: the SDK's typed methods. Ids are quoted
    # here, since the SDK puts them in the path as they are.

    def find(self, contact_id: str) -> Optional[IntercomContact]:
        return self._find("GET /contacts/{id}", lambda: self._http.sdk.contacts.find(_quoted(contact_id)))

    def find_by_external_id(self, external_id: str) -> Optional[IntercomContact]:
        """Users only; unlike search, it sees a contact as soon as it is created."""
        return self._find(
            "GET /contacts/find_by_external_id/{id}",
            lambda: self._http.sdk.contacts.show_contact_by_external_id(_quoted(external_id)),
        )

    def _find(self, label: str, send: Callable[[], Any]) -> Optional[IntercomContact]:
        try:
            found = self._http.call(label, send)
        except Refused as exc:
            if exc.merged_into:
                return self.find(exc.merged_into)  # merged: the contact it became
            if exc.status in (404, 410):
                return None
            raise
        return contact_from_sdk(found)

    def unarchive(self, contact_id: str) -> None:
        self._http.send_json("POST", f"/contacts/{_quoted(contact_id)}/unarchive", None, "POST /contacts/{id}/unarchive")

    def archive(self, contact_id: str) -> None:
        self._http.send_json("POST", f"/contacts/{_quoted(contact_id)}/archive", None, "POST /contacts/{id}/archive")

    def delete(self, contact_id: str) -> None:
        """Permanent: Intercom keeps the user's email and user_id reserved afterwards."""
        self._http.send_json("DELETE", "/contacts/" + _quoted(contact_id), None, "DELETE /contacts/{id}")

    def create(self, body: Mapping[str, Any]) -> IntercomContact:
        return contact_from_json(self._http.send_json("POST", "/contacts", body, "POST /contacts"))

    def update(self, contact_id: str, body: Mapping[str, Any]) -> IntercomContact:
        path = "/contacts/" + _quoted(contact_id)
        return contact_from_json(self._http.send_json("PUT", path, body, "PUT /contacts/{id}"))

    def bulk_create(self, contacts: List[Dict[str, Any]], job_id: Optional[str]) -> Dict[str, Any]:
        return self._bulk("POST", "/contacts/bulk", contacts, job_id, "POST /contacts/bulk")

    def bulk_update(self, contacts: List[Dict[str, Any]], job_id: Optional[str]) -> Dict[str, Any]:
        return self._bulk("PUT", "/contacts/bulk", contacts, job_id, "PUT /contacts/bulk")

    def bulk_delete(self, contacts: List[Dict[str, Any]], job_id: Optional[str]) -> Dict[str, Any]:
        """Permanent deletion of `[{"id": ...}]` (Preview)."""
        return self._bulk("POST", "/contacts/bulk/delete", contacts, job_id, "POST /contacts/bulk/delete")

    def bulk_job(self, job_id: str) -> Dict[str, Any]:
        path = "/contacts/bulk/" + _quoted(job_id)
        return self._http.send_json("GET", path, None, "GET /contacts/bulk/{id}", version=PREVIEW_VERSION)

    def _bulk(
        self, method: str, path: str, contacts: List[Dict[str, Any]], job_id: Optional[str], label: str
    ) -> Dict[str, Any]:
        body: Dict[str, Any] = {"contacts": contacts}
        if job_id:
            body["job"] = {"id": job_id}
        return self._http.send_json(method, path, body, label, version=PREVIEW_VERSION)


def _quoted(identifier: str) -> str:
    # An id of the source's (an external_id) may hold "/", "?", "#", "%" or spaces.
    return quote(identifier, safe="")
