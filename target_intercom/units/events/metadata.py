"""An event's metadata, checked against Intercom's rules before it is sent.

Intercom's rules (API 2.14, `POST /events`; help article 175):

- at most 10 keys are kept, in the order sent: with more, the target keeps
  the first 10 in the SCHEMA's order (fields the SCHEMA does not declare
  come after, in the record's order), or the keys `event_metadata_keys`
  lists, and warns once naming the keys it leaves out;
- values are flat: a nested object is flattened with `__` (`plan__name`),
  except Intercom's two structured kinds, a rich link `{url, value}` and a
  monetary amount `{amount, currency}` (amount in cents, a whole number);
  arrays are sent as their JSON text, as custom attributes are;
- text is at most 255 characters: longer text follows `long_text`;
- a key holding `.`, `$`, NUL or any of ``~`!@#%^&*'{}|\\"`` is refused by
  Intercom: the record is rejected, naming the key;
- dates are Unix seconds: a value whose SCHEMA says date-time or date, and
  ISO 8601 text under a key ending in `_date` (Intercom reads such keys as
  dates), is sent as integer Unix seconds.

A null value says nothing about the event: it is not sent and takes no key.
"""

from __future__ import annotations

import logging
from typing import Any, Dict, Iterator, List, Mapping, Optional, Sequence, Set, Tuple

from target_intercom.config import MAX_EVENT_METADATA_KEYS
from target_intercom.custom import FLATTEN_SEPARATOR, SINGER_METADATA_PREFIX, object_properties, schema_data_type
from target_intercom.long_text import LongText
from target_intercom.rejects import RecordRejected
from target_intercom.values import ValueRejected, json_text, to_float, to_integer, to_text, to_unix_seconds

logger = logging.getLogger(__name__)

FORBIDDEN_KEY_CHARACTERS = frozenset(".$~`!@#%^&*'{}|\\\"\x00")
RICH_LINK = frozenset(("url", "value"))
MONETARY_AMOUNT = frozenset(("amount", "currency"))
_DATE_SUFFIX = "_date"

# (key, value, the value's JSON Schema) before the rules are applied.
Item = Tuple[str, Any, Optional[Mapping[str, Any]]]


class MetadataRules:
    """Applies Intercom's metadata rules; one per events stream (it remembers what it warned about)."""

    def __init__(self, keep: Sequence[str], long_text: LongText) -> None:
        """`keep`: the keys to send, in order (`event_metadata_keys`); empty: the first 10 in SCHEMA order."""
        self._keep = list(keep)
        self._long_text = long_text
        # Called from the reading thread only.
        self._warned_dropped: Set[str] = set()

    def apply(self, items: Sequence[Item]) -> Tuple[Dict[str, Any], bool]:
        """(metadata to send, whether a text was cut); raises RecordRejected when a value or key cannot be sent."""
        flat = dict(_flatten(items))
        kept = self._choose(list(flat))
        metadata: Dict[str, Any] = {}
        cut = False
        for key in kept:
            _check_key(key)
            value, schema = flat[key]
            try:
                metadata[key], was_cut = self._value(key, value, schema)
            except ValueRejected as exc:
                raise RecordRejected(f"metadata '{key}' {exc}", code="invalid_value") from None
            cut = cut or was_cut
        return metadata, cut

    def _choose(self, keys: List[str]) -> List[str]:
        if self._keep:
            present = set(keys)
            return [key for key in self._keep if key in present]
        kept, dropped = keys[:MAX_EVENT_METADATA_KEYS], keys[MAX_EVENT_METADATA_KEYS:]
        new = [key for key in dropped if key not in self._warned_dropped]
        if new:
            self._warned_dropped.update(new)
            logger.warning(
                "events: Intercom keeps at most %d metadata keys; sending %s (the SCHEMA's order) and leaving out "
                "%s; list the keys to keep in event_metadata_keys",
                MAX_EVENT_METADATA_KEYS,
                ", ".join(kept),
                ", ".join(new),
            )
        return kept

    def _value(self, key: str, value: Any, schema: Optional[Mapping[str, Any]]) -> Tuple[Any, bool]:
        """The value as Intercom takes it, and whether a text was cut."""
        if isinstance(value, dict):
            return self._structured(key, value)
        if isinstance(value, list):
            return self._text(key, json_text(value))
        if isinstance(value, str):
            if schema_data_type(schema) == "date":
                return to_unix_seconds(value), False
            if key.endswith(_DATE_SUFFIX):
                try:
                    return to_unix_seconds(value), False
                except ValueRejected:
                    pass  # not a date after all: the text is sent as it is
            return self._text(key, value)
        if isinstance(value, bool):
            return value, False
        if isinstance(value, (int, float)):
            if schema_data_type(schema) == "date":
                return to_unix_seconds(value), False
            return (value if isinstance(value, int) else to_float(value)), False  # NaN and infinities refused
        raise ValueRejected(f"cannot be sent: {type(value).__name__}")

    def _structured(self, key: str, value: Mapping[str, Any]) -> Tuple[Dict[str, Any], bool]:
        if set(value) == MONETARY_AMOUNT:
            try:
                amount = to_integer(value["amount"])
            except ValueRejected as exc:
                raise ValueRejected(f"is a monetary amount: amount must be a whole number of cents ({exc})") from None
            currency, cut = self._text(key, to_text(value["currency"]))
            return {"amount": amount, "currency": currency}, cut
        url, url_cut = self._text(key, to_text(value["url"]))
        text, text_cut = self._text(key, to_text(value["value"]))
        return {"url": url, "value": text}, url_cut or text_cut

    def _text(self, key: str, text: str) -> Tuple[str, bool]:
        fitted = self._long_text.fit(f"event metadata '{key}'", text)
        return fitted, len(fitted) < len(text)


def _flatten(items: Sequence[Item]) -> Iterator[Tuple[str, Tuple[Any, Optional[Mapping[str, Any]]]]]:
    """(key, (value, schema)) in order, nested objects flattened, nulls left out."""
    for key, value, schema in items:
        if value is None:
            continue
        if isinstance(value, dict) and not _structured_kind(value):
            children = object_properties(schema)
            nested = [(key + FLATTEN_SEPARATOR + name, child, children.get(name)) for name, child in value.items()]
            yield from _flatten(nested)
        else:
            yield key, (value, schema)


def _structured_kind(value: Mapping[str, Any]) -> bool:
    """A rich link or a monetary amount: the only objects Intercom takes as metadata values."""
    keys = set(value)
    return (keys == RICH_LINK or keys == MONETARY_AMOUNT) and all(v is not None for v in value.values())


def _check_key(key: str) -> None:
    refused = sorted({ch for ch in key if ch in FORBIDDEN_KEY_CHARACTERS})
    if refused:
        shown = " ".join("NUL" if ch == "\x00" else ch for ch in refused)
        raise RecordRejected(
            f"metadata key '{key}' holds {shown}, which Intercom refuses in metadata keys "
            "(. $ NUL ~ ` ! @ # % ^ & * ' { } | \\ \"); rename the field in the tap, "
            "or leave it out with event_metadata_keys",
            code="invalid_metadata_key",
        )


def ordered_items(
    values: Mapping[str, Any], properties: Mapping[str, Any], skip: Sequence[str] = ()
) -> List[Item]:
    """The fields of `values` outside `skip` in the SCHEMA's order, then the undeclared ones in their own order.

    Singer's own fields (`_sdc_*`) are bookkeeping, not facts about the event: never metadata.
    """
    skipped = set(skip) | {name for name in values if name.startswith(SINGER_METADATA_PREFIX)}
    declared = [name for name in properties if name in values and name not in skipped]
    undeclared = [name for name in values if name not in properties and name not in skipped]
    return [(name, values[name], properties.get(name)) for name in declared + undeclared]
