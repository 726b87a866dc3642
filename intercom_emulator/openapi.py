"""Checking JSON against Intercom's OpenAPI 3.0 description with jsonschema's Draft 4 validator.

The description's schemas are converted once per spec: ``$ref``s to components become Draft 4
``definitions`` references (so recursive schemas work), ``nullable: true`` becomes a ``null`` type, and
OpenAPI-only keywords are dropped. PyYAML is imported only when a spec is loaded.

    spec = load_spec(path_to_yaml)
    schema = response_schema(spec, "post", "/contacts", 200)
    problems = validate(body, schema)        # [] when valid
"""
from __future__ import annotations

import os
import re
from typing import Any, Dict, List, Optional, Tuple

__all__ = ["load_spec", "component_schema", "request_schema", "response_schema", "find_operation", "validate",
           "to_json_schema"]

_SPECS: Dict[str, Dict[str, Any]] = {}
_DEFINITIONS: Dict[int, Tuple[Dict[str, Any], Dict[str, Any]]] = {}
_OPENAPI_ONLY = frozenset(["nullable", "example", "examples", "discriminator", "readOnly", "writeOnly", "xml",
                           "externalDocs", "deprecated"])
_SCHEMA_REF = "#/components/schemas/"
_METHODS = ("get", "put", "post", "delete", "patch", "head", "options")


def load_spec(path: "os.PathLike[str] | str") -> Dict[str, Any]:
    """Parse an OpenAPI YAML (or JSON) file; cached per path."""
    key = os.path.abspath(os.fspath(path))
    if key not in _SPECS:
        import yaml  # only the checks need PyYAML, never the emulator itself

        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        with open(key, "rb") as fh:
            _SPECS[key] = yaml.load(fh, Loader=loader)
    return _SPECS[key]


def to_json_schema(node: Any) -> Any:
    """One OpenAPI schema object converted to Draft 4 (references point into ``#/definitions``)."""
    if isinstance(node, list):
        return [to_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        ref = node["$ref"]
        if not ref.startswith(_SCHEMA_REF):
            raise ValueError("unsupported $ref %s" % ref)
        return {"$ref": "#/definitions/" + ref[len(_SCHEMA_REF):]}
    out: Dict[str, Any] = {}
    for key, value in node.items():
        if key in _OPENAPI_ONLY or key.startswith("x-"):
            continue
        if key in ("properties", "patternProperties"):
            out[key] = {name: to_json_schema(sub) for name, sub in value.items()}
        elif key in ("items", "additionalProperties", "not", "allOf", "anyOf", "oneOf"):
            out[key] = to_json_schema(value)
        else:
            out[key] = value
    if node.get("nullable") is True:
        kind = out.get("type")
        if isinstance(kind, str):
            out["type"] = [kind, "null"]
            if "enum" in out and None not in out["enum"]:
                out["enum"] = list(out["enum"]) + [None]
        elif kind is None:
            out = {"anyOf": [out, {"type": "null"}]}
    return out


def _definitions(spec: Dict[str, Any]) -> Dict[str, Any]:
    cached = _DEFINITIONS.get(id(spec))
    if cached is None or cached[0] is not spec:
        schemas = spec.get("components", {}).get("schemas", {})
        cached = (spec, {name: to_json_schema(s) for name, s in schemas.items()})
        _DEFINITIONS[id(spec)] = cached
    return cached[1]


def _standalone(spec: Dict[str, Any], schema: Dict[str, Any]) -> Dict[str, Any]:
    # allOf keeps the root's own keywords from being ignored next to a $ref (Draft 4 ignores $ref siblings).
    return {"definitions": _definitions(spec), "allOf": [to_json_schema(schema)]}


def component_schema(spec: Dict[str, Any], name: str) -> Dict[str, Any]:
    """A ready-to-validate schema for ``#/components/schemas/<name>``."""
    if name not in spec.get("components", {}).get("schemas", {}):
        raise KeyError("no component schema %r" % name)
    return _standalone(spec, {"$ref": _SCHEMA_REF + name})


def _resolve(spec: Dict[str, Any], node: Any) -> Any:
    while isinstance(node, dict) and "$ref" in node:
        target: Any = spec
        for part in node["$ref"].lstrip("#/").split("/"):
            target = target[part.replace("~1", "/").replace("~0", "~")]
        node = target
    return node


def _operation(spec: Dict[str, Any], method: str, path_template: str) -> Dict[str, Any]:
    try:
        return spec["paths"][path_template][method.lower()]
    except KeyError:
        raise KeyError("the spec has no operation %s %s" % (method.upper(), path_template)) from None


def _json_media(content: Dict[str, Any]) -> Optional[Dict[str, Any]]:
    for media_type, media in content.items():
        if media_type.split(";")[0].strip() in ("application/json", "*/*"):
            return media
    return None


def request_schema(spec: Dict[str, Any], method: str, path_template: str) -> Optional[Dict[str, Any]]:
    """Schema of the JSON request body of an operation, or None when it takes none."""
    body = _resolve(spec, _operation(spec, method, path_template).get("requestBody"))
    media = _json_media(body.get("content", {})) if isinstance(body, dict) else None
    if media is None or "schema" not in media:
        return None
    return _standalone(spec, media["schema"])


def response_schema(spec: Dict[str, Any], method: str, path_template: str, status: int) -> Optional[Dict[str, Any]]:
    """Schema of a documented JSON response (``default`` when the status is not listed), or None."""
    responses = _operation(spec, method, path_template).get("responses", {})
    response = _resolve(spec, responses.get(str(status), responses.get(status, responses.get("default"))))
    if not isinstance(response, dict):
        return None
    media = _json_media(response.get("content", {}))
    if media is None or "schema" not in media:
        return None
    return _standalone(spec, media["schema"])


def find_operation(spec: Dict[str, Any], method: str, path: str) -> Optional[str]:
    """The path template of the spec that a concrete request path belongs to (literal segments win)."""
    method = method.lower()
    segments = path.split("?", 1)[0].rstrip("/").split("/")
    best: Optional[Tuple[int, str]] = None
    for template, item in spec.get("paths", {}).items():
        if method not in item:
            continue
        parts = template.rstrip("/").split("/")
        if len(parts) != len(segments):
            continue
        literal = 0
        for want, got in zip(parts, segments):
            if re.fullmatch(r"\{[^}]+\}", want):
                continue
            if want != got:
                break
            literal += 1
        else:
            if best is None or literal > best[0]:
                best = (literal, template)
    return best[1] if best else None


def validate(instance: Any, schema: Optional[Dict[str, Any]]) -> List[str]:
    """Every way ``instance`` breaks ``schema``, as readable strings; [] when it conforms."""
    if schema is None:
        return ["no schema to validate against"]
    from jsonschema import Draft4Validator

    problems = []
    for error in sorted(Draft4Validator(schema).iter_errors(instance), key=lambda e: list(e.absolute_path)):
        where = "/".join(str(p) for p in error.absolute_path) or "<root>"
        detail = "%s: %s" % (where, error.message)
        if error.context:
            detail += " [%s]" % "; ".join(sorted({sub.message for sub in error.context})[:4])
        problems.append(detail)
    return problems
