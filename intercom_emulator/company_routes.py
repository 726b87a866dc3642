"""The company endpoints: companies, contact attachments and the Preview bulk companies jobs."""
from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, Callable, List, Optional, Tuple

from . import companies as co
from .bulk import bulk_items, check_bulk_access
from .errors import bad_param

if TYPE_CHECKING:  # pragma: no cover
    from .core import Core
    from .routes import ApiRequest

Reply = Tuple[int, Any]
ATTACHED_PER_PAGE = 50  # the recorded examples of the attached-companies/contacts lists page by 50
ATTACHED_MAX_PER_PAGE = 150  # guess: the spec names no maximum


# ---- companies ----------------------------------------------------------------------------------------

def create_or_update_company(core: "Core", req: "ApiRequest") -> Reply:
    body = req.json_object()
    with core.lock:
        return 200, co.render(core, co.upsert_company(core, body, req.version, req.arrived))


def update_company(core: "Core", req: "ApiRequest") -> Reply:
    with core.lock:
        core.companies.find(req.params["id"])  # an unknown id is a 404 even when the body is also wrong
        body = req.json_object()
        return 200, co.render(core, co.update_company(core, req.params["id"], body, req.version))


def get_company(core: "Core", req: "ApiRequest") -> Reply:
    with core.lock:
        return 200, co.render(core, core.companies.find(req.params["id"]))


def delete_company(core: "Core", req: "ApiRequest") -> Reply:
    with core.lock:
        return 200, co.delete_company(core, req.params["id"])


def retrieve_companies(core: "Core", req: "ApiRequest") -> Reply:
    """GET /companies: one company by company_id or name, else the companies (optionally of a tag or segment)."""
    query = req.query
    with core.lock:
        if "company_id" in query or "name" in query:
            return 200, co.render(core, co.lookup_company(core, query.get("company_id"), query.get("name")))
        items = core.companies.visible()
        if "tag_id" in query:
            tag = core.tags.get(query["tag_id"])
            items = [c for c in items if tag is not None and c.id in tag.companies]
        if "segment_id" in query:
            items = []  # the emulator has no segments
        return _company_page(core, req, items)


def list_all_companies(core: "Core", req: "ApiRequest") -> Reply:
    """POST /companies/list: "sorted by the last_request_at field and by default ... descending"."""
    order = req.query.get("order") or "desc"
    if order not in ("asc", "desc"):
        raise bad_param("order must be asc or desc")
    with core.lock:
        items = sorted(core.companies.visible(), key=lambda c: (c.last_request_at or 0, c.seq),
                       reverse=order == "desc")
        return _company_page(core, req, items)


def _company_page(core: "Core", req: "ApiRequest", items: List[co.Company]) -> Reply:
    page, per_page = co.page_params(req.query, co.DEFAULT_PER_PAGE, co.MAX_PER_PAGE)
    picked, total_pages, more = co.capped_page(items, page, per_page)
    # `next` is the URL of the next page, null on the last one (as in the examples). The 2.x schema types it as
    # starting_after_paging, but Intercom's SDK generator overrides company_list.pages to a string `next`
    # (Intercom-OpenAPI fern/openapi-overrides.yml, offset_pages).
    next_url = "%s%s?page=%d&per_page=%d" % (req.base_url, req.path, page + 1, per_page) if more else None
    pages = {"type": "pages", "next": next_url, "page": page, "per_page": per_page, "total_pages": total_pages}
    return 200, {"type": "list", "data": [co.render(core, c) for c in picked], "pages": pages,
                 "total_count": len(items)}


def scroll_companies(core: "Core", req: "ApiRequest") -> Reply:
    param = req.query.get("scroll_param") or None
    now = time.monotonic()
    expiry = core.settings.company_scroll_expiry
    with core.lock:
        store = core.companies
        scroll = store.continue_scroll(param, now, expiry) if param else store.open_scroll(now, expiry)
        page = store.scroll_page(scroll)
        return 200, {"type": "list", "data": [co.render(core, c) for c in page], "pages": None,
                     "total_count": None, "scroll_param": scroll.param}


def list_company_contacts(core: "Core", req: "ApiRequest") -> Reply:
    page, per_page = co.page_params(req.query, ATTACHED_PER_PAGE, ATTACHED_MAX_PER_PAGE)
    with core.lock:
        company = core.companies.find(req.params["id"])
        contacts = [c for c in (core.store.get(i) for i in company.contacts) if c is not None]
        start = (page - 1) * per_page
        data = [core.render(c, req.version) for c in contacts[start:start + per_page]]
    pages = {"type": "pages", "page": page, "per_page": per_page, "total_pages": -(-len(contacts) // per_page)}
    return 200, {"type": "list", "data": data, "total_count": len(contacts), "pages": pages}


# ---- contacts and their companies ---------------------------------------------------------------------

# A merged contact answers these like GET /contacts/{id}: 410 contact_merged from 2.16, 404 before.

def attach_contact(core: "Core", req: "ApiRequest") -> Reply:
    with core.lock:
        core.find(req.params["id"], req.version)
        # No body at all is the spec's "company not specified" example, not a malformed request.
        body = {} if req.body is None and not req.body_error else req.json_object()
        return 200, co.render(core, co.attach_contact(core, req.params["id"], body))


def detach_contact(core: "Core", req: "ApiRequest") -> Reply:
    with core.lock:
        core.find(req.params["id"], req.version)
        return 200, co.render(core, co.detach_contact(core, req.params["id"], req.params["company_id"]))


def list_contact_companies(core: "Core", req: "ApiRequest") -> Reply:
    """GET /contacts/{id}/companies, shaped like Intercom's recorded example.

    The schema (contact_attached_companies) names the array ``companies`` but Intercom's recorded answer calls
    it ``data``; the emulator follows the recording.
    """
    contact_id = req.params["id"]
    page, per_page = co.page_params(req.query, ATTACHED_PER_PAGE, ATTACHED_MAX_PER_PAGE)
    with core.lock:
        core.find(contact_id, req.version)
        companies = [core.companies.by_id[i] for i in core.companies.company_ids_of(contact_id)]
        start = (page - 1) * per_page
        data = [co.render(core, c) for c in companies[start:start + per_page]]
    more = start + per_page < len(companies)
    next_url: Optional[str] = None
    if more:
        next_url = "%s/contacts/%s/companies?page=%d&per_page=%d" % (req.base_url, contact_id, page + 1, per_page)
    pages = {"type": "pages", "next": next_url, "page": page, "per_page": per_page,
             "total_pages": -(-len(companies) // per_page)}
    return 200, {"type": "list", "data": data, "pages": pages, "total_count": len(companies)}


# ---- Preview bulk companies -------------------------------------------------------------------------

def _bulk_submit(core: "Core", req: "ApiRequest", kind: str) -> Reply:
    check_bulk_access(req.version, core.settings.bulk_enabled)
    items, job_id = bulk_items(req.json_object(), kind != "create", "companies", "company")
    with core.lock:
        return 202, core.bulk.submit(kind, items, job_id, obj="companies").render(req.base_url)


def bulk_create(core: "Core", req: "ApiRequest") -> Reply:
    return _bulk_submit(core, req, "create")


def bulk_update(core: "Core", req: "ApiRequest") -> Reply:
    return _bulk_submit(core, req, "update")


def bulk_delete(core: "Core", req: "ApiRequest") -> Reply:
    return _bulk_submit(core, req, "delete")


def bulk_show(core: "Core", req: "ApiRequest") -> Reply:
    check_bulk_access(req.version, core.settings.bulk_enabled)
    with core.lock:
        return 200, core.bulk.get(req.params["id"], "companies").render(req.base_url)


Handler = Callable[["Core", "ApiRequest"], Reply]
# (method, template, handler); literal paths are matched before templates, so /companies/scroll is not an id.
COMPANY_ROUTES: List[Tuple[str, str, Handler]] = [
    ("GET", "/companies/scroll", scroll_companies),
    ("POST", "/companies/list", list_all_companies),
    ("POST", "/companies/bulk/delete", bulk_delete),
    ("POST", "/companies/bulk", bulk_create),
    ("PUT", "/companies/bulk", bulk_update),
    ("GET", "/companies/bulk/{id}", bulk_show),
    ("GET", "/companies/{id}/contacts", list_company_contacts),
    ("GET", "/companies/{id}", get_company),
    ("PUT", "/companies/{id}", update_company),
    ("DELETE", "/companies/{id}", delete_company),
    ("GET", "/companies", retrieve_companies),
    ("POST", "/companies", create_or_update_company),
    ("POST", "/contacts/{id}/companies", attach_contact),
    ("GET", "/contacts/{id}/companies", list_contact_companies),
    ("DELETE", "/contacts/{id}/companies/{company_id}", detach_contact),
]
