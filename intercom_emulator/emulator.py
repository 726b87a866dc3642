"""The public face of the emulator: start/stop a server and inspect or steer the emulated workspace."""
from __future__ import annotations

import functools
import threading
from typing import Any, Dict, Iterable, List, Optional

from .admin import handle_admin
from .core import Core
from .faults import DELAY, DROP, FAIL, MALFORMED, Fault
from .reqlog import RequestRecord
from .server import EmulatorHTTPServer
from .settings import Settings, apply_settings


class Emulator:
    """A local Intercom REST API. ``with Emulator(token="t") as emu: ...`` or ``emu = Emulator().start()``."""

    def __init__(self, token: str = "emulator-token", *, host: str = "127.0.0.1", port: int = 0,
                 search_lag: float = 0.0, rate_limit_per_minute: Optional[int] = 10_000, latency: float = 0.0,
                 jitter: float = 0.0, bulk_task_delay: float = 0.2, bulk_enabled: bool = True,
                 default_version: str = "2.14", verbose: bool = False, clock_skew: float = 0.0,
                 recorded_rate_limit_headers: bool = True, email_only_user_conflicts: bool = False,
                 unsubscribed_null: str = "false", long_text: str = "reject",
                 search_max_in_values: Optional[int] = None, search_rejects_non_ids_in_id_filter: bool = False,
                 email_search_case_sensitive: bool = False, log_maxlen: int = 100_000) -> None:
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
                                      email_search_case_sensitive=email_search_case_sensitive))
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
        """Forget contacts, custom attributes, bulk jobs, the request log, counters, faults and the rate window."""
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
                        "bulk_jobs": core.bulk.job_count(), "custom_attributes": core.attributes.custom_count()}
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
                                    match_method=match_method, match_path=match_path, code=code,
                                    message=message))

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
