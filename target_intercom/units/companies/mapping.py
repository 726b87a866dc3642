"""Record → company payload, for the companies stream and for the companies a user record names.

Core company fields go to the company's own fields, under the source names
`companies_field_overrides` gives them; every other field becomes a company
custom attribute (see `custom`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple

from target_intercom.config import COMPANY_FIELDS
from target_intercom.custom import custom_attributes
from target_intercom.deletes import deleted_at_source
from target_intercom.intercom import IntercomCompany
from target_intercom.rejects import RecordRejected
from target_intercom.units.base import Keys, Payload
from target_intercom.units.tags import tag_names
from target_intercom.values import ValueRejected, to_float, to_integer, to_text, to_unix_seconds

# Intercom stores monthly_spend as a 32-bit integer.
MAX_MONTHLY_SPEND = 2**31 - 1
COMPANY_ID = "company_id"


def company_key(company_id: str) -> str:
    """The key under which writes of one company are ordered (see units.base.Keys)."""
    return "company/company_id:" + company_id


@dataclass
class CompanyPayload(Payload):
    """What one record asks Intercom to hold about a company."""

    company_id: str
    # The core fields the record gives a value (a null is no value: Intercom's company fields are not nullable).
    core: Dict[str, Any]
    custom: Dict[str, Any]
    custom_types: Dict[str, Optional[str]]
    # Deleted at the source (`_sdc_deleted_at`): the company is deleted, not written; only company_id is set.
    deleted: bool = False
    # The tag names the record lists; None when it has no tags field (its tags are left alone).
    tags: Optional[Tuple[str, ...]] = None
    # The company as Intercom holds it once the record is written (set by the unit).
    written: Optional[IntercomCompany] = field(default=None, repr=False, compare=False)

    def keys(self) -> Keys:
        return Keys(claims=frozenset([company_key(self.company_id)]))

    def identifiers(self) -> Dict[str, Any]:
        return {COMPANY_ID: self.company_id}


def company_identifier(value: Any) -> str:
    """company_id is text; integers become their decimal text."""
    if isinstance(value, bool) or not isinstance(value, (str, int)) or value == "":
        raise ValueRejected("expected text or an integer")
    return str(value)


def monthly_spend(value: Any) -> int:
    """Whole units, as Intercom stores them: fractions are dropped (155.98 -> 155), as Intercom drops them."""
    number = to_float(value)
    whole = math.trunc(number)
    if not -MAX_MONTHLY_SPEND - 1 <= whole <= MAX_MONTHLY_SPEND:
        raise ValueRejected(f"{whole} is outside the range Intercom stores (at most {MAX_MONTHLY_SPEND})")
    return whole


_CONVERTERS: Dict[str, Callable[[Any], Any]] = {
    "name": to_text,
    "plan": to_text,
    "size": to_integer,
    "website": to_text,
    "industry": to_text,
    "monthly_spend": monthly_spend,
    "remote_created_at": to_unix_seconds,
}
CORE_FIELDS: Tuple[str, ...] = COMPANY_FIELDS
assert set(CORE_FIELDS) == {COMPANY_ID, *_CONVERTERS}


class CompanyFields:
    """Reads a company's core fields from a record, under the source names the overrides give them."""

    def __init__(self, overrides: Mapping[str, Optional[str]], with_tags: bool = False) -> None:
        """`with_tags`: the records have a field listing the company's tags (`tags`, unless overridden)."""
        # An override of None says the records have no source for that field.
        self.sources: Dict[str, str] = {}
        for name in CORE_FIELDS:
            source = overrides.get(name, name)
            if source:
                self.sources[name] = source
        self.tags_source = overrides.get("tags", "tags") if with_tags else None

    def company_id(self, record: Mapping[str, Any]) -> str:
        source = self.sources.get(COMPANY_ID, COMPANY_ID)
        value = record.get(source)
        if value is None or value == "":
            raise RecordRejected(f"has no {source} (the company's company_id)", code="missing_identifier")
        try:
            return company_identifier(value)
        except ValueRejected as exc:
            raise RecordRejected(f"{source}: {exc}", code="invalid_value") from None

    def core(self, record: Mapping[str, Any]) -> Dict[str, Any]:
        core: Dict[str, Any] = {}
        for name, convert in _CONVERTERS.items():
            source = self.sources.get(name)
            if source is None or record.get(source) in (None, ""):
                continue
            try:
                core[name] = convert(record[source])
            except ValueRejected as exc:
                raise RecordRejected(f"{source}: {exc}", code="invalid_value") from None
        return core

    def payload(
        self, record: Dict[str, Any], line: int, properties: Mapping[str, Any], custom_source: Optional[Mapping[str, Any]] = None
    ) -> CompanyPayload:
        """The company a record describes; its custom attributes come from `custom_source` (default: the record)."""
        company_id = self.company_id(record)
        try:
            core = self.core(record)
        except RecordRejected as exc:
            exc.claims = frozenset([company_key(company_id)])
            raise
        used = set(self.sources.values()) | ({self.tags_source} if self.tags_source else set())
        custom, custom_types = custom_attributes(record if custom_source is None else custom_source, properties, used)
        tags = None
        if self.tags_source and self.tags_source in record:
            try:
                tags = tag_names(record[self.tags_source], self.tags_source)
            except RecordRejected as exc:
                exc.claims = frozenset([company_key(company_id)])
                raise
        return CompanyPayload(
            line=line,
            record=record,
            company_id=company_id,
            core=core,
            custom=custom,
            custom_types=custom_types,
            tags=tags,
        )


class CompanyMapper:
    """Maps the companies stream's records of one SCHEMA."""

    def __init__(self, fields: CompanyFields, schema: Optional[Mapping[str, Any]]) -> None:
        self._fields = fields
        self._properties: Mapping[str, Any] = (schema or {}).get("properties") or {}

    def __call__(self, record: Dict[str, Any], line: int) -> CompanyPayload:
        if deleted_at_source(record):
            # A tombstone: only its company_id is read, so a value that would not map cannot keep it alive.
            company_id = self._fields.company_id(record)
            return CompanyPayload(line, record, company_id, core={}, custom={}, custom_types={}, deleted=True)
        return self._fields.payload(record, line, self._properties)


def identifier_sources(fields: CompanyFields) -> List[Tuple[str, str]]:
    return [(COMPANY_ID, fields.sources.get(COMPANY_ID, COMPANY_ID))]
