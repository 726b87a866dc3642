"""Contacts in memory: a compact record per contact and the indexes that answer lookups without scans."""
from __future__ import annotations

import itertools
import random
import time
from typing import Any, Dict, Iterator, List, Optional, Tuple

# Fields a contact keeps in named slots; everything rarer (browser, location, ...) lives in ``extra``.
CORE_FIELDS = ("external_id", "email", "role", "name", "phone", "owner_id", "avatar", "created_at", "updated_at",
               "signed_up_at", "last_seen_at", "unsubscribed")

# Read-only or rarely set contact fields, stored in ``extra`` only when a value was given (seeding).
EXTRA_FIELDS = ("language_override", "browser", "browser_version", "browser_language", "os",
                "android_app_name", "android_app_version", "android_device", "android_os_version",
                "android_sdk_version", "android_last_seen_at", "ios_app_name", "ios_app_version", "ios_device",
                "ios_os_version", "ios_sdk_version", "ios_last_seen_at", "last_replied_at", "last_contacted_at",
                "last_email_opened_at", "last_email_clicked_at", "has_hard_bounced", "marked_email_as_spam",
                "location", "social_profiles")


class Contact:
    """One contact. Slots keep a million of these affordable; unset fields cost one pointer each."""

    __slots__ = ("id", "seq", "external_id", "email", "role", "name", "phone", "owner_id", "avatar", "created_at",
                 "updated_at", "signed_up_at", "last_seen_at", "unsubscribed", "archived", "visible_at", "custom",
                 "extra")

    def __init__(self, id: str) -> None:
        self.id = id
        self.seq = 0
        self.external_id: Optional[str] = None
        self.email: Optional[str] = None
        self.role = "user"
        self.name: Optional[str] = None
        self.phone: Optional[str] = None
        self.owner_id: Optional[int] = None
        self.avatar: Optional[str] = None
        self.created_at = 0
        self.updated_at = 0
        self.signed_up_at: Optional[int] = None
        self.last_seen_at: Optional[int] = None
        self.unsubscribed = False
        self.archived = False
        # Monotonic time from which search sees the contact (Intercom's search index lags behind writes).
        self.visible_at = 0.0
        # Both dicts are replaced, never mutated, so a reader outside the lock never sees one change size.
        self.custom: Optional[Dict[str, Any]] = None
        self.extra: Optional[Dict[str, Any]] = None


class IdFactory:
    """24 lowercase hex characters, like Intercom's (MongoDB ObjectId-style) contact ids."""

    def __init__(self) -> None:
        # next() on itertools.count is atomic under the GIL, so concurrent callers never share a number.
        self._counter = itertools.count(random.getrandbits(40))

    def __call__(self) -> str:
        return "%08x%016x" % (int(time.time()) & 0xFFFFFFFF, next(self._counter))


def _email_key(email: str) -> str:
    low = email.lower()
    # Reuse the original string when it is already lower case: one object instead of two per contact.
    return email if low == email else low


class ContactStore:
    """Not thread-safe by itself: the emulator holds its state lock around every call."""

    def __init__(self) -> None:
        self.new_id = IdFactory()
        self.by_id: Dict[str, Contact] = {}          # insertion order is creation order (never re-inserted)
        self.by_external_id: Dict[str, Contact] = {}
        self.by_email: Dict[str, List[Contact]] = {}  # lower-cased email -> contacts (users and leads may share)
        self.by_role: Dict[str, Dict[str, Contact]] = {}
        self._seq = itertools.count(1)
        self.archived_count = 0  # archived contacts in by_id (tombstones are not in by_id)
        # Deleted users: out of by_id, but still in the external_id and email indexes with archived=True, so
        # their identity stays reserved as Intercom keeps it ("An archived contact matching ... exists").
        self.deleted: Dict[str, Contact] = {}
        # Merged sources: id -> (the contact as it was, the id it was merged into). Out of every index.
        self.merged: Dict[str, Tuple[Contact, str]] = {}
        self.merged_external_ids: Dict[str, str] = {}  # a merged source's external_id -> its id

    def __len__(self) -> int:
        return len(self.by_id)

    def get(self, contact_id: str, include_archived: bool = False) -> Optional[Contact]:
        c = self.by_id.get(contact_id)
        if c is None or (c.archived and not include_archived):
            return None
        return c

    def with_email(self, email: str) -> List[Contact]:
        return self.by_email.get(email.lower(), [])

    def all(self) -> Iterator[Contact]:
        return iter(list(self.by_id.values()))

    # ---- changes ------------------------------------------------------------------------------
    def insert(self, c: Contact) -> Contact:
        if c.id in self.by_id:
            raise ValueError("duplicate contact id %s" % c.id)
        if c.external_id is not None and c.external_id in self.by_external_id:
            raise ValueError("external_id %r already belongs to contact %s"
                             % (c.external_id, self.by_external_id[c.external_id].id))
        c.seq = next(self._seq)
        self.by_id[c.id] = c
        if c.external_id is not None:
            self.by_external_id[c.external_id] = c
        if c.email:
            self.by_email.setdefault(_email_key(c.email), []).append(c)
        self.by_role.setdefault(c.role, {})[c.id] = c
        if c.archived:
            self.archived_count += 1
        return c

    def remove(self, c: Contact) -> None:
        del self.by_id[c.id]
        if c.external_id is not None and self.by_external_id.get(c.external_id) is c:
            del self.by_external_id[c.external_id]
        self._unindex_email(c)
        self.by_role.get(c.role, {}).pop(c.id, None)
        if c.archived:
            self.archived_count -= 1

    def bury(self, c: Contact) -> None:
        """Delete a user but keep its tombstone: hidden everywhere, its email and external_id still taken."""
        del self.by_id[c.id]
        self.by_role.get(c.role, {}).pop(c.id, None)
        if c.archived:
            self.archived_count -= 1
        c.archived = True
        self.deleted[c.id] = c

    def merge_away(self, c: Contact, into_id: str) -> None:
        """Take a merged source out of every index; only its id (and external_id) still answer, with 410."""
        self.remove(c)
        self.merged[c.id] = (c, into_id)
        if c.external_id is not None:
            self.merged_external_ids[c.external_id] = c.id

    def canonical_id(self, merged_id: str) -> str:
        """Where a merged contact lives now, following merge chains (Intercom resolves up to 3 hops)."""
        seen = {merged_id}
        target = self.merged[merged_id][1]
        while target in self.merged and target not in seen:
            seen.add(target)
            target = self.merged[target][1]
        return target

    def _unindex_email(self, c: Contact) -> None:
        if not c.email:
            return
        key = c.email.lower()
        bucket = self.by_email.get(key)
        if bucket is not None:
            bucket[:] = [x for x in bucket if x is not c]
            if not bucket:
                del self.by_email[key]

    def set_external_id(self, c: Contact, value: Optional[str]) -> None:
        if c.external_id is not None and self.by_external_id.get(c.external_id) is c:
            del self.by_external_id[c.external_id]
        c.external_id = value
        if value is not None:
            self.by_external_id[value] = c

    def set_email(self, c: Contact, value: Optional[str]) -> None:
        self._unindex_email(c)
        c.email = value
        if value:
            self.by_email.setdefault(_email_key(value), []).append(c)

    def set_role(self, c: Contact, value: str) -> None:
        self.by_role.get(c.role, {}).pop(c.id, None)
        c.role = value
        self.by_role.setdefault(value, {})[c.id] = c

    def set_archived(self, c: Contact, archived: bool) -> None:
        if c.archived != archived:
            self.archived_count += 1 if archived else -1
            c.archived = archived

    # ---- the conflict rules of POST /contacts and bulk create -----------------------------------
    # Archived users and tombstones of deleted users take part (they stay in the indexes); leads never do on
    # email, and a lead's external_id is a UUID of Intercom's, which nobody else sends.
    def create_conflict(self, external_id: Optional[str], email: Optional[str], role: str,
                        email_only_user_conflicts: bool = False) -> Optional[Contact]:
        """The contact that makes a single create a 409, if any.

        A taken external_id always conflicts. An email-only user create conflicts with any user holding the
        email. A create carrying an external_id does not fall back to the email (Intercom help 5053685: it
        makes a second contact), unless ``email_only_user_conflicts`` restores the old guess that an existing
        user with the email and no external_id still conflicts.
        """
        if external_id is not None:
            owner = self.by_external_id.get(external_id)
            if owner is not None:
                return owner
        if role == "lead" or not email or (external_id is not None and not email_only_user_conflicts):
            return None
        users = [c for c in self.with_email(email) if c.role != "lead"]
        users.sort(key=lambda c: (c.archived, c.seq))  # report a live contact before an archived one
        for u in users:
            if external_id is None or u.external_id is None:
                return u
        return None

    def strict_conflict(self, external_id: Optional[str], email: Optional[str], role: str) -> Optional[Contact]:
        """Bulk create is a strict create: any existing user with the email rejects a (non-lead) item."""
        if external_id is not None and external_id in self.by_external_id:
            return self.by_external_id[external_id]
        if role != "lead" and email:
            for c in self.with_email(email):
                if c.role != "lead":
                    return c
        return None
