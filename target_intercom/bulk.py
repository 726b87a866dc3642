"""Bulk mode: users through Intercom's Preview bulk contacts jobs.

Each batch, once looked up, goes out as at most one bulk create task and one
bulk update task (100 contacts each), appended to a job the run shares, and
is confirmed when Intercom reports the tasks finished. What bulk jobs cannot
do goes through the stable API, so nothing is silently dropped:

- bulk update ignores `signed_up_at` and `last_seen_at`: a record that
  changes them is written with a stable update instead;
- records of one batch that may mean the same user are written one after
  another with stable calls, in input order;
- a task that ends `completed_with_errors` says nothing about which items
  failed: each of its items is checked (a created user is looked up by
  user_id, which unlike search is consistent) or sent again through the
  stable API, which writes it or answers with the exact reason to reject it.

When the workspace does not offer the Preview bulk endpoints, one line says
so and the run goes on with the stable API.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Set, Tuple

from target_intercom.attributes import AttributeCatalog
from target_intercom.errors import IntercomUnavailable, Interrupted, TargetError
from target_intercom.identity import Create, RecentContacts, Reject, Resolver, Unchanged, Update, holds
from target_intercom.intercom import IntercomClient, IntercomContact, RequestRejected
from target_intercom.mapping import ContactPayload
from target_intercom.metrics import RunStats
from target_intercom.upsert import ContactUpserter

logger = logging.getLogger(__name__)

MAX_ITEMS_PER_TASK = 100
FINISHED = ("completed", "completed_with_errors")
# The fields a bulk update applies; anything else in an item is ignored by Intercom.
_BULK_UPDATE_FIELDS = frozenset(
    ("external_id", "email", "name", "phone", "avatar", "owner_id", "unsubscribed_from_emails")
)


class BulkUnavailable(Exception):
    """The workspace does not offer the Preview bulk contacts endpoints."""


@dataclass
class _Task:
    job_id: str
    state: Optional[str] = None
    error: Optional[BaseException] = None


class BulkJobs:
    """Tasks appended to a job shared by the run, and one poller that watches them all."""

    def __init__(
        self, client: IntercomClient, timeout: float, first_poll: float = 0.25, max_poll: float = 5.0
    ) -> None:
        self._client = client
        self._timeout = timeout
        self._first_poll = first_poll
        self._max_poll = max_poll
        self._submit_lock = threading.Lock()
        self._cond = threading.Condition()
        self._tasks: Dict[str, _Task] = {}
        self._job_id: Optional[str] = None
        self._job_tasks: Set[str] = set()
        self._poll_soon = False
        self._closed = False
        self._poller: Optional[threading.Thread] = None

    def submit(self, kind: str, items: List[Dict[str, Any]]) -> str:
        """Send one task ("create" or "update"); returns its id."""
        send = self._client.bulk_create if kind == "create" else self._client.bulk_update
        with self._submit_lock:
            job_id = self._job_id if self._job_has_unfinished_tasks() else None
            try:
                job = send(items, job_id)
            except RequestRejected as exc:
                if job_id and exc.code in ("forbidden", "job_not_found"):
                    job = send(items, None)  # the shared job closed meanwhile: start another
                elif exc.status in (400, 404, 405) and exc.code != "job_not_found":
                    raise BulkUnavailable(f"{exc.status} {exc.code or 'error'}: {exc.message}") from None
                else:
                    raise TargetError(f"Intercom refused a bulk {kind} task ({exc.status} {exc.code}: {exc.message})")
            if job["id"] != self._job_id:
                self._job_id, self._job_tasks = job["id"], set()
            new = [task["id"] for task in job.get("tasks") or [] if task["id"] not in self._job_tasks]
            if not new:
                raise TargetError(f"Intercom's answer to a bulk {kind} task names no new task in job {job['id']}")
            self._job_tasks.update(new)
            with self._cond:
                self._tasks[new[-1]] = _Task(job_id=job["id"])
                self._poll_soon = True
                self._start_poller()
                self._cond.notify_all()
            return new[-1]

    def wait(self, task_id: str) -> str:
        """Block until the task finishes; returns its final state."""
        deadline = time.monotonic() + self._timeout
        with self._cond:
            task = self._tasks[task_id]
            while task.state is None and task.error is None:
                left = deadline - time.monotonic()
                if left <= 0:
                    del self._tasks[task_id]
                    raise IntercomUnavailable(
                        f"Intercom's bulk job {task.job_id} did not finish task {task_id} "
                        f"within {self._timeout:g} s"
                    )
                self._cond.wait(left)
            del self._tasks[task_id]
            if task.error is not None:
                raise task.error
            return task.state  # type: ignore[return-value]

    def close(self) -> None:
        """Stop polling; batches still waiting for a task give up."""
        with self._cond:
            self._closed = True
            for task in self._tasks.values():
                if task.state is None and task.error is None:
                    task.error = Interrupted(f"stopped before bulk task of job {task.job_id} finished")
            self._cond.notify_all()

    def _job_has_unfinished_tasks(self) -> bool:
        with self._cond:
            return any(t.job_id == self._job_id and t.state is None for t in self._tasks.values())

    def _start_poller(self) -> None:
        if self._poller is None:
            self._poller = threading.Thread(target=self._poll_loop, name="bulk-poller", daemon=True)
            self._poller.start()

    def _poll_loop(self) -> None:
        delay = self._first_poll
        while True:
            with self._cond:
                while not self._closed and not any(t.state is None for t in self._tasks.values()):
                    self._cond.wait()
                if self._closed:
                    return
                # Wait before polling: a task just sent is still running. A new
                # task restarts the wait at its shortest.
                deadline = time.monotonic() + delay
                while not self._closed and time.monotonic() < deadline:
                    if self._poll_soon:
                        self._poll_soon, delay = False, self._first_poll
                        deadline = time.monotonic() + delay
                    self._cond.wait(max(0.0, deadline - time.monotonic()))
                jobs = {t.job_id for t in self._tasks.values() if t.state is None}
            progressed = any([self._poll(job_id) for job_id in jobs])
            delay = self._first_poll if progressed else min(self._max_poll, delay * 2)

    def _poll(self, job_id: str) -> bool:
        try:
            try:
                job = self._client.bulk_job(job_id)
            except RequestRejected as exc:
                raise TargetError(
                    f"Intercom refused to report on bulk job {job_id} ({exc.status} {exc.code}: {exc.message})"
                ) from None
        except BaseException as exc:  # noqa: BLE001 - handed to the waiting batches
            with self._cond:
                for task in self._tasks.values():
                    if task.job_id == job_id and task.state is None:
                        task.error = exc
                self._cond.notify_all()
            return True
        finished = False
        with self._cond:
            for reported in job.get("tasks") or []:
                waiting = self._tasks.get(reported["id"])
                if waiting is not None and waiting.state is None and reported.get("state") in FINISHED:
                    waiting.state = reported["state"]
                    finished = True
            self._cond.notify_all()
        return finished


@dataclass
class _Item:
    payload: ContactPayload
    custom: Dict[str, Any]
    contact: Optional[IntercomContact] = None
    body: Dict[str, Any] = field(default_factory=dict)


class BulkWriter:
    """Writes a whole batch through bulk tasks, with the stable API where bulk falls short."""

    def __init__(
        self,
        *,
        client: IntercomClient,
        catalog: AttributeCatalog,
        recent: RecentContacts,
        upserter: ContactUpserter,
        jobs: BulkJobs,
        stats: RunStats,
        max_concurrency: int,
    ) -> None:
        self._client = client
        self._catalog = catalog
        self._recent = recent
        self._upserter = upserter
        self._jobs = jobs
        self._stats = stats
        self._stable = ThreadPoolExecutor(max_workers=max_concurrency, thread_name_prefix="stable")
        self._available = True

    def close(self) -> None:
        self._jobs.close()
        self._stable.shutdown(wait=True)

    def write_batch(self, payloads: List[ContactPayload], resolver: Resolver) -> None:
        groups = [members for _, members in resolver.groups(payloads)]
        pending = [self._stable_chain(members, resolver) for members in groups if len(members) > 1]
        creates: List[_Item] = []
        updates: List[_Item] = []
        for (payload,) in (members for members in groups if len(members) == 1):
            with self._upserter.rejecting(payload):
                self._route(payload, resolver, creates, updates, pending)
        if self._available:
            try:
                self._write_tasks(creates, updates, pending)
            except BulkUnavailable as exc:
                self._fall_back(exc)
                pending += [self._stable_apply(item, Create()) for item in creates]
                pending += [self._stable_apply(item, Update(item.contact)) for item in updates]  # type: ignore[arg-type]
        else:
            pending += [self._stable_apply(item, Create()) for item in creates]
            pending += [self._stable_apply(item, Update(item.contact)) for item in updates]  # type: ignore[arg-type]
        for future in pending:
            future.result()

    def _route(
        self,
        payload: ContactPayload,
        resolver: Resolver,
        creates: List[_Item],
        updates: List[_Item],
        pending: List["Future[None]"],
    ) -> None:
        custom = self._catalog.custom_attributes(payload)
        decision = resolver.decide(payload, custom)
        item = _Item(payload, custom)
        if isinstance(decision, (Reject, Unchanged)):
            self._upserter.apply(payload, custom, decision)
        elif isinstance(decision, Create):
            item.body = _create_body(payload, custom)
            creates.append(item)
        elif isinstance(decision, Update):
            item.contact = decision.contact
            if _changes_what_bulk_update_ignores(payload, decision.contact):
                pending.append(self._stable_apply(item, decision))
            else:
                item.body = _update_body(decision.contact.id, payload, custom)
                updates.append(item)

    def _write_tasks(self, creates: List[_Item], updates: List[_Item], pending: List["Future[None]"]) -> None:
        sent: List[Tuple[str, List[_Item], str]] = []
        for kind, items in (("create", creates), ("update", updates)):
            for start in range(0, len(items), MAX_ITEMS_PER_TASK):
                chunk = items[start : start + MAX_ITEMS_PER_TASK]
                sent.append((kind, chunk, self._jobs.submit(kind, [item.body for item in chunk])))
        for kind, chunk, task_id in sent:
            state = self._jobs.wait(task_id)
            if state == "completed":
                self._confirm(kind, chunk)
            else:
                check = self._check_create if kind == "create" else self._resend_update
                pending.extend(self._stable.submit(check, item) for item in chunk)

    def _confirm(self, kind: str, items: List[_Item]) -> None:
        if kind == "create":
            # Bulk create returns no ids; later records for these users find
            # them by search, or by the 409 a create would meet.
            self._stats.add("created", len(items))
            return
        for item in items:
            assert item.contact is not None
            self._recent.remember(_after_update(item.contact, item.payload, item.custom))
        self._stats.add("updated", len(items))

    def _check_create(self, item: _Item) -> None:
        """An item of a create task that ended with errors: created as sent, or sent again."""
        payload = item.payload
        with self._upserter.rejecting(payload):
            if payload.external_id:
                found = self._client.find_contact_by_external_id(payload.external_id)
                if found is not None and holds(found, payload.core, item.custom):
                    self._recent.remember(found)
                    self._stats.add("created")
                    return
            self._upserter.apply(payload, item.custom, Create())

    def _resend_update(self, item: _Item) -> None:
        assert item.contact is not None
        self._upserter.apply(item.payload, item.custom, Update(item.contact))

    def _stable_apply(self, item: _Item, decision: Any) -> "Future[None]":
        return self._stable.submit(self._upserter.apply, item.payload, item.custom, decision)

    def _stable_chain(self, payloads: List[ContactPayload], resolver: Resolver) -> "Future[None]":
        return self._stable.submit(self._upserter.write_chain, payloads, resolver)

    def _fall_back(self, exc: BulkUnavailable) -> None:
        if self._available:
            self._available = False
            logger.warning(
                "Intercom's Preview bulk contacts endpoints are not available to this workspace (%s); "
                "this run continues with the contacts API",
                exc,
            )


def _changes_what_bulk_update_ignores(payload: ContactPayload, contact: IntercomContact) -> bool:
    return any(
        name in payload.core and payload.core[name] != contact.core.get(name)
        for name in ("signed_up_at", "last_seen_at")
    )


def _create_body(payload: ContactPayload, custom: Mapping[str, Any]) -> Dict[str, Any]:
    body: Dict[str, Any] = {"role": "user"}
    body.update((k, v) for k, v in payload.core.items() if v is not None)
    _owner_id_as_text(body)
    attributes = {k: v for k, v in custom.items() if v is not None}
    if attributes:
        body["custom_attributes"] = attributes
    return body


def _update_body(contact_id: str, payload: ContactPayload, custom: Mapping[str, Any]) -> Dict[str, Any]:
    body: Dict[str, Any] = {"id": contact_id}
    body.update((k, v) for k, v in payload.core.items() if k in _BULK_UPDATE_FIELDS)
    _owner_id_as_text(body)
    if custom:
        body["custom_attributes"] = dict(custom)
    return body


def _owner_id_as_text(body: Dict[str, Any]) -> None:
    # The Preview schema types owner_id as a string.
    if body.get("owner_id") is not None:
        body["owner_id"] = str(body["owner_id"])


def _after_update(contact: IntercomContact, payload: ContactPayload, custom: Mapping[str, Any]) -> IntercomContact:
    return IntercomContact(
        id=contact.id,
        role=contact.role,
        external_id=payload.core.get("external_id", contact.external_id),
        email=payload.core.get("email", contact.email),
        core={**contact.core, **payload.core},
        custom={**contact.custom, **custom},
    )

