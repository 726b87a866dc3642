"""The public face of the emulator: start/stop a server and inspect or steer the emulated workspace."""
from __future__ import annotations

import functools
import threading
import time
from typing import Any, Dict, Iterable, List, Optional

from .admin import handle_admin
from .companies import CONTACT_COMPANY_LIMIT, Company, company_exists, company_from_seed, render
from .core import Core
from .events import inspect_event
from .faults import DELAY, DROP, FAIL, MALFORMED, Fault
from .reqlog import RequestRecord
from .server import EmulatorHTTPServer
from .settings import Settings, apply_settings
from .tags import Tag, render_tag


class Emulator:
    """A local Intercom REST API. ``with Emulator(token="t") as emu: ...`` or ``emu = Emulator().start()``."""

    def __init__(self, token: str = "emulator-token", *, host: str = "127.0.0.1", port: int = 0,
                 search_lag: float = 0.0, rate_limit_per_minute: Optional[int] = 10_000, latency: float = 0.0,
                 jitter: float = 0.0, bulk_task_delay: float = 0.2, bulk_enabled: bool = True,
                 default_version: str = "2.14", verbose: bool = False, clock_skew: float = 0.0,
                 recorded_rate_limit_headers: bool = True, email_only_user_conflicts: bool = False,
                 unsubscribed_null: str = "false", long_text: str = "reject",
                 search_max_in_values: Optional[int] = None, search_rejects_non_ids_in_id_filter: bool = False,
                 email_search_case_sensitive: bool = False,
                 company_lookup_sees_userless: bool = True, company_create_race: bool = True,
                 company_put_company_id: str = "reject", company_scroll_expiry: float = 60.0,
                 tag_users_max: Optional[int] = None, event_long_text: str = "store",
                 log_maxlen: int = 100_000) -> None:
        settings = Settings()
        apply_settings(settings, dict(token=token, search_lag=search_lag,
                                      rate_limit_per_minute=rate_limit_per_minute, latency=latency, jitter=jitter,
                                      bulk_task_delay=bulk_task_delay, bulk_enabled=bulk_enabled,
                                      default_version=default_version, verbose=verbose, clock_skew=clock_skew,
                                      recorded_rate_limit_headers=recorded_rate_limit_headers,
                                      email_only_user_conflicts=email_only_user_conflicts,
                                      unsubscribed_null=unsubscribed_null, long_text=long_text,
                                      search_max_in_values=search_max_in_values,
                                      search_rejects_non_ids_in_id_filter=search_rejects_non_ids_in_id_filter,
                                      email_search_case_sensitive=email_search_case_sensitive,
                                      company_lookup_sees_userless=company_lookup_sees_userless,
                                      company_create_race=company_create_race,
                                      company_put_company_id=company_put_company_id,
                                      company_scroll_expiry=company_scroll_expiry, tag_users_max=tag_users_max,
                                      event_long_text=event_long_text))
        self._core = Core(settings, log_maxlen)
        self._host = host
        self._requested_port = port
        self._port: Optional[int] = None
        self._server: Optional[EmulatorHTTPServer] = None
        self._thread: Optional[threading.Thread] = None
        self._lifecycle = threading.Lock()

    # ---- lifecycle --------------------------------------------------------------------------------------
    def start(self) -> Emulator:
        with self._lifecycle:
            if self._server is not None:
                return self
            self._core.stopping.clear()
            server = EmulatorHTTPServer((self._host, self._requested_port), self._core,
                                        functools.partial(handle_admin, self))
            self._port = server.server_port
            self._thread = threading.Thread(target=server.serve, name="intercom-emulator-%d" % self._port,
                                            daemon=True)
            self._server = server
            self._thread.start()
            self._core.bulk.start()
            return self

    def stop(self) -> None:
        with self._lifecycle:
            server, self._server = self._server, None
            if server is None:
                return
            self._core.stopping.set()
            server.stop_serving()
            if self._thread is not None:
                self._thread.join(timeout=5)
                self._thread = None
            server.close_connections()
            server.server_close()
            self._core.bulk.stop()

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._server is not None

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("the emulator has not been started")
        return self._port

    @property
    def url(self) -> str:
        return "http://%s:%d" % (self._host, self.port)

    @property
    def token(self) -> str:
        return self._core.settings.token

    # ---- settings -----------------------------------------------------------------------------------------
    def configure(self, **settings: Any) -> None:
        """Change settings while running (same names as the constructor's keyword arguments)."""
        apply_settings(self._core.settings, settings)
        if "rate_limit_per_minute" in settings:
            self._core.limiter.configure(self._core.settings.rate_limit_per_minute)

    @property
    def settings(self) -> Dict[str, Any]:
        return self._core.settings.as_dict()

    def reset(self) -> None:
        """Forget contacts, companies, tags, events, custom attributes, bulk jobs, the request log, counters,
        faults and the rate window."""
        self._core.reset()

    # ---- contacts and data attributes ---------------------------------------------------------------------
    def contacts(self, include_archived: bool = False) -> List[Dict[str, Any]]:
        core = self._core
        with core.lock:
            return [core.contact_dict(c) for c in core.store.by_id.values() if include_archived or not c.archived]

    def contact(self, contact_id: str) -> Optional[Dict[str, Any]]:
        core = self._core
        with core.lock:
            c = core.store.get(contact_id, include_archived=True)
            return core.contact_dict(c) if c is not None else None

    def seed_contact(self, **fields: Any) -> Dict[str, Any]:
        """Insert one contact as if it had always been there (search sees it at once).

        A lead gets an Intercom-style UUID external_id; seeding a lead with any other external_id is refused
        (ValueError), because Intercom never lets a lead keep one.
        """
        core = self._core
        with core.lock:
            core.seed_contacts([fields])
            if fields.get("deleted"):
                data = core.contact_dict(next(reversed(core.store.deleted.values())))
                data["deleted"] = True
                return data
            c = next(reversed(core.store.by_id.values()))
            return core.contact_dict(c)

    def seed_contacts(self, contacts: Iterable[Dict[str, Any]], visible: bool = True) -> int:
        """Insert many contacts quickly; ``visible=False`` makes them subject to search lag like new ones.

        ``"deleted": True`` on a user seeds its tombstone (see ``deleted_contacts``).
        """
        return self._core.seed_contacts(contacts, visible=visible)

    def deleted_contacts(self) -> List[Dict[str, Any]]:
        """Tombstones of deleted users, which the API never shows but whose email and external_id stay taken."""
        core = self._core
        with core.lock:
            out = []
            for c in core.store.deleted.values():
                data = core.contact_dict(c)
                data["deleted"] = True
                out.append(data)
            return out

    def merged_contacts(self) -> List[Dict[str, Any]]:
        """Merged source contacts as they were, each with ``merged_into`` (the canonical contact's id)."""
        core = self._core
        with core.lock:
            out = []
            for contact_id, (c, _) in core.store.merged.items():
                data = core.contact_dict(c)
                data["merged_into"] = core.store.canonical_id(contact_id)
                out.append(data)
            return out

    def merge_contacts(self, from_id: str, into_id: str) -> Dict[str, Any]:
        """Mark ``from_id`` merged into ``into_id`` (any roles; the API merges only a lead into a user).

        Afterwards the source answers 410 (2.16+) or 404 and is gone from search and list. Returns the target.
        """
        core = self._core
        with core.lock:
            core.seed_merged(from_id, into_id)
            return core.contact_dict(core.store.by_id[into_id])

    def seed_admin(self, id: Any = None, name: Optional[str] = None, email: Optional[str] = None,
                   **extra: Any) -> Dict[str, Any]:
        """Add an admin (teammate), which owner_id may then name. A fresh workspace has one admin."""
        core = self._core
        with core.lock:
            return core.admins.seed(id, name, email, **extra).render()

    def admins(self) -> List[Dict[str, Any]]:
        core = self._core
        with core.lock:
            return core.admins.list()

    def data_attributes(self, model: Optional[str] = "contact", include_archived: bool = True) -> List[Dict[str, Any]]:
        core = self._core
        with core.lock:
            return core.attributes.list(model, include_archived)

    def seed_data_attribute(self, name: str, data_type: str, model: str = "contact", **extra: Any) -> Dict[str, Any]:
        core = self._core
        with core.lock:
            return core.attributes.seed(name, data_type, model, **extra).render()

    # ---- companies, tags and data events ----------------------------------------------------------------
    def companies(self, include_archived: bool = False) -> List[Dict[str, Any]]:
        """Every company as the API renders it (the lists hide companies without users; this does not), plus
        ``archived`` and ``contact_ids`` (all attached contacts, in attachment order)."""
        core = self._core
        with core.lock:
            return [self._company_dict(c) for c in core.companies.by_id.values() if include_archived or not c.archived]

    def company(self, id: Optional[str] = None, *, company_id: Optional[str] = None) -> Optional[Dict[str, Any]]:
        """One company by Intercom id (archived ones too) or by your live ``company_id``; None when unknown."""
        core = self._core
        with core.lock:
            c = core.companies.by_id.get(id) if id is not None else core.companies.by_company_id.get(company_id or "")
            return self._company_dict(c) if c is not None else None

    def seed_company(self, **fields: Any) -> Dict[str, Any]:
        """Insert one company as if it had always been there (no race, no API rules beyond consistency).

        Besides the company's own fields it takes ``contact_ids`` and ``external_ids`` (contacts to attach) and
        ``tags`` (tag names, created when missing).
        """
        core = self._core
        with core.lock:
            return self._company_dict(self._seed_company(fields))

    def seed_companies(self, companies: Iterable[Dict[str, Any]]) -> int:
        core = self._core
        count = 0
        with core.lock:
            for fields in companies:
                self._seed_company(dict(fields))
                count += 1
        return count

    def _seed_company(self, fields: Dict[str, Any]) -> Company:
        core = self._core
        contact_ids = [str(i) for i in fields.get("contact_ids") or ()]
        for external_id in fields.get("external_ids") or ():
            contact = core.store.by_external_id.get(external_id)
            if contact is None or contact.id in core.store.deleted:  # a tombstone keeps its external_id
                raise ValueError("no contact has the external_id %r" % (external_id,))
            contact_ids.append(contact.id)
        for contact_id in contact_ids:
            if core.store.get(contact_id, include_archived=True) is None:
                raise ValueError("no contact has the id %r" % (contact_id,))
            if len(core.companies.by_contact.get(contact_id, ())) >= CONTACT_COMPANY_LIMIT:
                raise ValueError("contact %s already belongs to %d companies" % (contact_id, CONTACT_COMPANY_LIMIT))
        tag_names = list(fields.get("tags") or ())
        if not all(isinstance(n, str) and n.strip() for n in tag_names):
            raise ValueError("tags must be a list of tag names")
        c = company_from_seed(core.companies, core.attributes, fields, int(time.time()), core.settings.long_text)
        if not c.archived:
            for contact_id in contact_ids:
                core.companies.attach(c, contact_id, c.updated_at)
        for name in tag_names:
            tag, _ = core.tags.find_or_create(name)
            core.tags.tag_company(tag, c.id, c.updated_at)
        return c

    def _company_dict(self, c: Company) -> Dict[str, Any]:
        data = render(self._core, c)
        data["archived"] = c.archived
        data["contact_ids"] = list(c.contacts)
        return data

    def tags(self) -> List[Dict[str, Any]]:
        """Every tag with the contacts and companies that carry it."""
        core = self._core
        with core.lock:
            return [self._tag_dict(t) for t in core.tags.by_id.values()]

    def seed_tag(self, name: str, contact_ids: Iterable[str] = ()) -> Dict[str, Any]:
        """Create a tag (or find it: names ignore case), optionally on some contacts."""
        core = self._core
        with core.lock:
            tag, _ = core.tags.find_or_create(name)
            now = int(time.time())
            for contact_id in contact_ids:
                if core.store.get(contact_id, include_archived=True) is None:
                    raise ValueError("no contact has the id %r" % (contact_id,))
                core.tags.tag_contact(tag, contact_id, now)
            return self._tag_dict(tag)

    def _tag_dict(self, tag: Tag) -> Dict[str, Any]:
        data = render_tag(tag)
        data["contact_ids"] = list(tag.contacts)
        data["company_ids"] = list(tag.companies)
        return data

    def events(self, contact_id: Optional[str] = None) -> List[Dict[str, Any]]:
        """Stored data events (duplicates are not stored), oldest first: event_name, created_at, the metadata kept,
        contact_id, the identifier the request used (user_id, email or id; the others None) and the metadata
        keys beyond the tenth that were ignored."""
        core = self._core
        with core.lock:
            return [inspect_event(e) for e in core.events.all if contact_id is None or e.contact_id == contact_id]

    def seed(self, data: Dict[str, Any]) -> Dict[str, int]:
        """Seed from one document, as the admin ``seed`` endpoint and ``--seed`` file do: ``admins``,
        ``data_attributes``, ``contacts`` (with ``visible``; ``"deleted": true`` on a user seeds its tombstone),
        ``tags`` (names, or {"name", "contact_ids"}) and ``companies``, in that order.

        Returns how many of each were seeded (``admins``, ``tags`` and ``companies`` only when the document has
        them).
        """
        out: Dict[str, int] = {}
        admins = data.get("admins") or []
        for admin in admins:
            self.seed_admin(**admin)
        attrs = data.get("data_attributes") or []
        for attr in attrs:
            attr = dict(attr)
            self.seed_data_attribute(attr.pop("name"), attr.pop("data_type"), attr.pop("model", "contact"), **attr)
        contacts = self.seed_contacts(data.get("contacts") or [], visible=bool(data.get("visible", True)))
        out.update(contacts=contacts, data_attributes=len(attrs))
        if "admins" in data:
            out["admins"] = len(admins)
        if "tags" in data:
            for tag in data["tags"] or []:
                if isinstance(tag, dict):
                    self.seed_tag(tag["name"], tag.get("contact_ids") or ())
                else:
                    self.seed_tag(tag)
            out["tags"] = len(data["tags"] or [])
        if "companies" in data:
            out["companies"] = self.seed_companies(data["companies"] or [])
        return out

    def bulk_jobs(self) -> List[Dict[str, Any]]:
        """Bulk jobs with their tasks and, per task, each item's outcome (which the real API never shows)."""
        core = self._core
        with core.lock:
            return core.bulk.details(self.url if self._port else "http://127.0.0.1")

    # ---- introspection ------------------------------------------------------------------------------------
    @property
    def requests(self) -> List[RequestRecord]:
        return self._core.log.records()

    def count(self, endpoint: Optional[str] = None) -> int:
        return self._core.log.count(endpoint)

    def counts(self) -> Dict[str, int]:
        return self._core.log.counts()

    @property
    def rate_limited(self) -> int:
        return self._core.log.rate_limited

    def stats(self) -> Dict[str, Any]:
        core = self._core
        with core.lock:
            store = core.store
            contacts = {"contacts": len(store) - store.archived_count, "archived": store.archived_count,
                        "deleted": len(store.deleted), "merged": len(store.merged),
                        "bulk_jobs": core.bulk.job_count(), "custom_attributes": core.attributes.custom_count(),
                        "companies": core.companies.live_count(), "tags": len(core.tags),
                        "events": len(core.events), "events_deduplicated": core.events.duplicates}
        out: Dict[str, Any] = {"counts": self.counts(), "total": self.count(), "rate_limited": self.rate_limited}
        out.update(contacts)
        out["server_cpu"] = core.log.cpu()
        server = self._server
        out["connections_accepted"] = server.connections_accepted if server is not None else 0
        out["faults"] = core.faults.describe()
        return out

    # ---- faults -------------------------------------------------------------------------------------------
    def fail_next(self, n: Optional[int] = 1, status: int = 500, body: str = "json",
                  retry_after: Optional[float] = None, *, match_method: Optional[str] = None,
                  match_path: Optional[str] = None, code: Optional[str] = None,
                  message: Optional[str] = None) -> None:
        """Answer the next ``n`` matching requests with ``status`` without processing them (n=None: forever).

        ``code`` and ``message`` name the error.list's error (default: a usual pair for the status).
        """
        self._core.faults.add(Fault(FAIL, n, status=status, body=body, retry_after=retry_after,
                                    match_method=match_method, match_path=match_path, code=code, message=message))

    def company_race_next(self, n: Optional[int] = 1) -> None:
        """The next ``n`` POST /companies lose the create race: 400 unique_company_constraint, nothing applied."""
        err = company_exists()
        self.fail_next(n, status=err.status, code=err.code, message=err.message, match_method="POST",
                       match_path=r"^/companies$")

    def drop_next(self, n: Optional[int] = 1, after_processing: bool = False, *, match_method: Optional[str] = None,
                  match_path: Optional[str] = None) -> None:
        """Close the connection without answering, before or after applying the request."""
        self._core.faults.add(Fault(DROP, n, after_processing=after_processing, match_method=match_method,
                                    match_path=match_path))

    def delay_next(self, n: Optional[int] = 1, seconds: float = 1.0, after_processing: bool = True, *,
                   match_method: Optional[str] = None, match_path: Optional[str] = None) -> None:
        """Answer late (e.g. later than the client's timeout), after or before applying the request."""
        self._core.faults.add(Fault(DELAY, n, seconds=seconds, after_processing=after_processing,
                                    match_method=match_method, match_path=match_path))

    def malformed_next(self, n: Optional[int] = 1, kind: str = "truncated", *, match_method: Optional[str] = None,
                       match_path: Optional[str] = None) -> None:
        """Apply the request, then answer with its status and a broken JSON body."""
        self._core.faults.add(Fault(MALFORMED, n, malformed=kind, match_method=match_method,
                                    match_path=match_path))

    def fail_writes_after(self, k: int, status: int = 500, body: str = "json", code: Optional[str] = None,
                          message: Optional[str] = None) -> None:
        """Every write (POST/PUT other than search) after the k-th successful one fails with ``status``."""
        self._core.faults.fail_writes_after(k, status, body, code, message)

    def clear_faults(self) -> None:
        self._core.faults.clear()

    def faults(self) -> Dict[str, Any]:
        return self._core.faults.describe()
