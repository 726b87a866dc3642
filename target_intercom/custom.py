"""Custom attributes from a record: every field that is not a core field of its object.

Nested objects are flattened with `__`, arrays are sent as JSON text, and each
attribute carries the Intercom data type its SCHEMA gives it (or, when the
schema does not type it, its value). Values are converted later, once the
workspace's attribute types are known (see `catalog`). Shared by every object
that has custom attributes (contacts, companies).
"""

from __future__ import annotations

from typing import AbstractSet, Any, Dict, Iterator, Mapping, Optional, Set, Tuple

from target_intercom.values import json_text

FLATTEN_SEPARATOR = "__"
# Fields Singer taps and SDKs add about the record itself (_sdc_extracted_at,
# _sdc_filename, ...): bookkeeping, not facts about the object, so never sent.
SINGER_METADATA_PREFIX = "_sdc_"

CustomValues = Tuple[Dict[str, Any], Dict[str, Optional[str]]]


def custom_attributes(
    record: Mapping[str, Any],
    properties: Mapping[str, Any],
    skip: Set[str],
    exclude: AbstractSet[str] = frozenset(),
) -> CustomValues:
    """(values, data types) of the record's fields outside `skip`, flattened.

    `exclude` names fields kept out of Intercom: a flattened name (`a__b`)
    leaves out that attribute, a field's own name (`a`) every `a__*` too.
    """
    values: Dict[str, Any] = {}
    types: Dict[str, Optional[str]] = {}
    for name, value in record.items():
        if name in skip or name.startswith(SINGER_METADATA_PREFIX):
            continue
        _flatten(name, value, properties.get(name), values, types, exclude)
    return values, types


def _flatten(
    name: str,
    value: Any,
    schema: Optional[Mapping[str, Any]],
    values: Dict[str, Any],
    types: Dict[str, Optional[str]],
    exclude: AbstractSet[str],
) -> None:
    if exclude and _excluded(name, exclude):
        return
    if isinstance(value, dict):
        children = object_properties(schema)
        for key, child in value.items():
            _flatten(name + FLATTEN_SEPARATOR + key, child, children.get(key), values, types, exclude)
        return
    if value is None and object_properties(schema):
        # A null object clears every attribute it would have filled.
        for key, child_schema in object_properties(schema).items():
            _flatten(name + FLATTEN_SEPARATOR + key, None, child_schema, values, types, exclude)
        return
    if isinstance(value, list):
        values[name], types[name] = json_text(value), "string"
        return
    values[name] = value
    types[name] = schema_data_type(schema) or value_data_type(value)


def _excluded(name: str, exclude: AbstractSet[str]) -> bool:
    # Nested values are excluded as their parent is, before they are visited; a
    # top-level field may also be named a__b literally.
    return name in exclude or any(name.startswith(prefix + FLATTEN_SEPARATOR) for prefix in exclude)


def object_properties(schema: Optional[Mapping[str, Any]]) -> Mapping[str, Any]:
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
