"""Deleting companies deleted at the source (`_sdc_deleted_at`).

Intercom has one way to remove a company, `DELETE /companies/{id}`: it
archives the company and detaches its users. So delete_mode archive and
delete both use it (ignore leaves the company alone). It takes Intercom's id:
the run's directory holds it for the companies the run wrote or read, and
`GET /companies?company_id=` finds the others. A company not found, or a 404
on the delete, is already gone.
"""

from __future__ import annotations

import logging
from typing import Iterable, List, Optional

from target_intercom.deletes import ALREADY_GONE, DELETED, IgnoredDeletions
from target_intercom.intercom import Refused
from target_intercom.units.base import Workspace
from target_intercom.units.companies.directory import CompanyDirectory
from target_intercom.units.companies.mapping import CompanyPayload

logger = logging.getLogger(__name__)


class CompanyRemover:
    def __init__(self, workspace: Workspace, directory: CompanyDirectory, stream: str, mode: str) -> None:
        """`mode`: the delete_mode setting (archive, delete or ignore)."""
        self.mode = mode
        self._workspace = workspace
        self._api = workspace.client.companies
        self._directory = directory
        self._stream = stream
        self._ignored = IgnoredDeletions(workspace.stats, stream, mode)

    def without_ignored(self, payloads: Iterable[CompanyPayload]) -> List[CompanyPayload]:
        """The payloads to handle: with delete_mode ignore, deletions are counted and left out."""
        return self._ignored.without_ignored(payloads)

    def remove(self, payload: CompanyPayload) -> None:
        """Delete the company the record names; raises Refused when Intercom refuses."""
        intercom_id = self.intercom_id(payload)
        if intercom_id is not None:
            self.remove_id(payload.company_id, intercom_id)

    def intercom_id(self, payload: CompanyPayload) -> Optional[str]:
        """The company's Intercom id, or None (counted as already gone)."""
        known = self._directory.get(payload.company_id) or self._api.find(payload.company_id)
        if known is None:
            self._workspace.stats.add(self._stream, ALREADY_GONE)
            return None
        return known.id

    def remove_id(self, company_id: str, intercom_id: str) -> None:
        if not self._workspace.dry_run:
            try:
                self._api.delete(intercom_id)
            except Refused as exc:
                if exc.status != 404:
                    raise
                self.removed([company_id], ALREADY_GONE)
                return
        self.removed([company_id], DELETED)

    def removed(self, company_ids: List[str], outcome: str) -> None:
        for company_id in company_ids:
            self._directory.forget(company_id)
        self._workspace.stats.add(self._stream, outcome, len(company_ids))
