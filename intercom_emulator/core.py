"""The emulated workspace: all state behind one lock, and the contact operations the API performs on it."""
from __future__ import annotations

import functools
import itertools
import threading
import time
from typing import Any, Dict, Iterable, Optional

from .admins import AdminRegistry
from .attributes import AttributeRegistry
from .bulk import BulkManager
from .companies import CompanyStore, apply_company_bulk_item
from .errors import ApiError, bad_param, not_found
from .events import EventStore
from .faults import FaultPlan
from .ratelimit import RateLimiter
from .render import contact_reference, render_contact
from .reqlog import RequestLog
from .settings import Settings
from .store import Contact, ContactStore
from .tags import TagStore
from .versions import at_least, is_preview, merged_is_gone, owner_id_is_string
from .writes import (WriteRules, apply_changes, check_contact_write, check_role_change, contact_from_seed,
                     ignored_fields, new_lead_external_id)

WORKSPACE_ID = "emu4kx2q"


def conflict_error(existing: Contact) -> ApiError:
    # Tombstones of deleted users are archived too: Intercom names both "an archived contact" (recorded).
    prefix = "An archived contact" if existing.archived else "A contact"
    return ApiError(409, "conflict", "%s matching those details already exists with id=%s" % (prefix, existing.id))


def not_restorable() -> ApiError:
    # Recorded (Grouparoo export-record-delete): unarchiving a deleted user. An earlier recording got a 500.
    return ApiError(400, "bad_request", "User has been marked for permanent deletion and is not restorable.")


def merged_error(canonical_id: str) -> ApiError:
    """2.16+: a merged contact is Gone, with a Link to the contact it now lives in (Intercom's 2.16 spec)."""
    return ApiError(410, "contact_merged",
                    "This contact has been merged. See the 'Link' header for the canonical contact.",
                    headers={"Link": '</contacts/%s>; rel="canonical"' % canonical_id})


class Core:
    def __init__(self, settings: Settings, log_maxlen: int = 100_000) -> None:
        self.settings = settings
        # Re-entrant so that helpers may take it again; the bulk worker waits on a condition built on it.
        self.lock = threading.RLock()
        self.store = ContactStore()
        self.attributes = AttributeRegistry()
        self.admins = AdminRegistry()
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
            self.admins.reset()
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

    def write_rules(self) -> WriteRules:
        settings = self.settings
        return WriteRules(self.attributes, self.admins, settings.unsubscribed_null, settings.long_text)

    # ---- single-contact operations (callers hold the lock) ------------------------------------------
    def find(self, contact_id: str, version: Optional[str] = None) -> Contact:
        """A live contact. With a version, a merged one answers as that version does (410 from 2.16)."""
        c = self.store.get(contact_id)
        if c is None:
            if version is not None and contact_id in self.store.merged and merged_is_gone(version):
                raise merged_error(self.store.canonical_id(contact_id))
            raise not_found()
        return c

    def create_contact(self, body: Any, version: str) -> Contact:
        changes = check_contact_write(body, "create", version, self.write_rules())
        role = changes.pop("role", None) or "user"
        if role == "lead":
            changes.pop("external_id", None)  # recorded: a lead's external_id is always Intercom's own UUID
        existing = self.store.create_conflict(changes.get("external_id"), changes.get("email"), role,
                                              self.settings.email_only_user_conflicts)
        if existing is not None:
            raise conflict_error(existing)
        return self._insert(role, changes)

    def _insert(self, role: str, changes: Dict[str, Any]) -> Contact:
        now = int(time.time())
        c = Contact(self.store.new_id())
        c.role = role
        c.created_at = c.updated_at = now
        c.visible_at = self._visible_from()
        if role == "lead":
            changes["external_id"] = new_lead_external_id()
        self.store.insert(c)
        apply_changes(self.store, c, changes, now)
        return c

    def update_contact(self, contact_id: str, body: Any, version: str) -> Contact:
        c = self.find(contact_id, version)
        changes = check_contact_write(body, "update", version, self.write_rules())
        check_role_change(c, changes)
        self._take_external_id(c, changes)
        apply_changes(self.store, c, changes, int(time.time()))
        return c

    def _take_external_id(self, c: Contact, changes: Dict[str, Any]) -> None:
        """A live owner of the external_id makes a 409; an archived (or deleted) one loses it (recorded)."""
        ext = changes.get("external_id")
        if ext is None:
            return
        owner = self.store.by_external_id.get(ext)
        if owner is None or owner is c:
            return
        if not owner.archived:
            raise conflict_error(owner)
        # Nothing can fail after the checks above, so the archived owner may lose its external_id now.
        self.store.set_external_id(owner, None)

    def find_by_external_id(self, external_id: str, version: str) -> Contact:
        store = self.store
        c = store.by_external_id.get(external_id)
        # This endpoint only knows users, and archived (and deleted) contacts are out of sight.
        if c is None or c.archived or c.role != "user":
            merged_id = store.merged_external_ids.get(external_id)
            if c is None and merged_id is not None and merged_is_gone(version):
                raise merged_error(store.canonical_id(merged_id))
            raise not_found()
        return c

    def set_archived(self, contact_id: str, archived: bool) -> Dict[str, Any]:
        c = self.store.get(contact_id, include_archived=True)
        if c is None:
            if not archived and contact_id in self.store.deleted:
                raise not_restorable()
            raise not_found()
        self.store.set_archived(c, archived)
        return contact_reference(c, archived=archived)

    def delete_contact(self, contact_id: str) -> Dict[str, Any]:
        c = self.find(contact_id)
        self._delete(c)
        return contact_reference(c, deleted=True)

    def _delete(self, c: Contact) -> None:
        """Delete for good. Recorded: a deleted user's email and external_id stay taken (its tombstone); a
        deleted lead's email is free again. Either way the contact leaves its companies and loses its tags."""
        if c.role == "user":
            self.store.bury(c)
        else:
            self.store.remove(c)
        self.forget_links(c.id)

    def forget_links(self, contact_id: str) -> None:
        """A contact deleted for good (or merged away) leaves its companies and loses its tags; its events stay
        recorded."""
        self.companies.forget_contact(contact_id)
        self.tags.forget_contact(contact_id)

    def merge_contacts(self, body: Any, version: str) -> Contact:
        """POST /contacts/merge: a lead into a user. Returns the user."""
        if not isinstance(body, dict):
            raise bad_param("Request body must be a JSON object")
        ids = [body.get("from"), body.get("into")]
        if not all(isinstance(i, str) and i for i in ids):
            raise ApiError(400, "parameter_not_found", "from and into must both be contact ids")
        source, target = self.find(ids[0], version), self.find(ids[1], version)
        if source is target:
            raise ApiError(400, "invalid_merge", "A contact cannot be merged into itself")
        if source.role != "lead" or target.role != "user":
            raise ApiError(400, "invalid_merge", "Only a lead can be merged, and only into a user")
        if at_least(version, "2.16") and body.get("skip_duplicate_validation") is not True \
                and not _duplicates(source, target):
            raise ApiError(400, "invalid_merge", "Contacts can only be merged when they are duplicates "
                                                 "(matching email or phone). Pass skip_duplicate_validation=true "
                                                 "to override this check.")
        self.merge(source, target)
        return target

    def merge(self, source: Contact, target: Contact) -> None:
        """Fold ``source`` into ``target``: the target keeps its values and gains the ones it lacks, and the
        source's tags and companies (a guess); the source's events stay recorded under its id."""
        for field in ("email", "name", "phone", "avatar", "owner_id", "signed_up_at", "last_seen_at"):
            if getattr(target, field) is None and getattr(source, field) is not None:
                if field == "email":
                    self.store.set_email(target, source.email)
                else:
                    setattr(target, field, getattr(source, field))
        if source.custom:
            merged = dict(target.custom or {})
            for name, value in source.custom.items():
                if merged.get(name) is None and (value is not None or name not in merged):
                    merged[name] = value
            target.custom = merged
        now = int(time.time())
        target.updated_at = now
        self._move_links(source.id, target.id, now)
        self.store.merge_away(source, target.id)

    def _move_links(self, source_id: str, target_id: str, now: int) -> None:
        """The source's tags (with their applied_at) and companies join the target's, then the source loses them.

        A company the target cannot join (it already has the maximum) is left out.
        """
        tags, companies = self.tags, self.companies
        for tag_id, applied_at in list(tags.by_contact.get(source_id, {}).items()):
            tags.tag_contact(tags.by_id[tag_id], target_id, applied_at)
        for company_id in list(companies.company_ids_of(source_id)):
            try:
                companies.attach(companies.by_id[company_id], target_id, now)
            except ApiError:
                pass  # contact_company_limit_exceeded
        self.forget_links(source_id)

    # ---- bulk items (run by the bulk worker, which holds the lock) ------------------------------------
    def apply_bulk_item(self, kind: str, item: Dict[str, Any]) -> Dict[str, Any]:
        outcome: Dict[str, Any] = {"outcome": "rejected", "reason": None, "contact_id": None}
        try:
            if kind == "delete":
                c = self.store.get(str(item.get("id")), include_archived=True)
                if c is None:
                    raise not_found()
                self._delete(c)
                outcome.update(outcome="deleted", contact_id=c.id)
            elif kind == "create":
                outcome["ignored_fields"] = ignored_fields(item, "bulk_create")
                changes = check_contact_write(item, "bulk_create", "Preview", self.write_rules())
                role = changes.pop("role", None) or "user"
                if role == "lead":
                    changes.pop("external_id", None)
                existing = self.store.strict_conflict(changes.get("external_id"), changes.get("email"), role)
                if existing is not None:
                    raise conflict_error(existing)
                c = self._insert(role, changes)
                outcome.update(outcome="created", contact_id=c.id)
            else:
                outcome["ignored_fields"] = [f for f in ignored_fields(item, "bulk_update") if f != "id"]
                c = self.find(str(item.get("id")))
                changes = check_contact_write(item, "bulk_update", "Preview", self.write_rules())
                check_role_change(c, changes)
                self._take_external_id(c, changes)
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
                store, rules = self.store, self.write_rules()
                visible_at = 0.0 if visible else self._visible_from()
                for row in batch:
                    deleted = False
                    if "deleted" in row:  # checked first: a million-row seed should not copy every row
                        deleted = bool(row["deleted"])
                        row = {k: v for k, v in row.items() if k != "deleted"}
                    c = contact_from_seed(store, rules, row, now)
                    if deleted and c.role != "user":
                        raise ValueError("only a user leaves a tombstone when deleted; a deleted lead is gone")
                    c.visible_at = visible_at
                    store.insert(c)
                    if deleted:
                        store.bury(c)
                    count += 1

    def seed_merged(self, from_id: str, into_id: str) -> None:
        """Mark a contact merged into another, whatever their roles (the API merges only leads into users)."""
        source = self.store.get(from_id, include_archived=True)
        target = self.store.get(into_id, include_archived=True)
        if source is None or target is None:
            raise ValueError("both contacts must exist (and be neither deleted nor merged)")
        if source is target:
            raise ValueError("a contact cannot be merged into itself")
        self.merge(source, target)

    def contact_dict(self, c: Contact, version: Optional[str] = None) -> Dict[str, Any]:
        data = self.render(c, version or self.settings.default_version)
        data["archived"] = c.archived
        return data


def _duplicates(a: Contact, b: Contact) -> bool:
    """Intercom's 2.16 merge check: the two contacts share an email or a phone."""
    if a.email and b.email and a.email.lower() == b.email.lower():
        return True
    return bool(a.phone and b.phone and a.phone == b.phone)
