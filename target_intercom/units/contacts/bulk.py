"""Bulk mode: users through Intercom's Preview bulk contacts jobs.

Each batch, once looked up, goes out as at most one bulk create task and one
bulk update task (100 contacts each), appended to a job the run shares, and
is confirmed when Intercom reports the tasks finished. What bulk jobs cannot
do goes through the stable API, so nothing is silently dropped:

- bulk update ignores `signed_up_at` and `last_seen_at`: a record that
  changes the one or moves the other forward is written with a stable update
  instead;
- records of one batch that may mean the same user are written one after
  another with stable calls, in input order;
- bulk create rejects an item whose email any contact holds, though users
  may share an email when their user_ids differ: a new user whose email the
  batch's lookup found goes through the stable API;
- a task that ends `completed_with_errors` says nothing about which items
  failed: one search per task (external_id IN for creates, id IN for
  updates) finds the items Intercom holds as sent. Search may lag writes,
  but bulk tasks take longer than that lag in practice, and what it misses
  is checked one by one: a created user is looked up by user_id (which,
  unlike search, is current), and an item still not holding its values is
  sent again through the stable API, which writes it or answers with the
  exact reason to reject it.

When the workspace does not offer the Preview bulk endpoints, one line says
so and the run goes on with the stable API.
"""

from __future__ import annotations

import logging
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple

from target_intercom.bulk_jobs import MAX_ITEMS_PER_TASK, BulkJobs, BulkUnavailable
from target_intercom.intercom import IntercomContact
from target_intercom.units.base import Workspace
from target_intercom.units.contacts.bulk_delete import BulkDeletes, Item
from target_intercom.units.contacts.identity import (
    Create,
    Decision,
    RecentContacts,
    Reject,
    Resolver,
    Term,
    Unchanged,
    Update,
    holds,
    moves_forward,
)
from target_intercom.units.contacts.mapping import ContactPayload
from target_intercom.units.contacts.search import ContactSearch
from target_intercom.units.contacts.write import ContactWriter

logger = logging.getLogger(__name__)

# The fields a bulk update applies; anything else in an item is ignored by Intercom.
_BULK_UPDATE_FIELDS = frozenset(
    ("external_id", "email", "name", "phone", "avatar", "owner_id", "unsubscribed_from_emails")
)


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
        workspace: Workspace,
        recent: RecentContacts,
        writer: ContactWriter,
        search: ContactSearch,
        stream: str,
        job_timeout: float,
        max_concurrency: int,
    ) -> None:
        self._workspace = workspace
        self._contacts = workspace.client.contacts
        self._catalog = workspace.catalog("contact")
        self._recent = recent
        self._writer = writer
        self._search = search
        self._stream = stream
        self._jobs = BulkJobs(workspace.client.contacts, timeout=job_timeout)
        self._stable = ThreadPoolExecutor(max_workers=max_concurrency, thread_name_prefix="stable")
        self._available = True
        self._deletes = BulkDeletes(
            workspace=workspace,
            remover=writer.remover,
            search=search,
            stable=self._stable,
            stream=stream,
            job_timeout=job_timeout,
        )

    def close(self) -> None:
        self._jobs.close()
        self._deletes.close()
        self._stable.shutdown(wait=True)

    def write_batch(self, payloads: Sequence[ContactPayload], resolver: Resolver) -> None:
        groups = [members for _, members in resolver.groups(payloads)]
        pending = [self._stable_chain(members, resolver) for members in groups if len(members) > 1]
        creates: List[_Item] = []
        updates: List[_Item] = []
        deletes: List[Item] = []
        for (payload,) in (members for members in groups if len(members) == 1):
            with self._workspace.settling(self._stream, payload):
                if payload.deleted:
                    self._deletes.route(payload, resolver, deletes, pending)
                else:
                    self._route(payload, resolver, creates, updates, pending)
        deleting = self._deletes.submit(deletes, pending)
        if self._available:
            try:
                self._write_tasks(creates, updates, pending)
                creates, updates = [], []
            except BulkUnavailable as exc:
                self._fall_back(exc)
        self._deletes.settle(deleting, pending)
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
        self._writer.before(payload)
        custom = self._catalog.custom_attributes(payload, self._stream)
        decision = resolver.decide(payload, custom)
        item = _Item(payload, custom)
        if isinstance(decision, (Reject, Unchanged)):
            self._writer.write(payload, custom, decision)
        elif payload.companies or (payload.tags and isinstance(decision, Create)):
            # Attaching and tagging need the contact's id, which bulk create tasks do not return.
            pending.append(self._stable_apply(item, decision))
        elif isinstance(decision, Create):
            if resolver.email_taken(payload):
                # Bulk create would refuse it, and the task's check would cost more than this call.
                pending.append(self._stable_apply(item, decision))
            else:
                item.body = _create_body(payload, custom)
                creates.append(item)
        elif isinstance(decision, Update):
            item.contact = decision.contact
            if _changes_what_bulk_update_ignores(payload, decision.contact):
                pending.append(self._stable_apply(item, decision))
            else:
                item.body = _update_body(decision.contact.id, payload, custom)
                updates.append(item)

    def _write_tasks(
        self, creates: List[_Item], updates: List[_Item], pending: List["Future[None]"]
    ) -> None:
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
                self._check_task(kind, chunk, pending)

    def _confirm(self, kind: str, items: List[_Item]) -> None:
        if kind == "create":
            # Bulk create returns no ids; later records for these users find
            # them by search, or by the 409 a create would meet.
            self._workspace.stats.add(self._stream, "created", len(items))
            return
        for item in items:
            assert item.contact is not None
            item.payload.written = _after_update(item.contact, item.payload, item.custom)
            self._recent.remember(item.payload.written)
        self._workspace.stats.add(self._stream, "updated", len(items))

    def _check_task(self, kind: str, items: List[_Item], pending: List["Future[None]"]) -> None:
        """A task that ended with errors: one search finds the items written as sent, the rest are checked singly."""
        creates = kind == "create"
        terms = [term for term in (_check_term(item) for item in items) if term is not None]
        # A term Intercom refuses to search for is simply checked one by one.
        found, _ = self._search.find(terms)
        missed = []
        for item in items:
            term = _check_term(item)
            contact = None
            if term is not None:
                contact = found.by_external_id(term[1]) if creates else found.by_id(term[1])
            if contact is not None and holds(contact, item.payload.core, item.custom):
                item.payload.written = contact
                self._recent.remember(contact)
                self._workspace.stats.add(self._stream, "created" if creates else "updated")
            else:
                missed.append(item)
        check: Callable[[_Item], None] = self._check_create if creates else self._resend_update
        pending.extend(self._stable.submit(check, item) for item in missed)

    def _check_create(self, item: _Item) -> None:
        """An item of a create task that ended with errors: created as sent, or sent again."""
        payload = item.payload
        with self._workspace.settling(self._stream, payload):
            if payload.external_id:
                found = self._contacts.find_by_external_id(payload.external_id)
                if found is not None and holds(found, payload.core, item.custom):
                    payload.written = found
                    self._recent.remember(found)
                    self._workspace.stats.add(self._stream, "created")
                    return
            self._writer.write(payload, item.custom, Create())

    def _resend_update(self, item: _Item) -> None:
        assert item.contact is not None
        self._apply(item, Update(item.contact))

    def _apply(self, item: _Item, decision: Decision) -> None:
        with self._workspace.settling(self._stream, item.payload):
            self._writer.write(item.payload, item.custom, decision)

    def _stable_apply(self, item: _Item, decision: Decision) -> "Future[None]":
        return self._stable.submit(self._apply, item, decision)

    def _stable_chain(
        self, payloads: Sequence[ContactPayload], resolver: Resolver
    ) -> "Future[None]":
        return self._stable.submit(self._writer.write_chain, payloads, resolver)

    def _fall_back(self, exc: BulkUnavailable) -> None:
        if self._available:
            self._available = False
            logger.warning(
                "Intercom's Preview bulk contacts endpoints are not available to this workspace (%s); "
                "this run continues with the contacts API",
                exc,
            )


def _check_term(item: _Item) -> Optional[Term]:
    """What finds a task's item: a created user by its user_id (if it has one), an updated one by its id."""
    if item.contact is not None:
        return ("id", item.contact.id)
    return ("external_id", item.payload.external_id) if item.payload.external_id else None


def _changes_what_bulk_update_ignores(payload: ContactPayload, contact: IntercomContact) -> bool:
    core = payload.core
    if "signed_up_at" in core and core["signed_up_at"] != contact.core.get("signed_up_at"):
        return True
    # An older last_seen_at is not sent at all (see identity.update_core).
    return "last_seen_at" in core and moves_forward(contact, core["last_seen_at"])


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
    return replace(
        contact,
        external_id=payload.core.get("external_id", contact.external_id),
        email=payload.core.get("email", contact.email),
        core={**contact.core, **{k: v for k, v in payload.core.items() if k in _BULK_UPDATE_FIELDS}},
        custom={**contact.custom, **custom},
    )
