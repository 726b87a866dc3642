"""Intercom's objects as the target reads them: reduced to what it compares and matches."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, FrozenSet, Mapping, Optional, Tuple

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


# The company fields a record can write, as Intercom names them (company_id aside).
COMPANY_CORE_FIELDS = ("name", "plan", "size", "website", "industry", "monthly_spend", "remote_created_at")


@dataclass
class IntercomContact:
    id: str
    role: Optional[str]
    external_id: Optional[str]
    email: Optional[str]
    # Writable core fields as Intercom holds them, keyed like a payload's core.
    core: Dict[str, Any] = field(default_factory=dict)
    custom: Dict[str, Any] = field(default_factory=dict)
    # Intercom ids of the companies the contact object lists (at most 10), and
    # whether that is all of them.
    companies: FrozenSet[str] = frozenset()
    all_companies_listed: bool = True
    # Ids of the tags the contact object lists (at most 10), and whether that is all of them.
    tags: FrozenSet[str] = frozenset()
    all_tags_listed: bool = True


@dataclass
class IntercomCompany:
    id: str
    company_id: str
    core: Dict[str, Any] = field(default_factory=dict)
    custom: Dict[str, Any] = field(default_factory=dict)
    # Equal on a company the answer just created.
    created_at: int = 0
    updated_at: int = 0
    # Ids of the company's tags.
    tags: FrozenSet[str] = frozenset()


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
    companies, all_listed = _listed_ids(item.get("companies"))
    tags, all_tags_listed = _listed_ids(item.get("tags"))
    return IntercomContact(
        id=item["id"],
        role=item.get("role"),
        external_id=core["external_id"],
        email=core["email"],
        core=core,
        custom=dict(item.get("custom_attributes") or {}),
        companies=companies,
        all_companies_listed=all_listed,
        tags=tags,
        all_tags_listed=all_tags_listed,
    )


def _listed_ids(listing: Any) -> Tuple[FrozenSet[str], bool]:
    """The ids an embedded list ({"data": [{"id": ...}], "has_more": ...}) shows, and whether it shows them all."""
    if not isinstance(listing, Mapping):
        # Not rendered (an SDK model, or an older answer): nothing is known, so nothing counts as listed.
        return frozenset(), False
    ids = frozenset(str(entry["id"]) for entry in listing.get("data") or [] if isinstance(entry, Mapping) and "id" in entry)
    return ids, not listing.get("has_more")


def company_from_json(item: Mapping[str, Any]) -> IntercomCompany:
    core = {name: item.get(name) for name in COMPANY_CORE_FIELDS}
    # Written as the plan's name; read back as {"type": "plan", "id": ..., "name": ...}.
    plan = item.get("plan")
    core["plan"] = plan.get("name") if isinstance(plan, Mapping) else plan
    return IntercomCompany(
        id=item["id"],
        company_id=str(item.get("company_id")),
        core=core,
        custom=dict(item.get("custom_attributes") or {}),
        created_at=item.get("created_at") or 0,
        updated_at=item.get("updated_at") or 0,
        tags=_company_tag_ids(item.get("tags")),
    )


def _company_tag_ids(listing: Any) -> FrozenSet[str]:
    # A company renders {"type": "tag.list", "tags": [{"id": ..., "name": ...}]}.
    tags = listing.get("tags") if isinstance(listing, Mapping) else None
    return frozenset(str(t["id"]) for t in tags or [] if isinstance(t, Mapping) and "id" in t)


def data_attribute_from_sdk(model: Any) -> DataAttribute:
    return DataAttribute(
        name=model.name,
        data_type=model.data_type or "string",
        custom=bool(model.custom),
        api_writable=model.api_writable is not False,
        archived=bool(model.archived),
    )
