"""Bulk mode for companies: Intercom's Preview `/companies/bulk` jobs, 100 companies a task.

A bulk create task upserts by company_id, like `POST /companies`. Tasks
return no ids and report failures only as `completed_with_errors`: each
company of such a task is then read back by its company_id and, unless it
holds the record's values, written with the stable upsert, which writes it or
answers with the exact reason to reject it. Several records for one company
in a batch are written one after another with stable calls. When the
workspace does not offer the Preview endpoints, the run goes on with the
stable API.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Sequence, Tuple

from target_intercom.bulk_jobs import MAX_ITEMS_PER_TASK, BulkJobs, BulkUnavailable
from target_intercom.deletes import DELETE, DELETED
from target_intercom.intercom import IntercomCompany
from target_intercom.units.base import Workspace
from target_intercom.units.companies.mapping import CompanyPayload
from target_intercom.units.companies.remove import CompanyRemover
from target_intercom.units.companies.write import CompanyWriter, holds

logger = logging.getLogger(__name__)


@dataclass
class _Item:
    payload: CompanyPayload
    custom: Dict[str, Any]
    known: Optional[IntercomCompany]


class CompanyBulkWriter:
    def __init__(
        self,
        workspace: Workspace,
        writer: CompanyWriter,
        stream: str,
        job_timeout: float,
        remover: Optional[CompanyRemover] = None,
    ) -> None:
        """`remover` deletes the companies of records deleted at the source (with bulk tasks in delete_mode delete)."""
        self._remover = remover or CompanyRemover(workspace, writer.directory, stream, "archive")
        self._workspace = workspace
        self._writer = writer
        self._api = workspace.client.companies
        self._catalog = workspace.catalog("company")
        self._stream = stream
        self._jobs = BulkJobs(self._api, timeout=job_timeout)
        self._available = True

    def close(self) -> None:
        self._jobs.close()

    def write_batch(self, payloads: Sequence[CompanyPayload]) -> None:
        by_company: Dict[str, List[CompanyPayload]] = {}
        for payload in payloads:
            by_company.setdefault(payload.company_id, []).append(payload)
        items: List[_Item] = []
        deletes: List[Tuple[CompanyPayload, str]] = []
        for members in by_company.values():
            if len(members) > 1 or not self._available:
                self._write_stable(members)
                continue
            with self._workspace.settling(self._stream, members[0]):
                if members[0].deleted:
                    self._route_delete(members[0], deletes)
                    continue
                item = self._route(members[0])
                if item is not None:
                    items.append(item)
        self._write_deletes(deletes)
        try:
            self._write_tasks(items)
        except BulkUnavailable as exc:
            self._fall_back(exc)
            self._write_stable([item.payload for item in items])

    def _route_delete(self, payload: CompanyPayload, deletes: List[Tuple[CompanyPayload, str]]) -> None:
        """A company deleted at the source: to a bulk delete task in delete_mode delete, else deleted now."""
        intercom_id = self._remover.intercom_id(payload)
        if intercom_id is not None and self._remover.mode == DELETE:
            deletes.append((payload, intercom_id))
        elif intercom_id is not None:
            self._remover.remove_id(payload.company_id, intercom_id)

    def _write_deletes(self, deletes: List[Tuple[CompanyPayload, str]]) -> None:
        """Bulk delete tasks of 100; an item of a task that ended with errors is deleted singly if it still exists."""
        sent = []
        for start in range(0, len(deletes), MAX_ITEMS_PER_TASK):
            chunk = deletes[start : start + MAX_ITEMS_PER_TASK]
            try:
                sent.append((chunk, self._jobs.submit("delete", [{"id": intercom_id} for _, intercom_id in chunk])))
            except BulkUnavailable as exc:
                self._fall_back(exc)
                self._write_stable([payload for payload, _ in chunk])
        for chunk, task_id in sent:
            if self._jobs.wait(task_id) == "completed":
                self._remover.removed([payload.company_id for payload, _ in chunk], DELETED)
                continue
            for payload, intercom_id in chunk:
                with self._workspace.settling(self._stream, payload):
                    self._check_delete(payload, intercom_id)

    def _check_delete(self, payload: CompanyPayload, intercom_id: str) -> None:
        """Deleted by the task (or before it), or still there and deleted singly, which says why not if it fails."""
        if self._api.find(payload.company_id) is None:
            self._remover.removed([payload.company_id], DELETED)
        else:
            self._remover.remove_id(payload.company_id, intercom_id)

    def _route(self, payload: CompanyPayload) -> Any:
        custom = self._catalog.custom_attributes(payload, self._stream)
        known = self._writer.directory.get(payload.company_id)
        if known is not None and holds(known, payload.core, custom):
            self._workspace.stats.add(self._stream, "unchanged")
            payload.written = known
            return None
        if known is None and payload.tags:
            # Tagging needs the company's id, which bulk tasks do not return.
            self._writer.write(payload, self._stream)
            return None
        return _Item(payload, custom, known)

    def _write_tasks(self, items: List[_Item]) -> None:
        chunks = [items[i : i + MAX_ITEMS_PER_TASK] for i in range(0, len(items), MAX_ITEMS_PER_TASK)]
        sent = [(chunk, self._jobs.submit("create", [_body(item) for item in chunk])) for chunk in chunks]
        for chunk, task_id in sent:
            if self._jobs.wait(task_id) == "completed":
                for item in chunk:
                    self._confirm(item)
            else:
                for item in chunk:
                    with self._workspace.settling(self._stream, item.payload):
                        self._check(item)

    def _confirm(self, item: _Item) -> None:
        # Tasks return no ids: the directory forgets the old values rather than keep wrong ones.
        self._writer.directory.forget(item.payload.company_id)
        self._workspace.stats.add(self._stream, "updated" if item.known else "created")
        item.payload.written = item.known  # its id and tags: an update changes neither

    def _check(self, item: _Item) -> None:
        """An item of a task that ended with errors: written as sent, or sent again through the stable upsert."""
        found = self._api.find(item.payload.company_id)
        if found is not None and holds(found, item.payload.core, item.custom):
            self._writer.directory.remember(found)
            self._workspace.stats.add(self._stream, "updated" if item.known else "created")
            item.payload.written = found
            return
        self._writer.write(item.payload, self._stream)

    def _write_stable(self, payloads: Sequence[CompanyPayload]) -> None:
        for payload in payloads:
            with self._workspace.settling(self._stream, payload):
                if payload.deleted:
                    self._remover.remove(payload)
                else:
                    self._writer.write(payload, self._stream)

    def _fall_back(self, exc: BulkUnavailable) -> None:
        if self._available:
            self._available = False
            logger.warning(
                "Intercom's Preview bulk companies endpoints are not available to this workspace (%s); "
                "this run continues with the companies API",
                exc,
            )


def _body(item: _Item) -> Dict[str, Any]:
    body: Dict[str, Any] = {"company_id": item.payload.company_id, **item.payload.core}
    if item.custom:
        body["custom_attributes"] = dict(item.custom)
    return body
