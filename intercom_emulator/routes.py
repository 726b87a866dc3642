"""The Intercom endpoints the emulator answers: route table and one handler per endpoint."""
from __future__ import annotations

import re
import time
from typing import Any, Callable, Dict, List, Optional, Tuple
from urllib.parse import unquote

from .bulk import bulk_items, check_bulk_access
from .company_routes import COMPANY_ROUTES
from .core import Core
from .errors import ApiError, bad_param
from .search import MAX_PER_PAGE, SearchRules, compile_query, decode_cursor, encode_cursor, page_of, \
    parse_pagination, run_query
from .event_routes import EVENT_ROUTES
from .tag_routes import TAG_ROUTES
from .versions import at_least, is_preview

# GET /contacts pages by 10 unless asked (Intercom-OpenAPI PR #639); search's default is 50.
LIST_DEFAULT_PER_PAGE = 10


class ApiRequest:
    """What a handler needs to know about a request (already authenticated and rate limited)."""

    __slots__ = ("method", "path", "params", "query", "body", "body_error", "version", "base_url", "arrived")

    def __init__(self, method: str, path: str, params: Dict[str, str], query: Dict[str, str], body: Any,
                 body_error: bool, version: str, base_url: str, arrived: float = 0.0) -> None:
        self.method = method
        self.path = path
        self.params = params
        self.query = query
        self.body = body
        self.body_error = body_error
        self.version = version
        self.base_url = base_url
        # Wall-clock time the request reached the server (before any latency): overlapping writes are judged by it.
        self.arrived = arrived

    def json_object(self) -> Dict[str, Any]:
        if self.body_error:
            raise ApiError(400, "bad_request", "The request body is not valid JSON")
        if not isinstance(self.body, dict):
            raise ApiError(400, "bad_request", "The request body must be a JSON object")
        return self.body


Reply = Tuple[int, Any]
Handler = Callable[[Core, ApiRequest], Reply]


# ---- contacts ---------------------------------------------------------------------------------------

def create_contact(core: Core, req: ApiRequest) -> Reply:
    body = req.json_object()
    with core.lock:
        return 200, core.render(core.create_contact(body, req.version), req.version, push=True)


def update_contact(core: Core, req: ApiRequest) -> Reply:
    with core.lock:
        core.find(req.params["id"], req.version)  # an unknown id is a 404 even when the body is also wrong
        body = req.json_object()
        return 200, core.render(core.update_contact(req.params["id"], body, req.version), req.version, push=True)


def get_contact(core: Core, req: ApiRequest) -> Reply:
    with core.lock:
        return 200, core.render(core.find(req.params["id"], req.version), req.version, push=True)


def find_by_external_id(core: Core, req: ApiRequest) -> Reply:
    with core.lock:
        c = core.find_by_external_id(req.params["external_id"], req.version)
        return 200, core.render(c, req.version, push=True)


def merge_contacts(core: Core, req: ApiRequest) -> Reply:
    body = req.json_object()
    with core.lock:
        return 200, core.render(core.merge_contacts(body, req.version), req.version, push=True)


def archive_contact(core: Core, req: ApiRequest) -> Reply:
    with core.lock:
        return 200, core.set_archived(req.params["id"], True)


def unarchive_contact(core: Core, req: ApiRequest) -> Reply:
    with core.lock:
        return 200, core.set_archived(req.params["id"], False)


def delete_contact(core: Core, req: ApiRequest) -> Reply:
    with core.lock:
        return 200, core.delete_contact(req.params["id"])


def search_contacts(core: Core, req: ApiRequest) -> Reply:
    body = req.json_object()
    if "query" not in body:
        raise ApiError(400, "parameter_not_found", "query parameter is required")
    per_page, cursor = parse_pagination(body.get("pagination"))
    settings = core.settings
    rules = SearchRules(settings.search_max_in_values, settings.search_rejects_non_ids_in_id_filter,
                        settings.email_search_case_sensitive)
    with core.lock:
        node = compile_query(body["query"], core.attributes, exact_dates=is_preview(req.version), rules=rules)
        results = run_query(core.store, node, time.monotonic())
        items, pages = page_of(results, per_page, cursor)
        data = [core.render(c, req.version) for c in items]
    return 200, {"type": "list", "data": data, "total_count": len(results), "pages": pages}


def list_contacts(core: Core, req: ApiRequest) -> Reply:
    per_page = _int_param(req.query, "per_page", LIST_DEFAULT_PER_PAGE)
    if not 1 <= per_page <= MAX_PER_PAGE:
        raise bad_param("per_page must be between 1 and %d" % MAX_PER_PAGE)
    cursor = req.query.get("starting_after") or None
    last_seq, page = decode_cursor(cursor) if cursor else (0, 1)
    with core.lock:
        store = core.store
        total = len(store) - store.archived_count
        picked: List[Any] = []
        more = False
        for c in store.by_id.values():
            if c.archived or c.seq <= last_seq:
                continue
            if len(picked) == per_page:
                more = True
                break
            picked.append(c)
        data = [core.render(c, req.version) for c in picked]
        pages: Dict[str, Any] = {"type": "pages", "page": page, "per_page": per_page,
                                 "total_pages": -(-total // per_page)}
        if more:
            pages["next"] = {"page": page + 1, "starting_after": encode_cursor(picked[-1], page + 1)}
    return 200, {"type": "list", "data": data, "total_count": total, "pages": pages}


def _int_param(query: Dict[str, str], name: str, default: int) -> int:
    raw = query.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise bad_param("%s must be an integer" % name) from None


# ---- data attributes -------------------------------------------------------------------------------

def list_data_attributes(core: Core, req: ApiRequest) -> Reply:
    model = req.query.get("model") or None
    if model == "conversation":
        if at_least(req.version, "2.16"):
            raise ApiError(422, "parameter_invalid", "model=conversation is no longer supported. "
                                                     "Use GET /conversations/attributes instead")
        return 200, {"type": "list", "data": []}
    if model not in (None, "contact", "company"):
        raise bad_param("model must be one of contact, company")
    include_archived = req.query.get("include_archived", "false").lower() in ("true", "1")
    with core.lock:
        data = core.attributes.list(model, include_archived, datetime_dates=is_preview(req.version))
    return 200, {"type": "list", "data": data}


def create_data_attribute(core: Core, req: ApiRequest) -> Reply:
    body = req.json_object()
    with core.lock:
        return 200, core.attributes.create(body).render()


def update_data_attribute(core: Core, req: ApiRequest) -> Reply:
    with core.lock:
        return 200, core.attributes.update(req.params["id"], req.json_object()).render()


# ---- admins --------------------------------------------------------------------------------------------

def list_admins(core: Core, req: ApiRequest) -> Reply:
    with core.lock:
        return 200, {"type": "admin.list", "admins": core.admins.list()}


def get_admin(core: Core, req: ApiRequest) -> Reply:
    with core.lock:
        return 200, core.admins.get(req.params["id"]).render()


# ---- Preview bulk contacts -------------------------------------------------------------------------

def _bulk_gate(core: Core, req: ApiRequest) -> None:
    check_bulk_access(req.version, core.settings.bulk_enabled)


def _bulk_items(req: ApiRequest, need_id: bool) -> Tuple[List[Dict[str, Any]], Optional[str]]:
    return bulk_items(req.json_object(), need_id, "contacts", "contact")


def _bulk_submit(core: Core, req: ApiRequest, kind: str) -> Reply:
    _bulk_gate(core, req)
    items, job_id = _bulk_items(req, need_id=kind != "create")
    with core.lock:
        job = core.bulk.submit(kind, items, job_id)
        return 202, job.render(req.base_url)


def bulk_create(core: Core, req: ApiRequest) -> Reply:
    return _bulk_submit(core, req, "create")


def bulk_update(core: Core, req: ApiRequest) -> Reply:
    return _bulk_submit(core, req, "update")


def bulk_delete(core: Core, req: ApiRequest) -> Reply:
    return _bulk_submit(core, req, "delete")


def bulk_show(core: Core, req: ApiRequest) -> Reply:
    _bulk_gate(core, req)
    with core.lock:
        return 200, core.bulk.get(req.params["id"]).render(req.base_url)


# ---- routing -----------------------------------------------------------------------------------------

class Route:
    __slots__ = ("method", "template", "endpoint", "regex", "handler")

    def __init__(self, method: str, template: str, handler: Handler) -> None:
        self.method = method
        self.template = template
        self.endpoint = "%s %s" % (method, template)
        pattern = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(template))
        self.regex = re.compile("^%s$" % pattern)
        self.handler = handler


# More specific paths first: /contacts/search must not be taken for /contacts/{id}.
ROUTES = [
    Route("POST", "/contacts/search", search_contacts),
    Route("POST", "/contacts/bulk/delete", bulk_delete),
    Route("POST", "/contacts/bulk", bulk_create),
    Route("PUT", "/contacts/bulk", bulk_update),
    Route("GET", "/contacts/bulk/{id}", bulk_show),
    Route("POST", "/contacts/merge", merge_contacts),
    Route("GET", "/contacts/find_by_external_id/{external_id}", find_by_external_id),
    Route("POST", "/contacts/{id}/archive", archive_contact),
    Route("POST", "/contacts/{id}/unarchive", unarchive_contact),
    Route("GET", "/contacts/{id}", get_contact),
    Route("PUT", "/contacts/{id}", update_contact),
    Route("DELETE", "/contacts/{id}", delete_contact),
    Route("GET", "/contacts", list_contacts),
    Route("POST", "/contacts", create_contact),
    Route("GET", "/data_attributes", list_data_attributes),
    Route("POST", "/data_attributes", create_data_attribute),
    Route("PUT", "/data_attributes/{id}", update_data_attribute),
    Route("GET", "/admins", list_admins),
    Route("GET", "/admins/{id}", get_admin),
] + [Route(method, template, handler) for method, template, handler in COMPANY_ROUTES + TAG_ROUTES + EVENT_ROUTES]
_EXACT = {(r.method, r.template): r for r in ROUTES if "{" not in r.template}


def match(method: str, path: str) -> Tuple[Optional[Route], Dict[str, str]]:
    """The route for a raw (still percent-encoded) path, and its parameters decoded.

    Matching the raw path first means an external_id holding an encoded "/" (%2F) stays one segment, while
    an unencoded "/" makes a path no route knows.
    """
    route = _EXACT.get((method, path))
    if route is not None:
        return route, {}
    for route in ROUTES:
        if route.method == method:
            m = route.regex.match(path)
            if m is not None:
                return route, {k: unquote(v) for k, v in m.groupdict().items()}
    return None, {}
