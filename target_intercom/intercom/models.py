"""Intercom's objects as the target reads them: reduced to what it compares and matches."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, Mapping, Optional

# The contact fields a record can write, as Intercom names them.
CONTACT_CORE_FIELDS = (
    "external_id",
    "email",
    "name",
    "phone",
    "avatar",
    "signed_up_at",
    "last_seen_at",
    "owner_id",
    "unsubscribed_from_emails",
)


@dataclass
class IntercomContact:
    id: str
    role: Optional[str]
    external_id: Optional[str]
    email: Optional[str]
    # Writable core fields as Intercom holds them, keyed like a payload's core.
    core: Dict[str, Any] = field(default_factory=dict)
    custom: Dict[str, Any] = field(default_factory=dict)


@dataclass
class DataAttribute:
    name: str
    data_type: str
    custom: bool
    api_writable: bool
    archived: bool


def contact_from_sdk(model: Any) -> IntercomContact:
    """From an SDK model (the typed reads)."""
    names = CONTACT_CORE_FIELDS + ("id", "role", "custom_attributes")
    return contact_from_json({name: getattr(model, name, None) for name in names})


def contact_from_json(item: Mapping[str, Any]) -> IntercomContact:
    core = {name: item.get(name) for name in CONTACT_CORE_FIELDS}
    # Written as a URL; read back as {"type": "avatar", "image_url": ...}.
    avatar = item.get("avatar")
    if isinstance(avatar, dict):
        avatar = avatar.get("image_url")
    elif avatar is not None and not isinstance(avatar, str):
        avatar = getattr(avatar, "image_url", None)  # an SDK model
    core["avatar"] = avatar
    # Intercom renders a missing email as "".
    core["email"] = core["email"] or None
    return IntercomContact(
        id=item["id"],
        role=item.get("role"),
        external_id=core["external_id"],
        email=core["email"],
        core=core,
        custom=dict(item.get("custom_attributes") or {}),
    )


def data_attribute_from_sdk(model: Any) -> DataAttribute:
    return DataAttribute(
        name=model.name,
        data_type=model.data_type or "string",
        custom=bool(model.custom),
        api_writable=model.api_writable is not False,
        archived=bool(model.archived),
    )
