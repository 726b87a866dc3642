"""Record → contact payload: which fields are core, which are custom attributes.

Core fields (see `config.CORE_FIELDS`) go to the contact's own fields, under the
source names given by `reserved_field_overrides`. Every other field becomes a
custom attribute (see `custom`).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from typing import AbstractSet, Any, Dict, List, Mapping, Optional, Set, Tuple

from target_intercom.custom import custom_attributes
from target_intercom.deletes import deleted_at_source
from target_intercom.rejects import RecordRejected
from target_intercom.units.base import Keys, Payload
from target_intercom.units.companies.mapping import company_key
from target_intercom.intercom import IntercomContact
from target_intercom.units.contacts.companies import CompanyRef, company_refs
from target_intercom.units.tags import tag_names
from target_intercom.values import ValueRejected, to_boolean, to_integer, to_text, to_unix_seconds

logger = logging.getLogger(__name__)

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")

# Intercom field -> the source fields that may hold it, in order of preference.
_CORE_SOURCES: Tuple[Tuple[str, Tuple[str, ...]], ...] = (
    ("id", ("id",)),
    ("external_id", ("user_id", "external_id")),
    ("email", ("email",)),
    ("name", ("name",)),
    ("phone", ("phone",)),
    ("avatar", ("avatar",)),
    ("signed_up_at", ("signed_up_at",)),
    ("last_seen_at", ("last_seen_at", "last_request_at")),
    ("owner_id", ("owner_id",)),
    ("unsubscribed_from_emails", ("unsubscribed_from_emails",)),
)


# Fields a null source value leaves alone instead of clearing (it is simply not sent):
# - identifiers are never cleared;
# - unsubscribed_from_emails has no "no value" in Intercom (it always renders true or
#   false), and what a null does there is undocumented: it might subscribe an opted-out
#   user again;
# - last_seen_at is Intercom's own (the Messenger moves it) and only moves forward.
_NULL_IS_NO_VALUE = frozenset(("id", "external_id", "email", "unsubscribed_from_emails", "last_seen_at"))


def contact_keys(intercom_id: Optional[str], external_id: Optional[str], email: Optional[str]) -> List[str]:
    """Keys under which writes of one Intercom contact are ordered (emails compared without case)."""
    keys = []
    if intercom_id:
        keys.append("contact/id:" + intercom_id)
    if external_id:
        keys.append("contact/external_id:" + external_id)
    if email:
        keys.append("contact/email:" + email.lower())
    return keys


@dataclass
class ContactPayload(Payload):
    """What one users-stream record asks Intercom to hold."""

    intercom_id: Optional[str]
    external_id: Optional[str]
    email: Optional[str]
    core: Dict[str, Any]
    custom: Dict[str, Any]
    # The Intercom data type each custom attribute would be created with.
    custom_types: Dict[str, Optional[str]]
    # Deleted at the source (`_sdc_deleted_at`): the user is removed, not written; only identifiers are set.
    deleted: bool = False
    # The companies to attach the user to or detach it from.
    companies: List[CompanyRef] = field(default_factory=list)
    # The tag names the record lists; None when it has no tags field (its tags are left alone).
    tags: Optional[Tuple[str, ...]] = None
    # The contact as Intercom holds it once the record is written (set by the writers).
    written: Optional[IntercomContact] = field(default=None, repr=False, compare=False)

    def identity_keys(self) -> List[str]:
        return contact_keys(self.intercom_id, self.external_id, self.email)

    def keys(self) -> Keys:
        """Claims the user and the companies it writes; awaits the companies it only names."""
        written = {company_key(ref.company_id) for ref in self.companies if ref.company is not None}
        named = {company_key(ref.company_id) for ref in self.companies} - written
        return Keys(claims=frozenset(self.identity_keys()) | written, awaits=frozenset(named))

    def identifiers(self) -> Dict[str, Any]:
        named = (("user_id", self.external_id), ("id", self.intercom_id), ("email", self.email))
        return {name: value for name, value in named if value is not None}


class ContactMapper:
    """Maps the records of one stream schema; build a new one when the SCHEMA changes."""

    def __init__(
        self,
        overrides: Mapping[str, Optional[str]],
        schema: Optional[Mapping[str, Any]],
        owner_id_as_text: bool,
        exclude: AbstractSet[str] = frozenset(),
    ) -> None:
        """`exclude`: source fields never sent as custom attributes (see `custom.custom_attributes`)."""
        self._owner_id_as_text = owner_id_as_text
        self._exclude = exclude
        self._properties: Mapping[str, Any] = (schema or {}).get("properties") or {}
        # An override of None says the records have no source for that field.
        self._sources = [
            (target, tuple(source for source in (overrides.get(alias, alias) for alias in aliases) if source))
            for target, aliases in _CORE_SOURCES
        ]
        used = {source for _, sources in self._sources for source in sources}
        self._companies_source = overrides.get("companies", "companies")
        self._tags_source = overrides.get("tags", "tags")
        used.update(source for source in (self._companies_source, self._tags_source) if source)
        # A record field named like a core field whose value an override takes
        # from elsewhere: Intercom cannot hold it as a custom attribute of the
        # same name, so it is left out, with a warning.
        self._shadowed: Set[str] = {
            alias for _, aliases in _CORE_SOURCES for alias in aliases if alias not in used
        }
        self._used = used
        self._warned: Set[str] = set()

    def __call__(self, record: Dict[str, Any], line: int) -> ContactPayload:
        try:
            return self._deletion(record, line) if deleted_at_source(record) else self._payload(record, line)
        except RecordRejected as exc:
            # Records awaiting this user (its events) learn why it was not written.
            exc.claims = exc.claims or frozenset(self._raw_keys(record))
            raise

    def _raw_keys(self, record: Mapping[str, Any]) -> List[str]:
        """The user keys of a record that could not be mapped, from its identifiers as they are."""
        raw: Dict[str, Optional[str]] = {}
        for target, sources in self._sources:
            if target in ("id", "external_id", "email"):
                values = [record.get(s) for s in sources if isinstance(record.get(s), (str, int))]
                raw[target] = next((str(v) for v in values if v != "" and not isinstance(v, bool)), None)
        return contact_keys(raw.get("id"), raw.get("external_id"), raw.get("email"))

    def _deletion(self, record: Dict[str, Any], line: int) -> ContactPayload:
        """A tombstone: only its identifiers are read, so a value that would not map cannot keep it alive."""
        found: Dict[str, Any] = {}
        errors: List[RecordRejected] = []
        for target, sources in self._sources:
            present = [(s, record[s]) for s in sources if record.get(s) not in (None, "")]
            if target in ("id", "external_id", "email") and present:
                try:
                    found[target] = self._convert(target, present, [value for _, value in present])
                except RecordRejected as exc:
                    errors.append(exc)  # a tombstone's stale email must not keep its user_id from deleting
        if errors and not found:
            raise errors[0]
        if not found:
            raise RecordRejected("has none of the identifiers id, user_id, email", code="missing_identifier")
        return ContactPayload(
            line=line,
            record=record,
            intercom_id=found.pop("id", None),
            external_id=found.get("external_id"),
            email=found.get("email"),
            core=found,
            custom={},
            custom_types={},
            deleted=True,
        )

    def _payload(self, record: Dict[str, Any], line: int) -> ContactPayload:
        core = self._core_values(record)
        intercom_id = core.pop("id", None)
        external_id = core.get("external_id")
        email = core.get("email")
        if not (intercom_id or external_id or email):
            raise RecordRejected(
                "has none of the identifiers id, user_id, email", code="missing_identifier"
            )
        for name in self._shadowed & set(record):
            self._warn_shadowed(name)
        custom, custom_types = custom_attributes(
            record, self._properties, self._used | self._shadowed, self._exclude
        )
        return ContactPayload(
            line=line,
            record=record,
            intercom_id=intercom_id,
            external_id=external_id,
            email=email,
            core=core,
            custom=custom,
            custom_types=custom_types,
            companies=self._companies(record, line),
            tags=self._tags(record),
        )

    def _tags(self, record: Mapping[str, Any]) -> Optional[Tuple[str, ...]]:
        source = self._tags_source
        if not source or source not in record:
            return None
        return tag_names(record[source], source)

    def _companies(self, record: Mapping[str, Any], line: int) -> List[CompanyRef]:
        source = self._companies_source
        if not source or record.get(source) is None:
            return []
        return company_refs(record[source], source, line, self._properties.get(source))

    def _core_values(self, record: Mapping[str, Any]) -> Dict[str, Any]:
        core: Dict[str, Any] = {}
        for target, sources in self._sources:
            present = [(source, record[source]) for source in sources if source in record]
            if not present:
                continue
            values = [value for _, value in present if value is not None and value != ""]
            if values:
                core[target] = self._convert(target, present, values)
            elif target not in _NULL_IS_NO_VALUE:
                core[target] = None  # clears the field in Intercom
        return core

    def _convert(self, target: str, present: List[Tuple[str, Any]], values: List[Any]) -> Any:
        try:
            if target == "external_id":
                return _external_id(values)
            return _CONVERTERS[target](self, values[0])
        except ValueRejected as exc:
            raise RecordRejected(f"{present[0][0]}: {exc}", code="invalid_value") from None

    def _owner_id(self, value: Any) -> Any:
        number = to_integer(value)
        return str(number) if self._owner_id_as_text else number

    def _warn_shadowed(self, name: str) -> None:
        if name not in self._warned:
            self._warned.add(name)
            logger.warning(
                "field %r is not sent: reserved_field_overrides takes Intercom's %s from another field",
                name,
                name,
            )


def _email(_: ContactMapper, value: Any) -> str:
    if not isinstance(value, str):
        raise ValueRejected("expected an email address, got a non-string value")
    email = value.strip()
    if not _EMAIL.match(email):
        raise ValueRejected("is not a valid email address")
    return email


def _external_id(values: List[Any]) -> str:
    converted = {_identifier(value) for value in values}
    if len(converted) > 1:
        raise ValueRejected("user_id and external_id hold different values")
    return converted.pop()


def _identifier(value: Any) -> str:
    """Identifiers are text; integers become their decimal text."""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise ValueRejected("expected text or an integer")
    return str(value)


_CONVERTERS = {
    "id": lambda _, value: _identifier(value),
    "email": _email,
    "name": lambda _, value: to_text(value),
    "phone": lambda _, value: to_text(value),
    "avatar": lambda _, value: to_text(value),
    "signed_up_at": lambda _, value: to_unix_seconds(value),
    "last_seen_at": lambda _, value: to_unix_seconds(value),
    "owner_id": ContactMapper._owner_id,
    "unsubscribed_from_emails": lambda _, value: to_boolean(value),
}
