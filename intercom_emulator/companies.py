"""Companies: compact records, the write rules of POST/PUT /companies, contact attachments, listing and scrolls.

Nothing here takes the emulator's lock: callers (the company routes, the bulk worker, seeding) hold it.
"""
from __future__ import annotations

import itertools
import math
import time
import uuid
from typing import TYPE_CHECKING, Any, Callable, Dict, Iterable, List, Optional, Tuple

from .attributes import AttributeRegistry
from .errors import ApiError, bad_param
from .store import IdFactory
from .versions import at_least

if TYPE_CHECKING:  # pragma: no cover
    from .core import Core

MAX_MONTHLY_SPEND = 2 ** 31 - 1          # "an upper limit of 2**31-1 or 2147483647" (create_or_update_company_request)
CONTACT_COMPANY_LIMIT = 1000              # "Contact has reached the maximum of 1000 company associations"
LIST_CAP = 10_000                         # "a limit of 10,000 Companies that can be returned" (POST /companies/list)
DEFAULT_PER_PAGE = 15                     # "Defaults to 15" (GET /companies, POST /companies/list)
MAX_PER_PAGE = 60                         # guess: the 2.x spec names no maximum
SCROLL_PAGE_SIZE = 15                     # guess: the spec does not say how many companies a scroll page holds

_STRINGS = ("name", "plan", "website", "industry")
_INTEGERS = ("size", "remote_created_at")
_COMMON = ("name", "plan", "size", "website", "industry", "custom_attributes", "monthly_spend")
# What each kind of write may set (the request schemas); any other key is ignored, as Intercom ignores it.
WRITABLE = {
    "create": ("company_id",) + _COMMON + ("remote_created_at",),
    "update": _COMMON,
    "bulk_create": ("company_id",) + _COMMON + ("remote_created_at", "update_last_request_at"),
    "bulk_update": _COMMON + ("remote_created_at", "update_last_request_at"),
}


def company_not_found() -> ApiError:
    return ApiError(404, "company_not_found", "Company Not Found")


def company_exists() -> ApiError:
    # intercom-node #461 (code and message) and intercom-ruby #448/#569 (status 400, two concurrent creates).
    return ApiError(400, "unique_company_constraint", "Company already exists.")


class Company:
    """One company. Attached contacts are kept here (companies are few); a contact's side is in the store."""

    __slots__ = ("id", "seq", "company_id", "name", "plan", "size", "website", "industry", "monthly_spend",
                 "remote_created_at", "created_at", "updated_at", "last_request_at", "session_count", "custom",
                 "archived", "contacts", "created_wall")

    def __init__(self, id: str) -> None:
        self.id = id
        self.seq = 0
        self.company_id = ""
        self.name: Optional[str] = None
        self.plan: Optional[str] = None
        self.size: Optional[int] = None
        self.website: Optional[str] = None
        self.industry: Optional[str] = None
        self.monthly_spend = 0
        self.remote_created_at: Optional[int] = None
        self.created_at = 0
        self.updated_at = 0
        self.last_request_at: Optional[int] = None
        self.session_count = 0
        self.custom: Optional[Dict[str, Any]] = None
        self.archived = False
        # Attached contact ids in attachment order (a dict keeps order and answers membership at once).
        self.contacts: Dict[str, None] = {}
        # Wall-clock time an API write created the company (0 for seeded ones); tells overlapping creates apart.
        self.created_wall = 0.0


class Scroll:
    __slots__ = ("param", "ids", "pos", "last_used")

    def __init__(self, ids: List[str], now: float) -> None:
        self.param = str(uuid.uuid4())
        self.ids = ids
        self.pos = 0
        self.last_used = now


class CompanyStore:
    """Companies by Intercom id and by your company_id, and which companies each contact belongs to."""

    def __init__(self) -> None:
        self.new_id = IdFactory()
        self.by_id: Dict[str, Company] = {}              # archived ones too: their ids stay taken
        self.by_company_id: Dict[str, Company] = {}      # live companies only
        self.by_contact: Dict[str, Dict[str, None]] = {}  # contact id -> company ids, in attachment order
        self.plans: Dict[str, str] = {}                  # plan name -> plan id
        self._plan_ids = itertools.count(269315)
        self._seq = itertools.count(1)
        self.scroll: Optional[Scroll] = None

    # ---- reads ----------------------------------------------------------------------------------------
    def get(self, company_id: str) -> Optional[Company]:
        c = self.by_id.get(company_id)
        return None if c is None or c.archived else c

    def find(self, company_id: str) -> Company:
        c = self.get(company_id)
        if c is None:
            raise company_not_found()
        return c

    def by_name(self, name: str) -> Optional[Company]:
        return next((c for c in self.by_id.values() if not c.archived and c.name == name), None)

    def live(self) -> List[Company]:
        return [c for c in self.by_id.values() if not c.archived]

    def visible(self) -> List[Company]:
        """What lists and scrolls show: "the API does not include companies who have no associated users"."""
        return [c for c in self.by_id.values() if not c.archived and c.contacts]

    def company_ids_of(self, contact_id: str) -> Iterable[str]:
        return self.by_contact.get(contact_id, ())

    def live_count(self) -> int:
        return sum(1 for c in self.by_id.values() if not c.archived)

    # ---- changes --------------------------------------------------------------------------------------
    def insert(self, c: Company) -> Company:
        if c.id in self.by_id:
            raise ValueError("duplicate company id %s" % c.id)
        if not c.archived and c.company_id in self.by_company_id:
            raise ValueError("company_id %r already belongs to company %s"
                             % (c.company_id, self.by_company_id[c.company_id].id))
        c.seq = next(self._seq)
        self.by_id[c.id] = c
        if not c.archived:
            self.by_company_id[c.company_id] = c
        return c

    def plan_id(self, name: str) -> str:
        pid = self.plans.get(name)
        if pid is None:
            pid = self.plans[name] = str(next(self._plan_ids))
        return pid

    def attach(self, c: Company, contact_id: str, now: int) -> None:
        mine = self.by_contact.get(contact_id)
        if mine is not None and c.id in mine:
            return  # attaching twice changes nothing
        if mine is not None and len(mine) >= CONTACT_COMPANY_LIMIT:
            raise ApiError(400, "contact_company_limit_exceeded",
                           "Contact has reached the maximum of %d company associations" % CONTACT_COMPANY_LIMIT)
        self.by_contact.setdefault(contact_id, {})[c.id] = None
        c.contacts[contact_id] = None
        c.updated_at = now

    def detach(self, c: Company, contact_id: str, now: int) -> None:
        mine = self.by_contact.get(contact_id)
        if mine is None or c.id not in mine:
            return
        del mine[c.id]
        if not mine:
            del self.by_contact[contact_id]
        c.contacts.pop(contact_id, None)
        c.updated_at = now

    def archive(self, c: Company, now: int) -> None:
        """DELETE /companies/{id}: "archives the company record and detaches any contacts attached to it"."""
        for contact_id in list(c.contacts):
            self.detach(c, contact_id, now)
        c.archived = True
        if self.by_company_id.get(c.company_id) is c:
            del self.by_company_id[c.company_id]

    def forget_contact(self, contact_id: str) -> None:
        """A contact was deleted for good: it leaves every company it belonged to."""
        for company_id in self.by_contact.pop(contact_id, {}):
            company = self.by_id.get(company_id)
            if company is not None:
                company.contacts.pop(contact_id, None)

    # ---- scroll (one per app) ---------------------------------------------------------------------------
    def open_scroll(self, now: float, expiry: float) -> Scroll:
        if self.scroll is not None and now - self.scroll.last_used <= expiry:
            # intercom-ruby #292 (400, message) and #474 (code).
            raise ApiError(400, "scroll_exists", "scroll already exists for this app")
        self.scroll = Scroll([c.id for c in self.visible()], now)
        return self.scroll

    def continue_scroll(self, param: str, now: float, expiry: float) -> Scroll:
        s = self.scroll
        if s is None or s.param != param or now - s.last_used > expiry:
            if s is not None and now - s.last_used > expiry:
                self.scroll = None
            # Code "not_found" as Hull's Intercom connector expects for an expired scroll; the message is a guess.
            raise ApiError(404, "not_found", "scroll parameter not found or expired")
        s.last_used = now
        return s

    def scroll_page(self, s: Scroll) -> List[Company]:
        """The next page; an empty page ends the scroll ("the scroll parameter will expire")."""
        page: List[Company] = []
        while s.pos < len(s.ids) and len(page) < SCROLL_PAGE_SIZE:
            c = self.get(s.ids[s.pos])
            s.pos += 1
            if c is not None:
                page.append(c)
        if not page:
            self.scroll = None
        return page


# ---- checking writes ----------------------------------------------------------------------------------

def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _monthly_spend(value: Any) -> int:
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise bad_param("monthly_spend must be a number")
    spend = int(value)  # "this will truncate floats ... 155.98 will be truncated to 155"
    if spend > MAX_MONTHLY_SPEND:
        raise bad_param("monthly_spend must be at most %d" % MAX_MONTHLY_SPEND)
    return spend


def check_company_write(body: Any, mode: str, version: str, registry: AttributeRegistry,
                        long_text: str = "reject") -> Dict[str, Any]:
    """Validated changes from a company payload (keys are company field names). Raises before changing anything.

    ``long_text`` is the ``long_text`` setting: custom attribute strings over 255 characters follow the contacts'
    rule.
    """
    if not isinstance(body, dict):
        raise bad_param("Request body must be a JSON object")
    allowed = WRITABLE[mode]
    if mode == "create" and at_least(version, "2.16"):
        allowed = allowed + ("update_last_request_at",)  # create_or_update_company_request, 2.16 and later
    changes: Dict[str, Any] = {}
    for field in allowed:
        if field not in body:
            continue
        value = body[field]
        if field == "company_id":
            if not isinstance(value, str) or not value:
                raise bad_param("company_id must be a non-empty string")
        elif field in _STRINGS:
            if value is not None and not isinstance(value, str):
                raise bad_param("%s must be a string" % field)
            value = value or None
        elif field in _INTEGERS:
            if value is not None and not _is_int(value):
                raise bad_param("%s must be an integer" % field)
        elif field == "monthly_spend":
            value = _monthly_spend(value)
        elif field == "update_last_request_at":
            if value is not None and not isinstance(value, bool):
                raise bad_param("update_last_request_at must be a boolean")
        elif field == "custom_attributes":
            value = None if value is None else registry.check_values(value, "company", long_text)
        changes[field] = value
    return changes


def apply_company_changes(store: CompanyStore, c: Company, changes: Dict[str, Any], now: int) -> None:
    for field, value in changes.items():
        if field == "company_id":
            continue  # "it is not possible to update company_id": only a create sets it
        if field == "custom_attributes":
            if value:
                merged = dict(c.custom) if c.custom else {}
                for name, v in value.items():
                    if v is None:
                        merged.pop(name, None)
                    else:
                        merged[name] = v
                c.custom = merged or None
        elif field == "update_last_request_at":
            if value:
                c.last_request_at = now
        elif field == "plan":
            c.plan = value
            if value is not None:
                store.plan_id(value)
        else:
            setattr(c, field, value)
    c.updated_at = now


def new_company(store: CompanyStore, company_id: str, changes: Dict[str, Any], now: int) -> Company:
    c = Company(store.new_id())
    c.company_id = company_id
    c.created_at = c.updated_at = now
    c.created_wall = time.time()
    apply_company_changes(store, c, changes, now)
    return store.insert(c)


# ---- seeding ----------------------------------------------------------------------------------------------

_SEED_DIRECT = ("name", "plan", "size", "website", "industry", "remote_created_at", "created_at", "updated_at",
                "last_request_at", "session_count")


def company_from_seed(store: CompanyStore, registry: AttributeRegistry, fields: Dict[str, Any], now: int,
                      long_text: str = "reject") -> Company:
    """A company built straight from seed fields (no API rules beyond what keeps the store consistent)."""
    if not isinstance(fields.get("company_id"), str) or not fields["company_id"]:
        raise ValueError("a seeded company needs a company_id (a non-empty string)")
    c = Company(str(fields["id"]) if fields.get("id") else store.new_id())
    for key, value in fields.items():
        if key in ("id", "type", "app_id", "contact_ids", "external_ids", "tags", "user_count") or value is None:
            continue
        if key == "company_id":
            c.company_id = value
        elif key in _SEED_DIRECT:
            setattr(c, key, value)
        elif key == "monthly_spend":
            c.monthly_spend = _seed_call(_monthly_spend, value)
        elif key == "archived":
            c.archived = bool(value)
        elif key == "custom_attributes":
            value = _seed_call(registry.check_values, value, "company", long_text)
            c.custom = {k: v for k, v in value.items() if v is not None} or None
        else:
            raise ValueError("unknown company field %r" % key)
    if c.plan is not None:
        store.plan_id(c.plan)
    c.created_at = c.created_at or now
    c.updated_at = c.updated_at or c.created_at
    return store.insert(c)


def _seed_call(fn: Callable[..., Any], *args: Any) -> Any:
    try:
        return fn(*args)
    except ApiError as exc:
        raise ValueError(exc.message) from None


# ---- rendering ---------------------------------------------------------------------------------------------

TagLookup = Callable[[str], Iterable[Dict[str, Any]]]


def render_company(c: Company, store: CompanyStore, app_id: str, tags_of: TagLookup) -> Dict[str, Any]:
    """Intercom's ``company`` object, in the order of its recorded examples.

    Optional fields the schema types as non-nullable (size, website, industry, remote_created_at,
    last_request_at, name) are left out when unset, as the examples leave them out.
    """
    out: Dict[str, Any] = {"type": "company", "company_id": c.company_id, "id": c.id, "app_id": app_id}
    if c.name is not None:
        out["name"] = c.name
    for field in ("remote_created_at", "created_at", "updated_at", "last_request_at"):
        value = getattr(c, field)
        if value is not None:
            out[field] = value
    out["monthly_spend"] = c.monthly_spend
    out["session_count"] = c.session_count
    out["user_count"] = len(c.contacts)
    for field in ("size", "website", "industry"):
        value = getattr(c, field)
        if value is not None:
            out[field] = value
    out["tags"] = {"type": "tag.list", "tags": list(tags_of(c.id))}
    out["segments"] = {"type": "segment.list", "segments": []}
    out["plan"] = {"type": "plan", "id": store.plan_id(c.plan), "name": c.plan} if c.plan is not None else {}
    out["custom_attributes"] = dict(c.custom) if c.custom else {}
    return out


def deleted_company(c: Company) -> Dict[str, Any]:
    return {"id": c.id, "object": "company", "deleted": True}


# ---- paging ---------------------------------------------------------------------------------------------------

def page_params(query: Dict[str, str], default_per_page: int, max_per_page: int) -> Tuple[int, int]:
    """page and per_page from a query string; per_page above the maximum is clamped (a guess)."""
    page = _int_query(query, "page", 1)
    per_page = _int_query(query, "per_page", default_per_page)
    return max(1, page), min(max(1, per_page), max_per_page)


def _int_query(query: Dict[str, str], name: str, default: int) -> int:
    raw = query.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise bad_param("%s must be an integer" % name) from None


def capped_page(items: List[Any], page: int, per_page: int) -> Tuple[List[Any], int, bool]:
    """One page of a company listing that shows at most the first LIST_CAP companies.

    Returns the page's items, the number of pages and whether a further page has items.
    """
    reachable = min(len(items), LIST_CAP)
    start = (page - 1) * per_page
    end = min(start + per_page, reachable)
    picked = items[start:end] if start < reachable else []
    return picked, -(-reachable // per_page), end < reachable


# ---- the operations of the company endpoints (callers hold core.lock) --------------------------------------

def render(core: "Core", c: Company) -> Dict[str, Any]:
    return render_company(c, core.companies, core.workspace_id, core.tags.basics_of_company)


def upsert_company(core: "Core", body: Any, version: str, arrived: float) -> Company:
    """POST /companies: "looked up via company_id ... if not found ... created, if found ... updated"."""
    changes = check_company_write(body, "create", version, core.attributes, core.settings.long_text)
    company_id = changes.pop("company_id", None)
    if company_id is None:
        # Guess: the 2.x schema marks nothing required, but the upsert cannot work without its key.
        raise ApiError(400, "parameter_not_found", "company_id not specified")
    store = core.companies
    now = int(time.time())
    existing = store.by_company_id.get(company_id)
    if existing is None:
        return new_company(store, company_id, changes, now)
    if core.settings.company_create_race and existing.created_wall > arrived:
        # The company was created by a write that overlapped this request: this request looked it up before it
        # existed and now loses the insert, as two concurrent creates do at Intercom (intercom-ruby #569).
        raise company_exists()
    apply_company_changes(store, existing, changes, now)
    return existing


def update_company(core: "Core", intercom_id: str, body: Any, version: str) -> Company:
    """PUT /companies/{id}: by Intercom id; company_id and remote_created_at are not part of the body."""
    c = core.companies.find(intercom_id)
    if not isinstance(body, dict):
        raise bad_param("Request body must be a JSON object")
    if "company_id" in body and core.settings.company_put_company_id == "reject":
        # intercom-node #356 reports a 404 when company_id is used to update (see the README for the caveat).
        raise company_not_found()
    changes = check_company_write(body, "update", version, core.attributes, core.settings.long_text)
    apply_company_changes(core.companies, c, changes, int(time.time()))
    return c


def lookup_company(core: "Core", company_id: Optional[str], name: Optional[str]) -> Company:
    """GET /companies?company_id= or ?name=: one company or 404 company_not_found."""
    store = core.companies
    c = store.by_company_id.get(company_id) if company_id is not None else store.by_name(name or "")
    if c is None or (not c.contacts and not core.settings.company_lookup_sees_userless):
        raise company_not_found()
    return c


def delete_company(core: "Core", intercom_id: str) -> Dict[str, Any]:
    c = core.companies.find(intercom_id)
    core.companies.archive(c, int(time.time()))
    return deleted_company(c)


def attach_contact(core: "Core", contact_id: str, body: Any) -> Company:
    """POST /contacts/{contact_id}/companies {"id": <Intercom company id>}."""
    core.find(contact_id)  # an unknown contact is a 404 "User Not Found" before anything else
    company_id = body.get("id") if isinstance(body, dict) else None
    if company_id is None or company_id == "":
        raise ApiError(400, "parameter_not_found", "company not specified")
    c = core.companies.get(str(company_id))
    if c is None:
        raise company_not_found()
    core.companies.attach(c, contact_id, int(time.time()))
    return c


def detach_contact(core: "Core", contact_id: str, company_id: str) -> Company:
    """DELETE /contacts/{contact_id}/companies/{id}; detaching a company the contact lacks is harmless (a guess)."""
    core.find(contact_id)
    c = core.companies.find(company_id)
    core.companies.detach(c, contact_id, int(time.time()))
    return c


def apply_company_bulk_item(core: "Core", kind: str, item: Dict[str, Any]) -> Dict[str, Any]:
    """One item of a Preview bulk companies task (run by the bulk worker, which holds the lock)."""
    outcome: Dict[str, Any] = {"outcome": "rejected", "reason": None, "id": None, "company_id": None}
    store = core.companies
    try:
        if kind == "delete":
            c = store.find(str(item.get("id")))
            store.archive(c, int(time.time()))
            outcome.update(outcome="deleted", id=c.id, company_id=c.company_id)
            return outcome
        mode = "bulk_create" if kind == "create" else "bulk_update"
        allowed = WRITABLE[mode]
        outcome["ignored_fields"] = [k for k in item if k not in allowed and not (kind == "update" and k == "id")]
        if kind == "create":
            changes = check_company_write(item, mode, "Preview", core.attributes, core.settings.long_text)
            company_id = changes.pop("company_id", None)
            if company_id is None:
                raise ApiError(400, "parameter_not_found", "company_id not specified")
            existing = store.by_company_id.get(company_id)
            now = int(time.time())
            if existing is None:
                c = new_company(store, company_id, changes, now)
                outcome["outcome"] = "created"
            else:
                c = existing
                apply_company_changes(store, c, changes, now)
                outcome["outcome"] = "updated"
        else:
            # "An unknown id fails that item and never creates a company."
            c = store.find(str(item.get("id")))
            changes = check_company_write(item, mode, "Preview", core.attributes, core.settings.long_text)
            apply_company_changes(store, c, changes, int(time.time()))
            outcome["outcome"] = "updated"
        outcome.update(id=c.id, company_id=c.company_id)
    except ApiError as exc:
        outcome["reason"] = "%s: %s" % (exc.code, exc.message)
    return outcome
