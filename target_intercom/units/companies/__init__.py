"""Companies: the companies stream's records become Intercom companies, created or updated by company_id.

`POST /companies` is Intercom's one true upsert, so a company costs one call,
and none when the run knows it already holds the record's values (see
`directory`). Records for one company_id are written in input order.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from target_intercom.intercom import IntercomCompany

from target_intercom.units.base import Group, Keys, Mapper, Payload, Workspace
from target_intercom.units.companies.bulk import CompanyBulkWriter
from target_intercom.units.companies.directory import CompanyDirectory
from target_intercom.units.companies.mapping import CompanyFields, CompanyMapper, CompanyPayload, identifier_sources
from target_intercom.units.companies.remove import CompanyRemover
from target_intercom.units.companies.write import CompanyWriter
from target_intercom.units.tags import Entity, Tagger

OUTCOMES = ("created", "updated", "unchanged", "rejected")


class CompaniesUnit:
    noun = "companies"
    outcomes: Sequence[str] = OUTCOMES

    def __init__(
        self,
        workspace: Workspace,
        writer: CompanyWriter,
        *,
        stream: str,
        fields: CompanyFields,
        tagger: Tagger,
        bulk_job_timeout: Optional[float] = None,
        delete_mode: str = "archive",
    ) -> None:
        """`bulk_job_timeout` None writes through the stable API; a number, through bulk jobs.

        `delete_mode` says what becomes of a company deleted at the source (see `remove`)."""
        self.stream = stream
        self._workspace = workspace
        self._writer = writer
        self._fields = fields
        self._tagger = tagger
        self._remover = CompanyRemover(workspace, writer.directory, stream, delete_mode)
        self._bulk = (
            None
            if bulk_job_timeout is None
            else CompanyBulkWriter(workspace, writer, stream, bulk_job_timeout, remover=self._remover)
        )
        self.writes_whole_batches = self._bulk is not None

    def mapper(self, schema: Optional[Mapping[str, Any]]) -> Mapper:
        return CompanyMapper(self._fields, schema)

    def identifier_sources(self) -> List[Tuple[str, str]]:
        return identifier_sources(self._fields)

    def prepare(self, payloads: Sequence[Payload]) -> "CompanyBatch":
        companies = self._remover.without_ignored(p for p in payloads if isinstance(p, CompanyPayload))
        directory: CompanyDirectory = self._writer.directory
        self._workspace.catalog("company").prepare(companies)
        unknown = {p.company_id: p for p in companies if directory.get(p.company_id) is None}
        directory.consider_reading(list(unknown.values()), lambda p: p.company_id, self._unchanged)
        return CompanyBatch(self, companies)

    def _unchanged(self, payload: CompanyPayload, company: IntercomCompany) -> bool:
        # A deletion is never unchanged: reading the workspace saves it a look-up, not its call.
        return not payload.deleted and self._writer.holds_values(payload, company)

    def write(self, payloads: Sequence[CompanyPayload]) -> None:
        if self._bulk is not None:
            self._bulk.write_batch(payloads)
            return
        for payload in payloads:
            with self._workspace.settling(self.stream, payload):
                if payload.deleted:
                    self._remover.remove(payload)
                else:
                    self._writer.write(payload, self.stream)

    def tag(self, payloads: Sequence[CompanyPayload]) -> None:
        """Give the batch's written companies the tags their records list (see `units.tags`)."""
        latest: Dict[str, Tuple[CompanyPayload, IntercomCompany]] = {}
        for payload in payloads:
            if payload.tags is not None and payload.written is not None:
                latest[payload.written.id] = (payload, payload.written)  # the later record of a company wins
        carried = self._tagger.apply([Entity(c.id, p, p.tags or (), c.tags) for p, c in latest.values()])
        for _, company in latest.values():
            if carried[company.id] != company.tags and self._writer.directory.get(company.company_id) is not None:
                self._writer.directory.remember(replace(company, tags=carried[company.id]))

    def close(self) -> None:
        if self._bulk is not None:
            self._bulk.close()


class CompanyBatch:
    """A batch of the companies stream, looked up: one group per company_id, in input order."""

    def __init__(self, unit: CompaniesUnit, payloads: List[CompanyPayload]) -> None:
        self._unit = unit
        self._payloads = payloads

    def groups(self) -> List[Group]:
        by_company: Dict[str, List[CompanyPayload]] = {}
        for payload in self._payloads:
            by_company.setdefault(payload.company_id, []).append(payload)
        groups = [Group(members[0].keys(), members) for members in by_company.values()]
        tagged = [p for p in self._payloads if p.tags is not None]
        if tagged:
            # Tags are added per tag across the batch, once its companies are written.
            awaits = frozenset(key for p in tagged for key in p.keys().claims)
            groups.append(Group(Keys(awaits=awaits), tagged, after_writes=True))
        return groups

    def write(self, group: Group) -> None:
        companies = [p for p in group.payloads if isinstance(p, CompanyPayload)]
        if group.after_writes:
            self._unit.tag(companies)
        else:
            self._unit.write(companies)
