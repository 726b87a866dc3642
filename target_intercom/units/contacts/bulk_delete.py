"""Bulk mode with delete_mode delete: users deleted through Intercom's Preview bulk delete jobs.

A batch's deletions go out as tasks of `POST /contacts/bulk/delete` (100 ids
each), in a job of their own: whether Intercom lets one job mix delete tasks
with create and update tasks is not documented. A task that ends
`completed_with_errors` says nothing about which ids failed: one search (id
IN) finds those that still exist, and each is deleted through the stable API,
which deletes it or says why not. The rest are gone, deleted by the task or
before it.

Archiving has no bulk endpoint: with delete_mode archive, each user is
archived through the stable API, as when the workspace lacks the Preview
endpoints.
"""

from __future__ import annotations

import logging
from concurrent.futures import Future, ThreadPoolExecutor
from typing import List, Tuple

from target_intercom.bulk_jobs import MAX_ITEMS_PER_TASK, BulkJobs, BulkUnavailable
from target_intercom.deletes import DELETE, DELETED
from target_intercom.intercom import IntercomContact
from target_intercom.units.base import Workspace
from target_intercom.units.contacts.identity import Resolver
from target_intercom.units.contacts.mapping import ContactPayload
from target_intercom.units.contacts.remove import ContactRemover
from target_intercom.units.contacts.search import ContactSearch

logger = logging.getLogger(__name__)

# A user to delete: the record, and the contact it means.
Item = Tuple[ContactPayload, IntercomContact]
# A task sent: its users, and its id.
Sent = Tuple[List[Item], str]


class BulkDeletes:
    def __init__(
        self,
        *,
        workspace: Workspace,
        remover: ContactRemover,
        search: ContactSearch,
        stable: ThreadPoolExecutor,
        stream: str,
        job_timeout: float,
    ) -> None:
        """`stable` runs the calls of the stable API (the writer's pool)."""
        self._workspace = workspace
        self._remover = remover
        self._search = search
        self._stable = stable
        self._stream = stream
        self._jobs = BulkJobs(workspace.client.contacts, timeout=job_timeout)
        self._bulk = remover.mode == DELETE

    def close(self) -> None:
        self._jobs.close()

    def route(self, payload: ContactPayload, resolver: Resolver, items: List[Item], pending: List["Future[None]"]) -> None:
        """Look the record's user up; queue it for a bulk task, or remove it through the stable API."""
        contact = self._remover.target(payload, resolver)
        if contact is None:
            return
        if self._bulk:
            items.append((payload, contact))
        else:
            pending.append(self._stable.submit(self._remove_one, (payload, contact)))

    def submit(self, items: List[Item], pending: List["Future[None]"]) -> List[Sent]:
        """Send the batch's deletions in tasks of 100 (or to the stable API, in `pending`); wait with `settle`."""
        sent: List[Sent] = []
        for start in range(0, len(items), MAX_ITEMS_PER_TASK):
            chunk = items[start : start + MAX_ITEMS_PER_TASK]
            if self._bulk:
                try:
                    sent.append((chunk, self._jobs.submit("delete", [{"id": contact.id} for _, contact in chunk])))
                    continue
                except BulkUnavailable as exc:
                    self._fall_back(exc)
            pending.extend(self._stable.submit(self._remove_one, item) for item in chunk)
        return sent

    def settle(self, sent: List[Sent], pending: List["Future[None]"]) -> None:
        """Wait for the tasks; what one may have missed goes to `pending`."""
        for chunk, task_id in sent:
            if self._jobs.wait(task_id) == "completed":
                self._remover.removed([contact for _, contact in chunk], DELETED)
            else:
                self._check(chunk, pending)

    def _check(self, chunk: List[Item], pending: List["Future[None]"]) -> None:
        """A task that ended with errors: the ids still found are deleted singly; the others are gone."""
        found, refused = self._search.find(("id", contact.id) for _, contact in chunk)
        left = [item for item in chunk if found.by_id(item[1].id) is not None or ("id", item[1].id) in refused]
        gone = [contact for payload, contact in chunk if (payload, contact) not in left]
        self._remover.removed(gone, DELETED)
        pending.extend(self._stable.submit(self._remove_one, item) for item in left)

    def _remove_one(self, item: Item) -> None:
        payload, contact = item
        with self._workspace.settling(self._stream, payload):
            self._remover.remove_contact(contact)

    def _fall_back(self, exc: BulkUnavailable) -> None:
        if self._bulk:
            self._bulk = False
            logger.warning(
                "Intercom's Preview bulk delete endpoint is not available to this workspace (%s); "
                "this run deletes users through the contacts API",
                exc,
            )
