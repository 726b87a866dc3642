"""Companies: the upsert by company_id, reads, the whole workspace's listing, attachments to contacts, bulk jobs."""

from __future__ import annotations

from typing import Any, Dict, List, Mapping, Optional, Tuple
from urllib.parse import quote

from target_intercom.intercom.http import PREVIEW_VERSION, IntercomHttp, Refused
from target_intercom.intercom.models import IntercomCompany, company_from_json

# The most companies one page of `POST /companies/list` holds, and how far that listing goes.
LIST_PAGE_SIZE = 60
LIST_LIMIT = 10_000


class CompaniesApi:
    def __init__(self, http: IntercomHttp) -> None:
        self._http = http

    def upsert(self, body: Mapping[str, Any]) -> IntercomCompany:
        """Create the company, or update the one holding body["company_id"] (Intercom's one true upsert)."""
        return company_from_json(self._http.send_json("POST", "/companies", body, "POST /companies"))

    def find(self, company_id: str) -> Optional[IntercomCompany]:
        """The company holding this company_id (yours, not Intercom's id), if there is one."""
        try:
            found = self._http.send_json(
                "GET", "/companies", None, "GET /companies?company_id", params={"company_id": company_id}
            )
        except Refused as exc:
            if exc.status == 404:
                return None
            raise
        return company_from_json(found)

    def list_page(self, page: int) -> Tuple[List[IntercomCompany], int]:
        """One page of every company with users, and how many pages there are."""
        listing = self._http.send_json(
            "POST", "/companies/list", None, "POST /companies/list", params={"page": page, "per_page": LIST_PAGE_SIZE}
        )
        pages = listing.get("pages") or {}
        return [company_from_json(item) for item in listing.get("data") or []], int(pages.get("total_pages") or 0)

    def scroll(self, scroll_param: Optional[str]) -> Tuple[List[IntercomCompany], Optional[str]]:
        """One page of a scroll over every company with users, and the parameter for the next (None at the end)."""
        params = {"scroll_param": scroll_param} if scroll_param else None
        page = self._http.send_json("GET", "/companies/scroll", None, "GET /companies/scroll", params=params)
        companies = [company_from_json(item) for item in page.get("data") or []]
        return companies, (page.get("scroll_param") if companies else None)

    def attach(self, contact_id: str, company_id: str) -> None:
        """Attach the contact to the company (Intercom's company id)."""
        path = f"/contacts/{_quoted(contact_id)}/companies"
        self._http.send_json("POST", path, {"id": company_id}, "POST /contacts/{id}/companies")

    def detach(self, contact_id: str, company_id: str) -> None:
        path = f"/contacts/{_quoted(contact_id)}/companies/{_quoted(company_id)}"
        self._http.send_json("DELETE", path, None, "DELETE /contacts/{id}/companies/{id}")

    def delete(self, company_id: str) -> None:
        """Intercom's id; Intercom archives the company and detaches its contacts."""
        self._http.send_json("DELETE", "/companies/" + _quoted(company_id), None, "DELETE /companies/{id}")

    def bulk_create(self, companies: List[Dict[str, Any]], job_id: Optional[str]) -> Dict[str, Any]:
        """Create or update by company_id, like `upsert` (Preview)."""
        return self._bulk("POST", "/companies/bulk", companies, job_id, "POST /companies/bulk")

    def bulk_update(self, companies: List[Dict[str, Any]], job_id: Optional[str]) -> Dict[str, Any]:
        return self._bulk("PUT", "/companies/bulk", companies, job_id, "PUT /companies/bulk")

    def bulk_delete(self, companies: List[Dict[str, Any]], job_id: Optional[str]) -> Dict[str, Any]:
        """Delete `[{"id": ...}]` (Intercom's ids; Preview), as `delete` does."""
        return self._bulk("POST", "/companies/bulk/delete", companies, job_id, "POST /companies/bulk/delete")

    def bulk_job(self, job_id: str) -> Dict[str, Any]:
        path = "/companies/bulk/" + _quoted(job_id)
        return self._http.send_json("GET", path, None, "GET /companies/bulk/{id}", version=PREVIEW_VERSION)

    def _bulk(
        self, method: str, path: str, companies: List[Dict[str, Any]], job_id: Optional[str], label: str
    ) -> Dict[str, Any]:
        body: Dict[str, Any] = {"companies": companies}
        if job_id:
            body["job"] = {"id": job_id}
        return self._http.send_json(method, path, body, label, version=PREVIEW_VERSION)


def _quoted(identifier: str) -> str:
    return quote(identifier, safe="")
