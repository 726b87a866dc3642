"""Record → contact payload: which fields are core, which are custom attributes.

Core fields (see `config.CORE_FIELDS`) go to the contact's own fields, under the
source names given by `reserved_field_overrides`. Every other field becomes a
custom attribute: nested objects are flattened with `__`, arrays are sent as
JSON text, and each attribute carries the Intercom data type its SCHEMA gives
it (or, when the schema does not type it, its value). Values of custom
attributes are converted later, once the workspace's attribute types are known
(see `attributes`).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from typing import Any, Dict, Iterator, List, Mapping, Optional, Set, Tuple

from target_intercom.rejects import RecordRejected
from target_intercom.values import ValueRejected, json_text, to_boolean, to_integer, to_text, to_unix_seconds

logger = logging.getLogger(__name__)

FLATTEN_SEPARATOR = "__"
# Fields Singer taps and SDKs add about the record itself (_sdc_extracted_at,
# _sdc_filename, ...): bookkeeping, not facts about the user, so never sent.
SINGER_METADATA_PREFIX = "_sdc_"
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


@dataclass
class ContactPayload:
    """What one users-stream record asks Intercom to hold."""

    line: int
    record: Dict[str, Any] = field(repr=False)
    intercom_id: Optional[str]
    external_id: Optional[str]
    email: Optional[str]
    core: Dict[str, Any]
    custom: Dict[str, Any]
    # The Intercom data type each custom attribute would be created with.
    custom_types: Dict[str, Optional[str]]

    def identity_keys(self) -> List[str]:
        """Keys under which two payloads may mean the same Intercom user."""
        keys = []
        if self.intercom_id:
            keys.append("id:" + self.intercom_id)
        if self.external_id:
            keys.append("external_id:" + self.external_id)
        if self.email:
            keys.append("email:" + self.email.lower())
        return keys

    def describe(self) -> str:
        """How the record is named in messages: its line and strongest identifier."""
        if self.external_id:
            return f"line {self.line} (user_id {self.external_id})"
        if self.intercom_id:
            return f"line {self.line} (id {self.intercom_id})"
        return f"line {self.line} (email {self.email})"


class Mapper:
    """Maps the records of one stream schema; build a new one when the SCHEMA changes."""

    def __init__(
        self, overrides: Mapping[str, str], schema: Optional[Mapping[str, Any]], owner_id_as_text: bool
    ) -> None:
        self._owner_id_as_text = owner_id_as_text
        self._properties: Mapping[str, Any] = (schema or {}).get("properties") or {}
        # An override of None says the records have no source for that field.
        self._sources = [
            (target, tuple(source for source in (overrides.get(alias, alias) for alias in aliases) if source))
            for target, aliases in _CORE_SOURCES
        ]
        used = {source for _, sources in self._sources for source in sources}
        # A record field named like a core field whose value an override takes
        # from elsewhere: Intercom cannot hold it as a custom attribute of the
        # same name, so it is left out, with a warning.
        self._shadowed: Set[str] = {
            alias for _, aliases in _CORE_SOURCES for alias in aliases if alias not in used
        }
        self._used = used
        self._warned: Set[str] = set()

    def map(self, record: Dict[str, Any], line: int) -> ContactPayload:
        core = self._core_values(record)
        intercom_id = core.pop("id", None)
        external_id = core.get("external_id")
        email = core.get("email")
        if not (intercom_id or external_id or email):
            raise RecordRejected(
                "has none of the identifiers id, user_id, email", code="missing_identifier"
            )
        custom: Dict[str, Any] = {}
        custom_types: Dict[str, Optional[str]] = {}
        for name, value in record.items():
            if name in self._used or name.startswith(SINGER_METADATA_PREFIX):
                continue
            if name in self._shadowed:
                self._warn_shadowed(name)
                continue
            _flatten(name, value, self._properties.get(name), custom, custom_types)
        return ContactPayload(
            line=line,
            record=record,
            intercom_id=intercom_id,
            external_id=external_id,
            email=email,
            core=core,
            custom=custom,
            custom_types=custom_types,
        )

    def _core_values(self, record: Mapping[str, Any]) -> Dict[str, Any]:
        core: Dict[str, Any] = {}
        for target, sources in self._sources:
            present = [(source, record[source]) for source in sources if source in record]
            if not present:
                continue
            values = [value for _, value in present if value is not None and value != ""]
            if target in ("id", "external_id", "email"):
                # Identifiers are never cleared: a null one is simply not sent.
                if values:
                    core[target] = self._convert(target, present, values)
            else:
                core[target] = self._convert(target, present, values) if values else None
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


def _email(_: Mapper, value: Any) -> str:
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
    "owner_id": Mapper._owner_id,
    "unsubscribed_from_emails": lambda _, value: to_boolean(value),
}


def _flatten(
    name: str,
    value: Any,
    schema: Optional[Mapping[str, Any]],
    values: Dict[str, Any],
    types: Dict[str, Optional[str]],
) -> None:
    if isinstance(value, dict):
        children = _object_properties(schema)
        for key, child in value.items():
            _flatten(name + FLATTEN_SEPARATOR + key, child, children.get(key), values, types)
        return
    if value is None and _object_properties(schema):
        # A null object clears every attribute it would have filled.
        for key, child_schema in _object_properties(schema).items():
            _flatten(name + FLATTEN_SEPARATOR + key, None, child_schema, values, types)
        return
    if isinstance(value, list):
        values[name], types[name] = json_text(value), "string"
        return
    values[name] = value
    types[name] = schema_data_type(schema) or value_data_type(value)


def _object_properties(schema: Optional[Mapping[str, Any]]) -> Mapping[str, Any]:
    for variant in _variants(schema):
        if variant.get("properties"):
            return variant["properties"]
    return {}


def _variants(schema: Optional[Mapping[str, Any]]) -> Iterator[Mapping[str, Any]]:
    if not schema:
        return
    yield schema
    for key in ("anyOf", "oneOf"):
        for variant in schema.get(key) or ():
            if isinstance(variant, dict):
                yield variant


def schema_data_type(schema: Optional[Mapping[str, Any]]) -> Optional[str]:
    """The Intercom data type a JSON Schema gives a field, or None if it does not say."""
    types: Set[str] = set()
    formats: Set[str] = set()
    for variant in _variants(schema):
        declared = variant.get("type")
        types.update([declared] if isinstance(declared, str) else declared or [])
        if variant.get("format"):
            formats.add(variant["format"])
    types.discard("null")
    if types == {"string"}:
        return "date" if formats & {"date-time", "date"} else "string"
    if types == {"integer"}:
        return "integer"
    if types <= {"integer", "number"} and "number" in types:
        return "float"
    if types == {"boolean"}:
        return "boolean"
    if types == {"array"}:
        return "string"
    return None


def value_data_type(value: Any) -> Optional[str]:
    """The Intercom data type of a value whose schema does not type it."""
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "string"
    return None
