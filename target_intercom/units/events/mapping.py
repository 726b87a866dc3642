"""Record → event payload: the event's name, time and user, and its metadata (see `metadata`).

Each field is read from the source field `events_field_overrides` names for
it (by default its own name). The metadata is the object field `metadata`
when the SCHEMA declares it or the record holds it, and otherwise every other
field of the record.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, Optional, Tuple

from target_intercom.config import EVENT_FIELDS
from target_intercom.custom import object_properties
from target_intercom.rejects import RecordRejected
from target_intercom.units.base import Keys, Payload
from target_intercom.units.contacts.mapping import contact_keys
from target_intercom.units.events.metadata import Item, MetadataRules, ordered_items
from target_intercom.values import ValueRejected, to_unix_seconds

METADATA = "metadata"
# The fields that may name an event's user.
_USER_FIELDS = ("user_id", "email", "id")


@dataclass
class EventPayload(Payload):
    """What one record asks Intercom to hold: one data event of one user."""

    event_name: str
    created_at: int
    intercom_id: Optional[str]
    user_id: Optional[str]
    email: Optional[str]
    metadata: Dict[str, Any]
    # Whether a metadata text was cut to 255 characters (counted as "truncated" once sent).
    truncated: bool = False

    def user(self) -> Tuple[str, str]:
        """The field that names the user in the request, and its value.

        Intercom's id first: it is the only one that finds a lead. Then the
        user_id, which Intercom holds unique, then the email.
        """
        for field, value in (("id", self.intercom_id), ("user_id", self.user_id), ("email", self.email)):
            if value:
                return field, value
        raise AssertionError("an event payload always names its user")  # the mapper rejects it otherwise

    def keys(self) -> Keys:
        """An event writes nothing another record reads; it awaits its user's write, by every key it names."""
        return Keys(awaits=frozenset(contact_keys(self.intercom_id, self.user_id, self.email)))

    def identifiers(self) -> Dict[str, Any]:
        named = (
            ("user_id", self.user_id),
            ("email", self.email),
            ("id", self.intercom_id),
            ("event_name", self.event_name),
            ("created_at", self.created_at),
        )
        return {name: value for name, value in named if value is not None}

    def occurrence(self) -> Tuple[str, str, str, int]:
        """What Intercom de-duplicates on: the user, the name and the time (emails compared without case)."""
        field, value = self.user()
        return field, value.lower() if field == "email" else value, self.event_name, self.created_at

    def body(self) -> Dict[str, Any]:
        field, value = self.user()
        body: Dict[str, Any] = {"event_name": self.event_name, "created_at": self.created_at, field: value}
        if self.metadata:
            body[METADATA] = self.metadata
        return body


class EventFields:
    """The source field of each event field, under `events_field_overrides`."""

    def __init__(self, overrides: Mapping[str, Optional[str]]) -> None:
        # An override of None says the records have no source for that field.
        self.sources: Dict[str, str] = {}
        for name in EVENT_FIELDS:
            source = overrides.get(name, name)
            if source:
                self.sources[name] = source

    def identifier_sources(self) -> List[Tuple[str, str]]:
        named = [("user_id", "user_id"), ("email", "email"), ("id", "id"), ("event_name", "event_name")]
        return [(name, self.sources[field]) for name, field in named if field in self.sources]


class EventMapper:
    """Maps the events stream's records of one SCHEMA."""

    def __init__(self, fields: EventFields, schema: Optional[Mapping[str, Any]], rules: MetadataRules) -> None:
        self._fields = fields
        self._rules = rules
        self._properties: Mapping[str, Any] = (schema or {}).get("properties") or {}
        self._own_fields = [source for name, source in fields.sources.items() if name != METADATA]

    def __call__(self, record: Dict[str, Any], line: int) -> EventPayload:
        users = {name: self._text(record, name) for name in _USER_FIELDS}
        if not any(users.values()):
            sources = ", ".join(self._fields.sources[name] for name in _USER_FIELDS if name in self._fields.sources)
            raise RecordRejected(
                f"has none of {sources or 'user_id, email, id'} (the event's user)", code="missing_identifier"
            )
        name = self._text(record, "event_name")
        if not name or not name.strip():
            raise RecordRejected(f"has no {self._source('event_name')} (the event's name)", code="missing_field")
        created_at = self._created_at(record)
        metadata, truncated = self._rules.apply(self._metadata(record))
        return EventPayload(
            line=line,
            record=record,
            event_name=name,
            created_at=created_at,
            intercom_id=users["id"],
            user_id=users["user_id"],
            email=users["email"],
            metadata=metadata,
            truncated=truncated,
        )

    def _source(self, name: str) -> str:
        return self._fields.sources.get(name, name)

    def _text(self, record: Mapping[str, Any], name: str) -> Optional[str]:
        """A text field (integers become their decimal text); None when absent, null or empty."""
        source = self._fields.sources.get(name)
        if source is None or record.get(source) in (None, ""):
            return None
        value = record[source]
        if isinstance(value, bool) or not isinstance(value, (str, int)):
            raise RecordRejected(f"{source}: expected text, got {kind_of(value)}", code="invalid_value")
        return str(value)

    def _created_at(self, record: Mapping[str, Any]) -> int:
        source = self._fields.sources.get("created_at")
        if source is None or record.get(source) in (None, ""):
            raise RecordRejected(f"has no {self._source('created_at')} (when the event happened)", code="missing_field")
        try:
            return to_unix_seconds(record[source])
        except ValueRejected as exc:
            raise RecordRejected(f"{source}: {exc}", code="invalid_value") from None

    def _metadata(self, record: Mapping[str, Any]) -> List[Item]:
        source = self._fields.sources.get(METADATA)
        if source is not None and (source in self._properties or source in record):
            value = record.get(source)
            if value is None:
                return []
            if not isinstance(value, dict):
                raise RecordRejected(
                    f"{source}: expected an object (the event's metadata), got {kind_of(value)}",
                    code="invalid_value",
                )
            return ordered_items(value, object_properties(self._properties.get(source)))
        return ordered_items(record, self._properties, skip=self._own_fields)


def kind_of(value: Any) -> str:
    """How a message names the kind of a value that is not what was expected."""
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, float):
        return "a number"
    return type(value).__name__
