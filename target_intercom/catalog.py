"""The workspace's data attributes of one model (contact, company), created on demand.

Intercom rejects a write that names a custom attribute it does not have, so
every custom attribute a batch needs is created (typed from the stream's
SCHEMA) before the batch's first write. Values are then converted to the type
of the attribute as it exists in the workspace; a value that cannot be
converted rejects its record with a message naming the attribute.

Text longer than Intercom's 255 characters is cut to 255 (`long_text:
truncate`, with one warning per attribute and a count per stream) or rejects
its record (`long_text: reject`); see `long_text`.

A workspace holds at most 250 custom attributes for its contacts (Intercom's
help, article 179: "There's a limit of 250 CDAs per workspace, but you can
archive unused attributes to free up space"), so archived attributes do not
count. Before creating any, the catalog counts those in use; a batch that
would pass the limit stops the run before it writes anything. No limit is
documented for companies. Standard attributes (`custom: false` in the
listing: city, country, browser, os, ...) are never sent as custom
attributes, whatever the case of the field's name.
"""

from __future__ import annotations

import logging
import threading
from typing import Any, Dict, Iterable, List, Optional, Protocol, Set, Tuple

from target_intercom.errors import TargetError
from target_intercom.intercom import DataAttribute, IntercomClient, Refused
from target_intercom.long_text import LongText
from target_intercom.metrics import TRUNCATED, RunStats
from target_intercom.rejects import RecordRejected
from target_intercom.values import (
    MAX_STRING_ATTRIBUTE_LENGTH,
    ValueRejected,
    to_boolean,
    to_float,
    to_integer,
    to_string_attribute,
    to_text,
    to_unix_seconds,
)

logger = logging.getLogger(__name__)

_CONVERTERS = {
    "string": to_string_attribute,
    "integer": to_integer,
    "float": to_float,
    "boolean": to_boolean,
    "date": to_unix_seconds,
    "datetime": to_unix_seconds,
}


# Custom attributes a workspace may hold per model, archived ones not counted.
ATTRIBUTE_LIMITS = {"contact": 250}
# How many names of the attributes a run would create its error names.
_NAMES_SHOWN = 20


class WritesCustomAttributes(Protocol):
    """A payload with custom attributes: their values and the data type each would be created with."""

    custom: Dict[str, Any]
    custom_types: Dict[str, Optional[str]]


class AttributeCatalog:
    def __init__(
        self,
        client: IntercomClient,
        model: str,
        stats: RunStats,
        dry_run: bool = False,
        long_text: str = "truncate",
    ) -> None:
        self._client = client
        self.model = model
        self._stats = stats
        self._dry_run = dry_run
        self._long_text = LongText(long_text)
        self._truncate = self._long_text.truncates
        # Truncated text is cut after conversion; only `reject` refuses it while converting.
        self._converters = {**_CONVERTERS, "string": to_text} if self._truncate else _CONVERTERS
        self._lock = threading.Lock()
        self._attributes: Optional[Dict[str, DataAttribute]] = None
        # Standard attributes by lower-case name: Intercom compares names without case.
        self._standard: Dict[str, DataAttribute] = {}
        self.limit = ATTRIBUTE_LIMITS.get(model)
        # Custom attributes in use when the run first listed them.
        self.used_before_run: Optional[int] = None
        self._refused: Dict[str, str] = {}
        self._warned: Set[str] = set()
        self.created: List[Tuple[str, str]] = []

    def prepare(self, payloads: Iterable[WritesCustomAttributes]) -> None:
        """Create the custom attributes these payloads write that the workspace lacks."""
        with self._lock:
            wanted: Dict[str, Set[str]] = {}
            for payload in payloads:
                for name, value in payload.custom.items():
                    if value is None or self._lookup(name) is not None or name in self._refused:
                        continue
                    data_type = payload.custom_types.get(name)
                    # A value the new attribute could not hold rejects its record
                    # later; it must not leave an attribute behind on its own.
                    if data_type and self._converts(value, data_type):
                        wanted.setdefault(name, set()).add(data_type)
            self._check_limit(sorted(wanted))
            for name in sorted(wanted):
                self._create(name, _pick_type(wanted[name]))

    def _check_limit(self, names: List[str]) -> None:
        used = self._used()
        if not names or self.limit is None or used + len(names) <= self.limit or self._dry_run:
            return  # a dry run shows it in its plan instead
        shown = ", ".join(names[:_NAMES_SHOWN])
        if len(names) > _NAMES_SHOWN:
            shown += f", ... ({len(names) - _NAMES_SHOWN} more)"
        raise TargetError(
            f"creating {len(names)} {self.label} ({shown}) would pass Intercom's limit of {self.limit} "
            f"({used} used); exclude columns with custom_attributes_exclude or archive unused attributes"
        )

    @property
    def label(self) -> str:
        return "custom attributes" if self.model == "contact" else f"{self.model} custom attributes"

    def _used(self) -> int:
        return sum(1 for a in self._known().values() if a.custom and not a.archived)

    def _lookup(self, name: str) -> Optional[DataAttribute]:
        return self._known().get(name) or self._standard.get(name.lower())

    def custom_attributes(self, payload: WritesCustomAttributes, stream: Optional[str]) -> Dict[str, Any]:
        """The payload's custom attributes, converted to the workspace's types (`stream`, if any, counts truncations)."""
        converted: Dict[str, Any] = {}
        truncated = False
        for name, value in payload.custom.items():
            attribute = self._lookup(name)
            if attribute is None:
                if name in self._refused:
                    raise RecordRejected(self._refused[name], code="attribute_not_created")
                if value is None:
                    continue  # nothing to clear in an attribute that does not exist
                # Not created because this value could not go in it: say why.
                self._convert(name, payload.custom_types.get(name) or "string", value)
                raise RecordRejected(f"custom attribute '{name}' does not exist in Intercom", code="attribute_missing")
            if not attribute.custom:
                self._warn_standard(name)
                continue
            if attribute.archived or not attribute.api_writable:
                state = "archived" if attribute.archived else "not writable through the API"
                raise RecordRejected(f"custom attribute '{name}' is {state} in Intercom", code="attribute_unwritable")
            if value is None:
                converted[name] = None
                continue
            converted[name] = self._convert(name, attribute.data_type, value)
            if attribute.data_type == "string" and len(converted[name]) > MAX_STRING_ATTRIBUTE_LENGTH:
                converted[name] = self._cut(name, converted[name])
                truncated = True
        if truncated and stream is not None:
            self._stats.add(stream, TRUNCATED)
        return converted

    def _cut(self, name: str, text: str) -> str:
        return self._long_text.fit(f"custom attribute {name!r}", text)

    def _converts(self, value: Any, data_type: str) -> bool:
        try:
            self._converters.get(data_type, self._converters["string"])(value)
        except ValueRejected:
            return False
        return True

    def _convert(self, name: str, data_type: str, value: Any) -> Any:
        try:
            return self._converters.get(data_type, self._converters["string"])(value)
        except ValueRejected as exc:
            raise RecordRejected(f"custom attribute '{name}' ({data_type}) {exc}", code="invalid_value") from None

    def _known(self) -> Dict[str, DataAttribute]:
        if self._attributes is None:
            self._attributes = self._load()
            self._standard = {a.name.lower(): a for a in self._attributes.values() if not a.custom}
            self.used_before_run = self._used()
        return self._attributes

    def _load(self) -> Dict[str, DataAttribute]:
        return {attribute.name: attribute for attribute in self._client.data_attributes.list(self.model)}

    def _create(self, name: str, data_type: str) -> None:
        assert self._attributes is not None
        if self._dry_run:
            self._attributes[name] = DataAttribute(name, data_type, True, True, False)
            self.created.append((name, data_type))
            return
        try:
            created = self._client.data_attributes.create(name, self.model, data_type)
        except Refused as exc:
            # Another process may have created it since we listed the attributes.
            self._attributes = self._load()
            if name in self._attributes:
                return
            self._refused[name] = f"Intercom refused to create custom attribute '{name}': {exc.message}"
            logger.error("%s", self._refused[name])
            return
        self._attributes[created.name] = created
        self.created.append((name, created.data_type))
        logger.info("created %s custom attribute %r (%s)", self.model, name, created.data_type)

    def _warn_standard(self, name: str) -> None:
        with self._lock:
            first = name not in self._warned
            self._warned.add(name)
        if first:
            logger.warning(
                "field %r is not sent: it is a standard Intercom attribute the API cannot write "
                "(rename it in the tap, or map it with reserved_field_overrides)",
                name,
            )


def _pick_type(types: Set[str]) -> str:
    if len(types) == 1:
        return next(iter(types))
    if types <= {"integer", "float"}:
        return "float"
    return "string"
