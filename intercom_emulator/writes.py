"""Checking contact write payloads the way Intercom does, and applying them to stored contacts.

A payload is checked completely before anything changes, so a rejected write leaves no trace.
"""
from __future__ import annotations

import re
import uuid
from typing import Any, Dict, Iterable, NamedTuple, Optional

from .admins import AdminRegistry, owner_not_member
from .attributes import AttributeRegistry
from .errors import ApiError, bad_param
from .store import EXTRA_FIELDS, Contact, ContactStore
from .versions import at_least, is_preview

ROLES = ("user", "lead")
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
# Returned by a field check when the value is to be ignored, as if the key had not been sent.
_SKIP = object()


class WriteRules(NamedTuple):
    """What a write is checked against: the workspace's attributes and admins, and two guessed policies."""

    registry: AttributeRegistry
    admins: AdminRegistry
    unsubscribed_null: str = "false"  # settings.UNSUBSCRIBED_NULL_CHOICES
    long_text: str = "reject"         # settings.LONG_TEXT_CHOICES
_STABLE_FIELDS = ("role", "external_id", "email", "phone", "name", "avatar", "signed_up_at", "last_seen_at",
                  "owner_id", "unsubscribed_from_emails", "custom_attributes")
# What each kind of write may set; any other key in the payload is ignored, as Intercom ignores it.
WRITABLE = {
    "create": _STABLE_FIELDS,
    "update": _STABLE_FIELDS,
    "bulk_create": ("external_id", "email", "name", "role", "phone", "avatar", "language_override",
                    "custom_attributes", "signed_up_at", "last_seen_at", "owner_id", "unsubscribed_from_emails"),
    # Bulk update cannot change role, signed_up_at or last_seen_at: they are not in its request schema.
    "bulk_update": ("external_id", "email", "name", "phone", "avatar", "owner_id", "unsubscribed_from_emails",
                    "language_override", "custom_attributes"),
}
_TIMESTAMPS = ("signed_up_at", "last_seen_at")
_NULLABLE_STRINGS = ("phone", "name", "avatar", "language_override")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def parse_owner_id(value: Any) -> Optional[int]:
    """Owner ids are integers up to 2.15 and strings from 2.16; either spelling is accepted."""
    if value is None:
        return None
    if _is_int(value):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    raise bad_param("owner_id must be the id of an admin")


def check_contact_write(body: Any, mode: str, version: str, rules: WriteRules) -> Dict[str, Any]:
    """Validated changes from a create/update payload (keys are contact field names)."""
    if not isinstance(body, dict):
        raise bad_param("Request body must be a JSON object")
    allowed = WRITABLE[mode]
    changes: Dict[str, Any] = {}
    for field in allowed:
        if field in body:
            value = _check_field(field, body[field], rules)
            if value is not _SKIP:
                changes[field] = value
    if mode in ("create", "update"):
        if is_preview(version) and "language_override" in body:
            changes["language_override"] = _check_field("language_override", body["language_override"], rules)
        if at_least(version, "2.16") and body.get("email_verified") is not None:
            if not isinstance(body["email_verified"], bool):
                raise bad_param("email_verified must be a boolean")
            if "email" not in body:
                raise bad_param("email_verified must be supplied together with an email")
    if mode == "create" and all(changes.get(k) is None for k in ("email", "external_id", "role")):
        raise ApiError(400, "parameter_not_found", "A contact must have an email, an external_id or a role")
    return changes


def _check_field(field: str, value: Any, rules: WriteRules) -> Any:
    if field == "role":
        return _check_role(value)
    if field in ("external_id", "email"):
        if value is None or value == "":
            # Recorded (Grouparoo): a null external_id leaves the contact's external_id as it was; a null
            # email clears the email.
            return _SKIP if field == "external_id" else None
        if not isinstance(value, str):
            raise bad_param("%s must be a string" % field)
        return value
    if field in _NULLABLE_STRINGS:
        if value is not None and not isinstance(value, str):
            raise bad_param("%s must be a string" % field)
        return value or None
    if field in _TIMESTAMPS:
        if value is not None and not _is_int(value):
            raise bad_param("%s must be an integer Unix timestamp in seconds" % field)
        return value
    if field == "owner_id":
        owner = parse_owner_id(value)
        if owner is not None and not rules.admins.is_member(owner):
            raise owner_not_member()
        return owner
    if field == "unsubscribed_from_emails":
        return _check_unsubscribed(value, rules.unsubscribed_null)
    if field == "custom_attributes":
        if value is None:
            return None
        return rules.registry.check_values(value, long_text=rules.long_text)
    raise AssertionError(field)  # pragma: no cover


def _check_role(value: Any) -> Any:
    if value is None:
        return _SKIP
    if not isinstance(value, str):
        raise bad_param("role must be either user or lead")
    # Recorded (Grouparoo): an unknown role such as "contact" silently makes a user.
    return "lead" if value == "lead" else "user"


def _check_unsubscribed(value: Any, policy: str) -> Any:
    if value is None:
        # Unknown live; "false" is the old guess (null re-subscribes), the others are the safe alternatives.
        if policy == "ignore":
            return _SKIP
        if policy == "reject":
            raise bad_param("unsubscribed_from_emails must be true or false, not null")
        return False
    if not isinstance(value, bool):
        raise bad_param("unsubscribed_from_emails must be a boolean")
    return value


def new_lead_external_id() -> str:
    """Intercom gives every lead its own UUID external_id (recorded), whatever the request sent."""
    return str(uuid.uuid4())


def check_role_change(c: Contact, changes: Dict[str, Any]) -> None:
    """Intercom's recorded rules for an update's role and external_id, which depend on the contact's role.

    A user cannot become a lead (400). A lead ignores an external_id unless the same write makes it a user.
    """
    role = changes.get("role")
    if c.role == "user" and role == "lead":
        raise ApiError(400, "client_error", "Contact with user role can't be converted to a lead")
    if c.role == "lead" and role != "user":
        changes.pop("external_id", None)


def apply_changes(store: ContactStore, c: Contact, changes: Dict[str, Any], now: int) -> None:
    for field, value in changes.items():
        if field == "external_id":
            store.set_external_id(c, value)
        elif field == "email":
            store.set_email(c, value)
        elif field == "role":
            store.set_role(c, value)
        elif field == "unsubscribed_from_emails":
            c.unsubscribed = value
        elif field == "custom_attributes":
            if value:
                # Recorded (Grouparoo): a cleared attribute stays in custom_attributes as "name": null.
                merged = dict(c.custom) if c.custom else {}
                merged.update(value)
                c.custom = merged or None
        elif field == "language_override":
            extra = dict(c.extra) if c.extra else {}
            if value is None:
                extra.pop(field, None)
            else:
                extra[field] = value
            c.extra = extra or None
        else:
            setattr(c, field, value)
    c.updated_at = now


# ---- seeding: builds contacts straight into the store, with only the checks that keep it consistent ----

_SEED_DIRECT = ("name", "phone", "signed_up_at", "last_seen_at")


def contact_from_seed(store: ContactStore, rules: WriteRules, fields: Dict[str, Any], now: int) -> Contact:
    """A contact built from seed fields. Owners are not checked: an owner may have left the workspace."""
    c = Contact(str(fields["id"]) if fields.get("id") else store.new_id())
    extra: Optional[Dict[str, Any]] = None
    for key, value in fields.items():
        if key in ("id", "type", "workspace_id", "email_domain") or value is None:
            continue
        if key == "role":
            if value not in ROLES:
                raise ValueError("role must be user or lead, not %r" % (value,))
            c.role = value
        elif key == "external_id":
            c.external_id = str(value)
        elif key == "email":
            c.email = value
        elif key in _SEED_DIRECT:
            setattr(c, key, value)
        elif key == "owner_id":
            c.owner_id = parse_owner_id(value)
        elif key == "avatar":
            c.avatar = value.get("image_url") if isinstance(value, dict) else value
        elif key in ("created_at", "updated_at"):
            setattr(c, key, int(value))
        elif key == "unsubscribed_from_emails":
            c.unsubscribed = bool(value)
        elif key == "archived":
            c.archived = bool(value)
        elif key == "custom_attributes":
            try:
                c.custom = dict(rules.registry.check_values(value, long_text=rules.long_text)) or None
            except ApiError as exc:
                raise ValueError(exc.message) from None
        elif key in EXTRA_FIELDS:
            if extra is None:
                extra = {}
            extra[key] = value
        else:
            raise ValueError("unknown contact field %r" % key)
    c.extra = extra
    if c.role == "lead":
        _seed_lead_external_id(c)
    if not c.created_at:
        c.created_at = now
    if not c.updated_at:
        c.updated_at = c.created_at
    return c


def _seed_lead_external_id(c: Contact) -> None:
    # A lead's external_id is always one Intercom generated, so a seed may carry such a UUID (a lead copied
    # from a real answer) or none; any other value would be a state Intercom cannot reach.
    if c.external_id is None:
        c.external_id = new_lead_external_id()
    elif not _UUID.fullmatch(c.external_id):
        raise ValueError("a lead's external_id is a UUID Intercom generates; %r cannot belong to a lead "
                         "(seed it without external_id, or as a user)" % c.external_id)


def ignored_fields(body: Dict[str, Any], mode: str) -> Iterable[str]:
    allowed = WRITABLE[mode]
    return [k for k in body if k not in allowed]
