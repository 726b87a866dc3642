"""The emulated workspace: all state behind one lock, and the contact operations the API performs on it."""
from __future__ import annotations

import functools
import itertools
import threading
import time
from typing import Any, Dict, Iterable, Optional

from .attributes import AttributeRegistry
from .bulk import BulkManager
from .companies import CompanyStore, apply_company_bulk_item
from .errors import ApiError, not_found
from .events import EventStore
from .faults import FaultPlan
from .ratelimit import RateLimiter
from .render import contact_reference, render_contact
from .reqlog import RequestLog
from .settings import Settings
from .store import Contact, ContactStore
from .tags import TagStore
from .versions import is_preview, owner_id_is_string
from .writes import apply_changes, check_contact_write, contact_from_seed, ignored_fields

WORKSPACE_ID = "emu4kx2q"


def conflict_error(existing: Contact) -> ApiError:
    prefix = "An archived contact" if existing.archived else "A contact"
    return ApiError(409, "conflict", "%s matching those details already exists with id=%s" % (prefix, existing.id))


class Core:
    def __init__(self, settings: Settings, log_maxlen: int = 100_000) -> None:
        self.settings = settings
        # Re-entrant so that helpers may take it again; the bulk worker waits on a condition built on it.
        self.lock = threading.RLock()
        self.store = ContactStore()
        self.attributes = AttributeRegistry()
        self.limiter = RateLimiter(settings.rate_limit_per_minute, clock=self.clock)
        self.faults = FaultPlan()
        self.log = RequestLog(log_maxlen)
        self.bulk = BulkManager(self.lock, self.apply_bulk_item, lambda: self.settings.bulk_task_delay)
        # Companies, tags and data events: see companies.py, tags.py and events.py (company bulk items run there).
        self.companies = CompanyStore()
        self.tags = TagStore()
        self.events = EventStore()
        self.bulk.register("companies", functools.partial(apply_company_bulk_item, self))
        self.workspace_id = WORKSPACE_ID
        # Set when the server stops, so sleeping handler threads (latency, delays) wake up at once.
        self.stopping = threading.Event()

    def clock(self) -> float:
        """Intercom's time: this machine's, moved by the clock_skew setting."""
        return time.time() + self.settings.clock_skew

    def reset(self) -> None:
        with self.lock:
            self.store = ContactStore()
            self.attributes.reset()
            self.bulk.reset()
            self.companies = CompanyStore()
            self.tags = TagStore()
            self.events = EventStore()
        self.log.reset()
        self.faults.clear()
        self.limiter.reset()

    # ---- rendering ----------------------------------------------------------------------------------
    def render(self, c: Contact, version: str, push: bool = False) -> Dict[str, Any]:
        return render_contact(c, self.workspace_id, owner_as_string=owner_id_is_string(version),
                              preview=is_preview(version), push=push,
                              companies=self.companies.company_ids_of(c.id), tags=self.tags.tag_ids_of_contact(c.id))

    def _visible_from(self) -> float:
        return time.monotonic() + self.settings.search_lag

    # ---- single-contact operations (callers hold the lock) ------------------------------------------
    def find(self, contact_id: str) -> Contact:
        c = self.store.get(contact_id)
        if c is None:
            raise not_found()
        return c

    def create_contact(self, body: Any, version: str) -> Contact:
        changes = check_contact_write(body, "create", version, self.attributes)
        role = changes.pop("role", None) or "user"
        existing = self.store.create_conflict(changes.get("external_id"), changes.get("email"), role)
        if existing is not None:
            raise conflict_error(existing)
        return self._insert(role, changes)

    def _insert(self, role: str, changes: Dict[str, Any]) -> Contact:
        now = int(time.time())
        c = Contact(self.store.new_id())
        c.role = role
        c.created_at = c.updated_at = now
        c.visible_at = self._visible_from()
        self.store.insert(c)
        apply_changes(self.store, c, changes, now)
        return c

    def update_contact(self, contact_id: str, body: Any, version: str) -> Contact:
        c = self.find(contact_id)
        changes = check_contact_write(body, "update", version, self.attributes)
        self._check_external_id_free(c, changes)
        apply_changes(self.store, c, changes, int(time.time()))
        return c

    def _check_external_id_free(self, c: Contact, changes: Dict[str, Any]) -> None:
        ext = changes.get("external_id")
        if ext is not None:
            owner = self.store.by_external_id.get(ext)
            if owner is not None and owner is not c:
                raise conflict_error(owner)

    def find_by_external_id(self, external_id: str) -> Contact:
        c = self.store.by_external_id.get(external_id)
        # This endpoint only knows users, and archived contacts are out of sight.
        if c is None or c.archived or c.role != "user":
            raise not_found()
        return c

    def set_archived(self, contact_id: str, archived: bool) -> Dict[str, Any]:
        c = self.store.get(contact_id, include_archived=True)
        if c is None:
            raise not_found()
        self.store.set_archived(c, archived)
        return contact_reference(c, archived=archived)

    def delete_contact(self, contact_id: str) -> Dict[str, Any]:
        c = self.find(contact_id)
        self.store.remove(c)
        self.forget_links(c.id)
        return contact_reference(c, deleted=True)

    def forget_links(self, contact_id: str) -> None:
        """A permanently deleted contact leaves its companies and loses its tags (its events stay recorded)."""
        self.companies.forget_contact(contact_id)
        self.tags.forget_contact(contact_id)

    # ---- bulk items (run by the bulk worker, which holds the lock) ------------------------------------
    def apply_bulk_item(self, kind: str, item: Dict[str, Any]) -> Dict[str, Any]:
        outcome: Dict[str, Any] = {"outcome": "rejected", "reason": None, "contact_id": None}
        try:
            if kind == "delete":
                c = self.store.get(str(item.get("id")), include_archived=True)
                if c is None:
                    raise not_found()
                self.store.remove(c)
                self.forget_links(c.id)
                outcome.update(outcome="deleted", contact_id=c.id)
            elif kind == "create":
                outcome["ignored_fields"] = ignored_fields(item, "bulk_create")
                changes = check_contact_write(item, "bulk_create", "Preview", self.attributes)
                role = changes.pop("role", None) or "user"
                existing = self.store.strict_conflict(changes.get("external_id"), changes.get("email"), role)
                if existing is not None:
                    raise conflict_error(existing)
                c = self._insert(role, changes)
                outcome.update(outcome="created", contact_id=c.id)
            else:
                outcome["ignored_fields"] = [f for f in ignored_fields(item, "bulk_update") if f != "id"]
                c = self.find(str(item.get("id")))
                changes = check_contact_write(item, "bulk_update", "Preview", self.attributes)
                self._check_external_id_free(c, changes)
                apply_changes(self.store, c, changes, int(time.time()))
                outcome.update(outcome="updated", contact_id=c.id)
        except ApiError as exc:
            outcome["reason"] = "%s: %s" % (exc.code, exc.message)
        return outcome

    # ---- seeding (Python API and admin HTTP) ------------------------------------------------------------
    def seed_contacts(self, rows: Iterable[Dict[str, Any]], visible: bool = True) -> int:
        now = int(time.time())
        count = 0
        rows = iter(rows)
        while True:
            # Batches keep the lock free now and then, so a big seed does not stall requests for its whole run.
            batch = list(itertools.islice(rows, 5000))
            if not batch:
                return count
            with self.lock:
                store, registry = self.store, self.attributes
                visible_at = 0.0 if visible else self._visible_from()
                for row in batch:
                    c = contact_from_seed(store, registry, row, now)
                    c.visible_at = visible_at
                    store.insert(c)
                    count += 1

    def contact_dict(self, c: Contact, version: Optional[str] = None) -> Dict[str, Any]:
        data = self.render(c, version or self.settings.default_version)
        data["archived"] = c.archived
        return data
