"""The configuration: its JSON Schema, where values come from, and validation.

Values come from the `--config` files (merged left to right), then from
`TARGET_INTERCOM_<SETTING>` environment variables for any setting the files do
not set, so a token never has to be written to disk. The merged result is
validated against `SETTINGS_SCHEMA` before any input is read.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, field
from typing import Any, Dict, FrozenSet, Iterable, List, Mapping, Optional, Union
from urllib.parse import urlparse

import jsonschema

from target_intercom.errors import ConfigError

logger = logging.getLogger(__name__)

ENV_PREFIX = "TARGET_INTERCOM_"

REGION_URLS = {
    "us": "https://api.intercom.io",
    "eu": "https://api.eu.intercom.io",
    "au": "https://api.au.intercom.io",
}

# The Intercom fields a record can write directly; everything else becomes a
# custom attribute. `user_id` is the name the retired bulk users API used for
# what the Contacts API calls `external_id`; `last_request_at` likewise for
# `last_seen_at`.
CORE_FIELDS = (
    "id",
    "user_id",
    "external_id",
    "email",
    "name",
    "phone",
    "avatar",
    "signed_up_at",
    "last_seen_at",
    "last_request_at",
    "owner_id",
    "unsubscribed_from_emails",
    "companies",
    "tags",
)
# The company fields a record can write; everything else becomes a company custom attribute.
COMPANY_FIELDS = ("company_id", "name", "plan", "size", "website", "industry", "monthly_spend", "remote_created_at")
# What companies_field_overrides can name: the company fields, and the field listing a company's tags.
COMPANY_OVERRIDE_FIELDS = COMPANY_FIELDS + ("tags",)
# What a data event is made of; `events_field_overrides` names their source fields.
EVENT_FIELDS = ("event_name", "created_at", "user_id", "email", "id", "metadata")
# Intercom keeps at most this many metadata keys of an event.
MAX_EVENT_METADATA_KEYS = 10
# The streams a configuration can name; at least one must be set.
STREAM_SETTINGS = ("users_stream", "companies_stream", "events_stream")

DEFAULT_INTERCOM_VERSION = "2.14"

SETTINGS_SCHEMA: Dict[str, Any] = {
    "$schema": "http://json-schema.org/draft-04/schema#",
    "type": "object",
    "required": ["access_token"],
    "anyOf": [{"required": [name]} for name in STREAM_SETTINGS],
    "properties": {
        "access_token": {
            "type": "string",
            "minLength": 1,
            "secret": True,
            "description": "Intercom access token (Developer Hub > your app > Authentication).",
        },
        "users_stream": {
            "type": "string",
            "minLength": 1,
            "description": "Name of the Singer stream whose records become Intercom users.",
        },
        "reserved_field_overrides": {
            "type": "object",
            "additionalProperties": {"anyOf": [{"type": "string", "minLength": 1}, {"type": "null"}]},
            "default": {},
            "description": (
                "Maps an Intercom core field to the source field that holds it, "
                'e.g. {"name": "full_name", "email": "email_address"}; null: no source field.'
            ),
        },
        "companies_stream": {
            "type": "string",
            "minLength": 1,
            "description": "Name of the Singer stream whose records become Intercom companies.",
        },
        "companies_field_overrides": {
            "type": "object",
            "additionalProperties": {"anyOf": [{"type": "string", "minLength": 1}, {"type": "null"}]},
            "default": {},
            "description": (
                "Maps an Intercom company field to the source field that holds it, "
                'e.g. {"company_id": "account_id", "name": "account_name"}; null: no source field.'
            ),
        },
        "events_stream": {
            "type": "string",
            "minLength": 1,
            "description": "Name of the Singer stream whose records become Intercom data events.",
        },
        "events_field_overrides": {
            "type": "object",
            "additionalProperties": {"anyOf": [{"type": "string", "minLength": 1}, {"type": "null"}]},
            "default": {},
            "description": (
                "Maps an event field (event_name, created_at, user_id, email, id, metadata) to the source field "
                'that holds it, e.g. {"event_name": "event", "created_at": "occurred_at"}; null: no source field.'
            ),
        },
        "event_metadata_keys": {
            "type": "array",
            "items": {"type": "string", "minLength": 1},
            "maxItems": MAX_EVENT_METADATA_KEYS,
            "uniqueItems": True,
            "default": [],
            "description": (
                "The metadata keys an event keeps, in order (at most 10, Intercom's limit); "
                "empty: the first 10 in the SCHEMA's order."
            ),
        },
        "region": {
            "type": "string",
            "enum": sorted(REGION_URLS),
            "default": "us",
            "description": "Intercom region of the workspace: us, eu or au.",
        },
        "base_url": {
            "type": "string",
            "minLength": 1,
            "description": "API base URL; overrides region. https only, except for localhost.",
        },
        "intercom_version": {
            "type": "string",
            "minLength": 1,
            "default": DEFAULT_INTERCOM_VERSION,
            "description": "Intercom-Version header sent on every request.",
        },
        "batch_size": {
            "type": "integer",
            "minimum": 1,
            "maximum": 1000,
            "default": 100,
            "description": "Users looked up and confirmed together.",
        },
        "write_mode": {
            "type": "string",
            "enum": ["contacts", "bulk"],
            "default": "contacts",
            "description": "contacts: one API call per changed user; bulk: Intercom's Preview bulk contacts jobs.",
        },
        "bulk_job_timeout": {
            "type": "number",
            "exclusiveMinimum": True,
            "minimum": 0,
            "default": 1800,
            "description": "bulk mode: seconds a bulk task may take before the run fails.",
        },
        "max_concurrency": {
            "type": "integer",
            "minimum": 1,
            "maximum": 64,
            "default": 20,
            "description": "Requests to Intercom in flight at once.",
        },
        "max_requests_per_minute": {
            "type": "integer",
            "minimum": 6,
            "description": "Cap on this target's request rate, to leave part of the app's quota to other integrations.",
        },
        "request_timeout": {
            "type": "number",
            "exclusiveMinimum": True,
            "minimum": 0,
            "default": 30,
            "description": "Seconds to wait for one HTTP response.",
        },
        "max_retry_time": {
            "type": "number",
            "minimum": 0,
            "default": 300,
            "description": "Seconds one request may keep being retried (429, 5xx, timeouts, dropped connections).",
        },
        "custom_attributes_exclude": {
            "type": "array",
            "items": {"type": "string", "minLength": 1},
            "default": [],
            "description": (
                "Fields of the users stream never sent to Intercom as custom attributes, by source name; "
                "a nested object's flattened names (a__b) too, and a excludes every a__*."
            ),
        },
        "delete_mode": {
            "type": "string",
            "enum": ["archive", "delete", "ignore"],
            "default": "archive",
            "description": (
                "A users or companies record whose _sdc_deleted_at is set: archive archives the user (reversible); "
                "delete deletes it for good (Intercom keeps its email and user_id reserved); ignore leaves it "
                "alone. Companies are deleted (Intercom archives them) unless ignore."
            ),
        },
        "archived_contacts": {
            "type": "string",
            "enum": ["skip", "unarchive"],
            "default": "skip",
            "description": (
                "A user whose user_id or email an archived (or deleted) Intercom contact holds: skip leaves it alone "
                "(listed in the rejects file, not counted as rejected); unarchive unarchives and updates it "
                "(a deleted one is still skipped)."
            ),
        },
        "managed_tags": {
            # A list of names, or the string "all": draft 4 applies items to arrays and pattern to strings only.
            "type": ["array", "string"],
            "items": {"type": "string", "minLength": 1},
            "pattern": "^all$",
            "default": [],
            "description": (
                "Tags this target may remove: a user or company carrying one its record does not list loses it. "
                'A list of tag names, or "all"; empty (the default): tags are only added.'
            ),
        },
        "long_text": {
            "type": "string",
            "enum": ["truncate", "reject"],
            "default": "truncate",
            "description": (
                "A text custom attribute value longer than Intercom's 255 characters: truncate cuts it to 255 "
                "(with a warning per attribute); reject rejects the record."
            ),
        },
        "rejected_records_file": {
            "type": "string",
            "minLength": 1,
            "description": "JSON-lines file that receives every rejected record with the reason.",
        },
        "max_rejected_records": {
            "type": "integer",
            "minimum": 0,
            "default": 0,
            "description": "Rejected records tolerated before the run fails (0: fail on the first).",
        },
        "progress_interval": {
            "type": "number",
            "exclusiveMinimum": True,
            "minimum": 0,
            "default": 10,
            "description": "Seconds between progress lines and metrics on stderr.",
        },
        "dry_run": {
            "type": "boolean",
            "default": False,
            "description": "Look users up but write nothing; print the plan on stderr.",
        },
    },
}

SECRET_SETTINGS = frozenset(
    name for name, spec in SETTINGS_SCHEMA["properties"].items() if spec.get("secret")
)


@dataclass(frozen=True)
class Config:
    access_token: str = field(repr=False)
    users_stream: Optional[str]
    reserved_field_overrides: Mapping[str, Optional[str]]
    companies_stream: Optional[str]
    companies_field_overrides: Mapping[str, Optional[str]]
    events_stream: Optional[str]
    events_field_overrides: Mapping[str, Optional[str]]
    event_metadata_keys: List[str]
    base_url: str
    intercom_version: str
    batch_size: int
    write_mode: str
    bulk_job_timeout: float
    max_concurrency: int
    max_requests_per_minute: Optional[int]
    request_timeout: float
    max_retry_time: float
    custom_attributes_exclude: FrozenSet[str]
    delete_mode: str
    long_text: str
    managed_tags: Union[str, List[str]]
    archived_contacts: str
    rejected_records_file: Optional[str]
    max_rejected_records: int
    progress_interval: float
    dry_run: bool


def load_config(
    paths: Iterable[str], environ: Optional[Mapping[str, str]] = None, dry_run: bool = False
) -> Config:
    """Merge the config files and the environment, validate, and apply defaults."""
    merged: Dict[str, Any] = {}
    for path in paths:
        merged.update(_read_file(path))
    environ = os.environ if environ is None else environ
    for name, value in settings_from_env(environ).items():
        merged.setdefault(name, value)
    if dry_run:
        merged["dry_run"] = True
    return build_config(merged)


def build_config(raw: Mapping[str, Any]) -> Config:
    """Validate a settings mapping and turn it into a `Config`."""
    _warn_unknown_keys(raw)
    _validate(raw)
    _require_distinct_streams(raw)
    settings = {name: spec.get("default") for name, spec in SETTINGS_SCHEMA["properties"].items()}
    settings.update(raw)
    return Config(
        access_token=settings["access_token"],
        users_stream=settings.get("users_stream"),
        reserved_field_overrides=_overrides(settings, "reserved_field_overrides", CORE_FIELDS),
        companies_stream=settings.get("companies_stream"),
        companies_field_overrides=_overrides(settings, "companies_field_overrides", COMPANY_OVERRIDE_FIELDS),
        events_stream=settings.get("events_stream"),
        events_field_overrides=_overrides(settings, "events_field_overrides", EVENT_FIELDS),
        event_metadata_keys=list(settings["event_metadata_keys"]),
        base_url=_base_url(settings),
        intercom_version=settings["intercom_version"],
        batch_size=settings["batch_size"],
        write_mode=settings["write_mode"],
        bulk_job_timeout=float(settings["bulk_job_timeout"]),
        max_concurrency=settings["max_concurrency"],
        max_requests_per_minute=settings.get("max_requests_per_minute"),
        request_timeout=float(settings["request_timeout"]),
        max_retry_time=float(settings["max_retry_time"]),
        custom_attributes_exclude=frozenset(settings["custom_attributes_exclude"]),
        delete_mode=settings["delete_mode"],
        long_text=settings["long_text"],
        managed_tags=settings["managed_tags"],
        archived_contacts=settings["archived_contacts"],
        rejected_records_file=settings.get("rejected_records_file"),
        max_rejected_records=settings["max_rejected_records"],
        progress_interval=float(settings["progress_interval"]),
        dry_run=bool(settings["dry_run"]),
    )


def _require_distinct_streams(raw: Mapping[str, Any]) -> None:
    """Each stream loads one Intercom object: two settings naming one stream is a mistake."""
    named: Dict[str, str] = {}
    for setting in STREAM_SETTINGS:
        stream = raw.get(setting)
        if stream in named:
            raise ConfigError(f"config: {named[stream]} and {setting} name the same stream ({json.dumps(stream)})")
        if stream is not None:
            named[stream] = setting


_OVERRIDDEN_KINDS = {"companies_field_overrides": "company field", "events_field_overrides": "event field"}


def _overrides(settings: Mapping[str, Any], name: str, fields: Iterable[str]) -> Dict[str, Optional[str]]:
    overrides = dict(settings[name])
    unknown = sorted(set(overrides) - set(fields))
    if unknown:
        kind = _OVERRIDDEN_KINDS.get(name, "core field")
        raise ConfigError(
            f"config: {name} names {', '.join(unknown)}, which is not an Intercom {kind} ({', '.join(fields)})"
        )
    return overrides


def settings_from_env(environ: Mapping[str, str]) -> Dict[str, Any]:
    """Read `TARGET_INTERCOM_<SETTING>` variables, typed by the schema."""
    found: Dict[str, Any] = {}
    for name, spec in SETTINGS_SCHEMA["properties"].items():
        variable = ENV_PREFIX + name.upper()
        if variable in environ:
            found[name] = _parse_env_value(variable, environ[variable], spec["type"])
    return found


def _parse_env_value(variable: str, text: str, kind: Any) -> Any:
    if kind == "string":
        return text
    if isinstance(kind, list) and not text.lstrip().startswith("["):
        return text  # managed_tags=all
    if kind == "boolean":
        lowered = text.strip().lower()
        if lowered in ("true", "1", "yes", "on"):
            return True
        if lowered in ("false", "0", "no", "off", ""):
            return False
        raise ConfigError(f"{variable}: expected true or false, got {text!r}")
    try:
        value = json.loads(text)
    except ValueError:
        raise ConfigError(f"{variable}: expected a JSON {kind}, got {text!r}") from None
    return value


def _read_file(path: str) -> Dict[str, Any]:
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist") from None
    except OSError as exc:
        raise ConfigError(f"config file {path} cannot be read: {exc.strerror}") from None
    except ValueError as exc:
        raise ConfigError(f"config file {path} is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path} must hold a JSON object")
    return data


def _warn_unknown_keys(raw: Mapping[str, Any]) -> None:
    for key in sorted(set(raw) - set(SETTINGS_SCHEMA["properties"])):
        logger.warning("config: unknown key %r is ignored", key)


def _validate(raw: Mapping[str, Any]) -> None:
    validator = jsonschema.Draft4Validator(SETTINGS_SCHEMA)
    # A missing key is named before a missing stream, and both before a wrong value.
    errors = sorted(validator.iter_errors(dict(raw)), key=lambda e: (list(e.path), e.validator != "required"))
    if not errors:
        return
    error = errors[0]
    if error.validator == "anyOf" and not error.path:
        raise ConfigError(f"config: missing required key 'users_stream' (or {', '.join(STREAM_SETTINGS[1:])})")
    if error.validator == "required":
        missing = [name for name in SETTINGS_SCHEMA["required"] if name not in raw]
        raise ConfigError(f"config: missing required key {missing[0]!r}")
    key = ".".join(str(part) for part in error.path)
    shown = "<hidden>" if key in SECRET_SETTINGS else json.dumps(error.instance)
    raise ConfigError(f"config: {key}: {_describe(error)} (got {shown})")


def _describe(error: jsonschema.ValidationError) -> str:
    if error.validator == "type" and isinstance(error.validator_value, list):
        return 'must be a list of names or "all"'
    if error.validator == "type":
        return f"must be of type {error.validator_value}"
    if error.validator == "enum":
        return "must be one of " + ", ".join(str(v) for v in error.validator_value)
    if error.validator == "minimum":
        return f"must be at least {error.validator_value}"
    if error.validator == "maximum":
        return f"must be at most {error.validator_value}"
    if error.validator == "minLength":
        return "must not be empty"
    if error.validator == "maxItems":
        return f"must hold at most {error.validator_value} items"
    if error.validator == "pattern":
        return 'must be a list of names or "all"'
    if error.validator == "uniqueItems":
        return "must not name an item twice"
    return error.message


def _base_url(settings: Mapping[str, Any]) -> str:
    url = settings.get("base_url")
    if not url:
        return REGION_URLS[settings["region"]]
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise ConfigError(f"config: base_url must be an http(s) URL (got {json.dumps(url)})")
    if parsed.scheme != "https" and parsed.hostname not in ("localhost", "127.0.0.1", "::1"):
        raise ConfigError(
            f"config: base_url must use https (plain http is allowed only for localhost; got {json.dumps(url)})"
        )
    return url.rstrip("/")


def schema_for_about() -> Dict[str, Any]:
    """The settings schema as `--about` publishes it (JSON Schema, secrets marked writeOnly)."""
    about = json.loads(json.dumps(SETTINGS_SCHEMA))
    for name in SECRET_SETTINGS:
        about["properties"][name]["writeOnly"] = True
    return about


def describe_settings() -> List[Dict[str, Any]]:
    """One entry per setting: name, type, default, description, secret."""
    described = []
    for name, spec in SETTINGS_SCHEMA["properties"].items():
        described.append(
            {
                "name": name,
                "type": spec["type"],
                "required": name in SETTINGS_SCHEMA["required"],
                "default": spec.get("default"),
                "secret": bool(spec.get("secret")),
                "description": spec["description"],
                "env": ENV_PREFIX + name.upper(),
            }
        )
    return described
