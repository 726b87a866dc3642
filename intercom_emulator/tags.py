"""Tags: the workspace's tags and which contacts and companies carry them.

Tag names are unique regardless of case ("Names are case insensitive"). Callers hold the emulator's lock.
"""
from __future__ import annotations

import itertools
from typing import Any, Dict, Iterable, List, Optional, Tuple

from .attributes import ADMIN_ID
from .errors import ApiError


def tag_not_found() -> ApiError:
    # The spec's "Tag not found" example for GET/DELETE /tags/{id} and the contact tag endpoints.
    return ApiError(404, "not_found", "Resource Not Found")


def invalid_tag_parameters() -> ApiError:
    # The spec's only documented 400 for POST /tags.
    return ApiError(400, "parameter_invalid", "invalid tag parameters")


class Tag:
    __slots__ = ("id", "name", "contacts", "companies")

    def __init__(self, id: str, name: str) -> None:
        self.id = id
        self.name = name
        self.contacts: Dict[str, None] = {}   # contact ids, in tagging order
        self.companies: Dict[str, None] = {}  # Intercom company ids, in tagging order


class TagStore:
    def __init__(self) -> None:
        self.by_id: Dict[str, Tag] = {}
        self.by_lower: Dict[str, Tag] = {}
        # entity id -> tag id -> applied_at; only entities that carry a tag have an entry.
        self.by_contact: Dict[str, Dict[str, int]] = {}
        self.by_company: Dict[str, Dict[str, int]] = {}
        self._ids = itertools.count(1)

    def __len__(self) -> int:
        return len(self.by_id)

    # ---- tags ---------------------------------------------------------------------------------------
    def get(self, tag_id: Any) -> Optional[Tag]:
        return self.by_id.get(str(tag_id))

    def find(self, tag_id: Any) -> Tag:
        tag = self.get(tag_id)
        if tag is None:
            raise tag_not_found()
        return tag

    def named(self, name: str) -> Optional[Tag]:
        return self.by_lower.get(name.lower())

    def find_or_create(self, name: str) -> Tuple[Tag, bool]:
        tag = self.named(name)
        if tag is not None:
            return tag, False
        tag = Tag(str(next(self._ids)), name)
        self.by_id[tag.id] = tag
        self.by_lower[name.lower()] = tag
        return tag, True

    def rename(self, tag: Tag, name: str) -> None:
        other = self.named(name)
        if other is not None and other is not tag:
            # Guess: the spec documents no error for renaming onto a taken name.
            raise ApiError(400, "parameter_invalid", "A tag with the name '%s' already exists" % name)
        del self.by_lower[tag.name.lower()]
        tag.name = name
        self.by_lower[name.lower()] = tag

    def delete(self, tag: Tag) -> None:
        for contact_id in tag.contacts:
            _drop(self.by_contact, contact_id, tag.id)
        for company_id in tag.companies:
            _drop(self.by_company, company_id, tag.id)
        del self.by_id[tag.id]
        del self.by_lower[tag.name.lower()]

    # ---- tagging ------------------------------------------------------------------------------------
    def tag_contact(self, tag: Tag, contact_id: str, now: int) -> None:
        self.by_contact.setdefault(contact_id, {}).setdefault(tag.id, now)
        tag.contacts[contact_id] = None

    def untag_contact(self, tag: Tag, contact_id: str) -> None:
        _drop(self.by_contact, contact_id, tag.id)
        tag.contacts.pop(contact_id, None)

    def tag_company(self, tag: Tag, company_id: str, now: int) -> None:
        self.by_company.setdefault(company_id, {}).setdefault(tag.id, now)
        tag.companies[company_id] = None

    def untag_company(self, tag: Tag, company_id: str) -> None:
        _drop(self.by_company, company_id, tag.id)
        tag.companies.pop(company_id, None)

    def forget_contact(self, contact_id: str) -> None:
        for tag_id in self.by_contact.pop(contact_id, {}):
            tag = self.by_id.get(tag_id)
            if tag is not None:
                tag.contacts.pop(contact_id, None)

    def tag_ids_of_contact(self, contact_id: str) -> Iterable[str]:
        return self.by_contact.get(contact_id, ())

    def applied_to_contact(self, contact_id: str, tag_id: str) -> Optional[int]:
        return self.by_contact.get(contact_id, {}).get(tag_id)

    # ---- rendering ----------------------------------------------------------------------------------
    def basics_of_company(self, company_id: str) -> List[Dict[str, Any]]:
        return [render_tag(self.by_id[t]) for t in self.by_company.get(company_id, ())]

    def applied_of_contact(self, contact_id: str) -> List[Dict[str, Any]]:
        return [render_tag(self.by_id[t], applied_at) for t, applied_at in self.by_contact.get(contact_id, {}).items()]


def _drop(index: Dict[str, Dict[str, int]], entity_id: str, tag_id: str) -> None:
    tags = index.get(entity_id)
    if tags is not None:
        tags.pop(tag_id, None)
        if not tags:
            del index[entity_id]


def render_tag(tag: Tag, applied_at: Optional[int] = None) -> Dict[str, Any]:
    """``tag_basic``; with ``applied_at`` the ``tag`` of a tagging operation on a contact (plus ``applied_by``)."""
    out: Dict[str, Any] = {"type": "tag", "id": tag.id, "name": tag.name}
    if applied_at is not None:
        out["applied_at"] = applied_at
        out["applied_by"] = {"type": "admin", "id": ADMIN_ID}
    return out
