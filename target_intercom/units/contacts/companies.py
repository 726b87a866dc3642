"""The companies a user record names, as the retired v1 user model carried them.

A user's `companies` field (or the field `reserved_field_overrides` names for
it) holds a list of companies: objects with `company_id` and any company
fields, or bare company ids; a scalar is one company. `{"company_id": "c1",
"remove": true}` detaches. The user is attached to each company after the
user is written; a company object that carries more than its id is written
first. Attachments the contact object already lists cost nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Dict, Iterable, List, Mapping, Optional, Set

from target_intercom.custom import object_properties
from target_intercom.intercom import IntercomContact, Refused
from target_intercom.rejects import RecordRejected
from target_intercom.units.base import Keys, Payload, Workspace
from target_intercom.units.companies.directory import CompanyDirectory
from target_intercom.units.companies.mapping import CORE_FIELDS, CompanyFields, CompanyPayload, company_identifier, company_key
from target_intercom.units.companies.write import CompanyWriter
from target_intercom.values import ValueRejected

REMOVE = "remove"
# What the summary counts on the users stream.
ATTACHED, DETACHED = "companies attached", "companies detached"
_NESTED_CUSTOM = "custom_attributes"
# A company object on a user names its fields as Intercom does.
_INTERCOM_NAMES = CompanyFields({})


@dataclass(frozen=True)
class CompanyRef:
    """One company a user record names."""

    company_id: str
    remove: bool = False
    # The company's own fields, when the record gives more than its id: written before the attachment.
    company: Optional[CompanyPayload] = None


def company_refs(value: Any, source: str, line: int, schema: Optional[Mapping[str, Any]]) -> List[CompanyRef]:
    """The companies in a user record's companies field; raises RecordRejected on a value of the wrong shape."""
    items = value if isinstance(value, list) else [value]
    properties = object_properties((schema or {}).get("items")) if isinstance(schema, Mapping) else {}
    try:
        return [_ref(item, line, properties) for item in items]
    except ValueRejected as exc:
        raise RecordRejected(
            f"{source}: {exc}; expected company ids or objects with a company_id", code="invalid_value"
        ) from None


def _ref(item: Any, line: int, properties: Mapping[str, Any]) -> CompanyRef:
    if not isinstance(item, dict):
        return CompanyRef(company_identifier(item))
    if item.get("company_id") in (None, ""):
        raise ValueRejected("a company object has no company_id")
    company_id = company_identifier(item["company_id"])
    remove = item.get(REMOVE)
    if remove not in (None, True, False):
        raise ValueRejected(f"'remove' must be true or false (company {company_id})")
    if remove:
        return CompanyRef(company_id, remove=True)
    fields = {k: v for k, v in item.items() if k not in (REMOVE, "company_id")}
    if not fields:
        return CompanyRef(company_id)
    nested = item.get(_NESTED_CUSTOM)
    custom_source = {k: v for k, v in item.items() if k not in (*CORE_FIELDS, REMOVE, _NESTED_CUSTOM)}
    if isinstance(nested, dict):
        custom_source.update(nested)
    try:
        company = _INTERCOM_NAMES.payload(item, line, properties, custom_source)
    except RecordRejected as exc:
        raise ValueRejected(f"company {company_id}: {exc.reason}") from None
    return CompanyRef(company_id, company=company)


@dataclass
class CompanyResolution(Payload):
    """Finding the Intercom id of a company users attach to, before they do: it claims the company's key, so
    its users wait in the scheduler rather than each holding a worker while one of them asks Intercom."""

    company_id: str = ""

    def keys(self) -> Keys:
        return Keys(claims=frozenset([company_key(self.company_id)]))

    def identifiers(self) -> Dict[str, Any]:
        return {"company_id": self.company_id}


def resolutions(payloads: Iterable[Any], directory: CompanyDirectory) -> List[CompanyResolution]:
    """One per company the payloads attach to by id only, whose Intercom id the run does not know yet."""
    named = {
        ref.company_id: None
        for p in payloads
        for ref in p.companies
        if ref.company is None and not ref.remove and directory.get(ref.company_id) is None
    }
    return [CompanyResolution(line=0, record={}, company_id=company_id) for company_id in named]


class Attachments:
    """Writes a user's companies before the user, and attaches or detaches the user after."""

    def __init__(self, workspace: Workspace, writer: CompanyWriter, stream: str, companies_stats: str) -> None:
        self._workspace = workspace
        self._writer = writer
        self._api = workspace.client.companies
        self._stream = stream
        # Where companies the users stream writes are counted: beside the companies stream's, if there is one.
        self._companies_stats = companies_stats

    def before(self, refs: List[CompanyRef]) -> None:
        """Write the companies the record describes; reject it if a company it names failed earlier in the run."""
        for ref in refs:
            if ref.company is not None:
                self._writer.write(ref.company, self._companies_stats)
                continue
            failure = self._workspace.outcomes.failure(company_key(ref.company_id))
            if failure is not None:
                raise RecordRejected(f"company {ref.company_id} was not written: {failure}", "company_not_written")

    def resolve(self, company_id: str) -> None:
        """Learn the company's Intercom id; a failure is left to the users attaching to it, which name it."""
        if self._workspace.outcomes.failure(company_key(company_id)) is not None:
            return  # its record was rejected: its users are, with the reason, and it is not created bare
        try:
            self._writer.resolve(company_id)
        except Refused:
            pass

    def after(self, refs: List[CompanyRef], contact: IntercomContact) -> IntercomContact:
        """Attach the written contact to each company, detach it from each removed one; returns it as it now is."""
        companies = set(contact.companies)
        for ref in refs:
            try:
                if ref.remove:
                    self._detach(contact, ref.company_id, companies)
                else:
                    self._attach(contact, ref.company_id, companies)
            except Refused as exc:
                verb = "detaching it from" if ref.remove else "attaching it to"
                raise RecordRejected(
                    f"the user was written, but {verb} company {ref.company_id} failed: {exc.describe()}", exc.code
                ) from None
        return replace(contact, companies=frozenset(companies))

    def _attach(self, contact: IntercomContact, company_id: str, companies: Set[str]) -> None:
        intercom_id = self._writer.resolve(company_id)
        if intercom_id in companies:
            return
        if not self._workspace.dry_run:
            self._api.attach(contact.id, intercom_id)
        companies.add(intercom_id)
        self._workspace.stats.add(self._stream, ATTACHED)

    def _detach(self, contact: IntercomContact, company_id: str, companies: Set[str]) -> None:
        known = self._writer.directory.get(company_id)
        if known is None:
            known = self._api.find(company_id)
            if known is None:
                return  # no such company: nothing to detach from
            self._writer.directory.remember(known)
        if known.id not in companies and contact.all_companies_listed:
            return
        companies.discard(known.id)
        if not self._workspace.dry_run:
            try:
                self._api.detach(contact.id, known.id)
            except Refused as exc:
                if exc.status != 404:
                    raise
                return  # it was not attached
        self._workspace.stats.add(self._stream, DETACHED)
