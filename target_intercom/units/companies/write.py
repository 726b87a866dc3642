"""Writing companies: Intercom's upsert by company_id, skipped when the company already holds the values."""

from __future__ import annotations

import itertools
import logging
import threading
from typing import Any, Dict, Mapping

from target_intercom.intercom import IntercomCompany, Refused
from target_intercom.rejects import RecordRejected
from target_intercom.units.base import Workspace
from target_intercom.units.companies.directory import CompanyDirectory
from target_intercom.units.companies.mapping import CompanyPayload

logger = logging.getLogger(__name__)

# Intercom's upsert sometimes loses a race with itself ("Company already exists",
# or a 404 for the company it is creating); the same request again succeeds.
_RACE_CODES = ("unique_company_constraint", "company_not_found")


class CompanyWriter:
    """Writes companies for any stream: the companies stream, or a user record that describes its company."""

    def __init__(self, workspace: Workspace, directory: CompanyDirectory) -> None:
        self._workspace = workspace
        self._api = workspace.client.companies
        self._catalog = workspace.catalog("company")
        self.directory = directory
        self._dry_run_ids = itertools.count(1)
        # Users of one company are written concurrently: one resolve per company at a time (striped locks).
        self._resolving = [threading.Lock() for _ in range(64)]

    def write(self, payload: CompanyPayload, stream: str) -> IntercomCompany:
        """Create or update the company (counted on `stream`); raises RecordRejected or Refused when it cannot."""
        custom = self._catalog.custom_attributes(payload, stream)
        known = self.directory.get(payload.company_id)
        if known is None and self._workspace.dry_run:
            # A plan should tell an update from a create; reads cost nothing a dry run cares about.
            known = self._api.find(payload.company_id)
        if known is not None and holds(known, payload.core, custom):
            self._workspace.stats.add(stream, "unchanged")
            payload.written = known
            return known
        body: Dict[str, Any] = {"company_id": payload.company_id, **payload.core}
        if custom:
            body["custom_attributes"] = dict(custom)
        company = self._upsert(body, payload)
        self.directory.remember(company)
        created = known is None and company.created_at == company.updated_at
        self._workspace.stats.add(stream, "created" if created else "updated")
        payload.written = company
        return company

    def holds_values(self, payload: CompanyPayload, company: IntercomCompany) -> bool:
        """Whether the company holds the record's values (counting nothing: a look, not a write)."""
        try:
            custom = self._catalog.custom_attributes(payload, None)
        except RecordRejected:
            return False
        return holds(company, payload.core, custom)

    def resolve(self, company_id: str) -> str:
        """The company's Intercom id: known, or from an upsert that names only the company_id (which changes nothing)."""
        known = self.directory.get(company_id)
        if known is not None:
            return known.id
        with self._resolving[hash(company_id) % len(self._resolving)]:
            known = self.directory.get(company_id)  # resolved while this thread waited?
            if known is None:
                known = self._upsert({"company_id": company_id}, None)
                self.directory.remember(known)
        return known.id

    def _upsert(self, body: Mapping[str, Any], payload: Any) -> IntercomCompany:
        if self._workspace.dry_run:
            return _planned(f"dry-run-company-{next(self._dry_run_ids)}", body)
        try:
            return self._api.upsert(body)
        except Refused as exc:
            if exc.code not in _RACE_CODES:
                raise
            logger.info("company %s: Intercom answered %s; sending it again", body["company_id"], exc.code)
            return self._api.upsert(body)


def holds(company: IntercomCompany, core: Mapping[str, Any], custom: Mapping[str, Any]) -> bool:
    """Whether the company already holds every value the record would write."""
    return all(_same(company.core.get(k), v) for k, v in core.items()) and all(
        _same(company.custom.get(k), v) for k, v in custom.items()
    )


def _same(held: Any, sent: Any) -> bool:
    if isinstance(held, bool) or isinstance(sent, bool):
        return held is sent
    return held == sent


def _planned(company_id: str, body: Mapping[str, Any]) -> IntercomCompany:
    core = {k: v for k, v in body.items() if k not in ("company_id", "custom_attributes")}
    return IntercomCompany(
        id=company_id, company_id=body["company_id"], core=core, custom=dict(body.get("custom_attributes") or {})
    )
