"""Which Intercom contact a record means: the lookup rules of the bulk users API.

The retired bulk users API looked users up by `id`, then `user_id`, then
`email`:

1. id matched: update; user_id and email are updated if sent.
2. user_id matched: update; email is updated if sent.
3. email matched a user without a user_id: update, setting the sent user_id.
4. email matched a user with a user_id, and another user_id is sent: create a
   new user.

No match creates a user. Candidates come from one search per batch (IN
filters on ids, user_ids and emails) and from `RecentContacts`, the contacts
this run wrote, which search may not show yet: Intercom's search lags writes by
up to minutes.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Set, Tuple, Union

from target_intercom.intercom import IntercomContact
from target_intercom.units.base import Keys
from target_intercom.units.contacts.mapping import ContactPayload, contact_keys

# Intercom's contact ids are 24 hexadecimal digits.
_INTERCOM_ID = re.compile(r"^[0-9a-f]{24}$")

# Contacts removed by this run that are kept from matching records found by a search made before.
MAX_GONE = 100_000

# What a search looks for: (field, value), e.g. ("email", "ada@example.com").
Term = Tuple[str, str]


def looks_like_intercom_id(value: str) -> bool:
    return bool(_INTERCOM_ID.match(value))


def lookup_terms(payload: ContactPayload) -> List[Term]:
    """What finds every user a record may mean: its Intercom id, its user_id, its email.

    Only values that can be Intercom ids are searched as ids. Whether Intercom's
    email search ignores case is not documented, so an email is searched as
    sent and in lower case.
    """
    terms: List[Term] = []
    if payload.intercom_id and looks_like_intercom_id(payload.intercom_id):
        terms.append(("id", payload.intercom_id))
    if payload.external_id:
        terms.append(("external_id", payload.external_id))
    if payload.email:
        terms += [("email", payload.email), ("email", payload.email.lower())]
    return list(dict.fromkeys(terms))


@dataclass(frozen=True)
class Create:
    pass


@dataclass(frozen=True)
class Update:
    contact: IntercomContact


@dataclass(frozen=True)
class Unchanged:
    contact: IntercomContact


@dataclass(frozen=True)
class Reject:
    reason: str
    code: str


Decision = Union[Create, Update, Unchanged, Reject]


class ContactIndex:
    """Contacts by id, external_id and email (case-insensitive)."""

    def __init__(self) -> None:
        self._by_id: Dict[str, IntercomContact] = {}
        self._by_external_id: Dict[str, str] = {}
        self._by_email: Dict[str, Dict[str, None]] = {}
        self._merged: Dict[str, str] = {}  # a merged contact's id: the id of the one it became

    def add(self, contact: IntercomContact, also_as: Optional[str] = None) -> None:
        """Index the contact; `also_as`: another id that leads to it (one merged into it)."""
        self.discard(contact.id)
        self._by_id[contact.id] = contact
        if also_as is not None and also_as != contact.id:
            self._merged[also_as] = contact.id
        if contact.external_id:
            self._by_external_id[contact.external_id] = contact.id
        if contact.email:
            self._by_email.setdefault(contact.email.lower(), {})[contact.id] = None

    def discard(self, contact_id: str) -> None:
        old = self._by_id.pop(contact_id, None)
        if old is None:
            return
        if old.external_id and self._by_external_id.get(old.external_id) == contact_id:
            del self._by_external_id[old.external_id]
        if old.email:
            ids = self._by_email.get(old.email.lower(), {})
            ids.pop(contact_id, None)
            if not ids:
                self._by_email.pop(old.email.lower(), None)

    def by_id(self, contact_id: str) -> Optional[IntercomContact]:
        return self._by_id.get(self._merged.get(contact_id, contact_id))

    def by_external_id(self, external_id: str) -> Optional[IntercomContact]:
        contact_id = self._by_external_id.get(external_id)
        return self._by_id.get(contact_id) if contact_id else None

    def by_email(self, email: str) -> List[IntercomContact]:
        return [self._by_id[i] for i in self._by_email.get(email.lower(), ())]

    def __len__(self) -> int:
        return len(self._by_id)


class RecentContacts:
    """The contacts this run wrote, newest last, within a memory budget.

    The oldest entries are forgotten first; by then search shows them (and a
    create Intercom refuses as a conflict names the contact anyway). The budget
    is in bytes, not contacts, because a contact's size grows with its custom
    attributes: 32 MiB holds about 18,000 contacts with a few attributes, or
    1,600 with fifty long ones.
    """

    def __init__(self, budget_bytes: int = 32 * 2**20) -> None:
        self._budget = budget_bytes
        self._used = 0
        self._lock = threading.Lock()
        self._index = ContactIndex()
        self._sizes: "OrderedDict[str, int]" = OrderedDict()
        # Contacts this run archived or deleted: what search found of them before is stale.
        # (True: deleted for good, which a later 409 "archived contact" does not tell.)
        self._gone: "OrderedDict[str, bool]" = OrderedDict()

    def remember(self, contact: IntercomContact) -> None:
        with self._lock:
            self._gone.pop(contact.id, None)  # unarchived since
            self._used -= self._sizes.pop(contact.id, 0)
            self._index.add(contact)
            self._sizes[contact.id] = size = footprint(contact)
            self._used += size
            while self._used > self._budget and len(self._sizes) > 1:
                oldest, oldest_size = self._sizes.popitem(last=False)
                self._index.discard(oldest)
                self._used -= oldest_size

    def forget(self, contact_id: str, deleted: bool = False) -> None:
        """The contact was archived (or `deleted`): no record may match it any more (a write meets its 409)."""
        with self._lock:
            self._used -= self._sizes.pop(contact_id, 0)
            self._index.discard(contact_id)
            self._gone[contact_id] = deleted
            if len(self._gone) > MAX_GONE:
                self._gone.popitem(last=False)  # by then search no longer shows it

    def gone(self, contact_id: str) -> bool:
        with self._lock:
            return contact_id in self._gone

    def deleted(self, contact_id: str) -> bool:
        """Whether this run deleted the contact for good."""
        with self._lock:
            return self._gone.get(contact_id, False)

    def knows(self, payload: ContactPayload) -> bool:
        """Whether the lookup can be decided without searching."""
        with self._lock:
            if payload.intercom_id:
                return self._index.by_id(payload.intercom_id) is not None
            if payload.external_id:
                return self._index.by_external_id(payload.external_id) is not None
            return bool(payload.email and self._index.by_email(payload.email))

    def snapshot_for(self, payload: ContactPayload) -> List[IntercomContact]:
        with self._lock:
            found = []
            if payload.intercom_id:
                found.append(self._index.by_id(payload.intercom_id))
            if payload.external_id:
                found.append(self._index.by_external_id(payload.external_id))
            if payload.email:
                found.extend(self._index.by_email(payload.email))
            return [contact for contact in found if contact is not None]

    def __len__(self) -> int:
        with self._lock:
            return len(self._sizes)


def footprint(contact: IntercomContact) -> int:
    """Bytes a remembered contact takes, about (measured with tracemalloc on CPython 3.11)."""
    values = list(contact.core.values()) + list(contact.custom.values())
    return 750 + sum(130 + (len(v) if isinstance(v, str) else 0) for v in values)


class EmailTwins:
    """Users that share their email with a user that has no user_id: rule 3 missed them.

    A user with an email but no user_id, created elsewhere (the Messenger,
    another integration) moments before this run, is invisible to search; a
    record with that email and a user_id then creates a second user where
    rule 3 would have given the first one the user_id (Intercom creates it:
    it does not match on email when a user_id is sent). Once search shows
    both, a later run sees the pair and says so.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ids: Set[str] = set()

    def note(self, payload: ContactPayload, match: IntercomContact, candidates: "ContactIndex") -> None:
        if not (payload.external_id and payload.email and match.external_id == payload.external_id):
            return
        if any(c.id != match.id and not c.external_id and c.role in (None, "user") for c in candidates.by_email(payload.email)):
            with self._lock:
                self._ids.add(match.id)

    def __len__(self) -> int:
        with self._lock:
            return len(self._ids)


class Resolver:
    """Applies the lookup rules to one record, given what search found and what this run wrote."""

    def __init__(
        self,
        found: ContactIndex,
        recent: RecentContacts,
        unsearched: Optional[Mapping[Term, Reject]] = None,
        twins: Optional[EmailTwins] = None,
    ) -> None:
        """`unsearched`: the terms Intercom refused to search for, and how their records are rejected."""
        self._found = found
        self._recent = recent
        self._unsearched = unsearched or {}
        self._twins = twins

    def groups(self, payloads: Sequence[ContactPayload]) -> List[Tuple[Keys, List[ContactPayload]]]:
        return group_by_user(payloads, self._recent, self._found)

    def decide(self, payload: ContactPayload, custom: Mapping[str, Any]) -> Decision:
        if self._unsearched:
            for term in lookup_terms(payload):
                if term in self._unsearched:
                    return self._unsearched[term]
        candidates = ContactIndex()
        for contact in self._candidates(payload):
            # A merged contact's old id leads to the contact it became.
            candidates.add(contact, also_as=payload.intercom_id if contact is self._found_by_id(payload) else None)
        match = _match(payload, candidates)
        if isinstance(match, IntercomContact):
            if self._twins is not None:
                self._twins.note(payload, match, candidates)
            if holds(match, payload.core, custom):
                return Unchanged(match)
            return Update(match)
        return match

    def email_taken(self, payload: ContactPayload) -> bool:
        """Whether a contact the lookup knows holds the record's email (compared without case)."""
        if not payload.email:
            return False
        email = payload.email.lower()
        return any(c.email is not None and c.email.lower() == email for c in self._candidates(payload))

    def _found_by_id(self, payload: ContactPayload) -> Optional[IntercomContact]:
        return self._found.by_id(payload.intercom_id) if payload.intercom_id else None

    def _candidates(self, payload: ContactPayload) -> Iterable[IntercomContact]:
        # A contact this run removed is no candidate, though a search made before found it.
        return [c for c in self._all_candidates(payload) if not self._recent.gone(c.id)]

    def _all_candidates(self, payload: ContactPayload) -> Iterable[IntercomContact]:
        # What this run wrote is newer than what search found: it goes last.
        yield from _present(self._found_by_id(payload))
        if payload.external_id:
            yield from _present(self._found.by_external_id(payload.external_id))
        if payload.email:
            yield from self._found.by_email(payload.email)
        yield from self._recent.snapshot_for(payload)


def _present(contact: Optional[IntercomContact]) -> List[IntercomContact]:
    return [contact] if contact is not None else []


def _match(payload: ContactPayload, candidates: ContactIndex) -> Union[IntercomContact, Create, Reject]:
    if payload.intercom_id:
        found = candidates.by_id(payload.intercom_id)
        if found:
            return found
    if payload.external_id:
        found = candidates.by_external_id(payload.external_id)
        if found:
            return found
    if payload.email:
        users = [c for c in candidates.by_email(payload.email) if c.role in (None, "user")]
        if payload.external_id:
            without_user_id = [c for c in users if not c.external_id]
            if len(without_user_id) == 1:
                return without_user_id[0]
            if len(without_user_id) > 1:
                return Reject(
                    f"{len(without_user_id)} Intercom users without a user_id have this email; "
                    "cannot tell which one to give the user_id",
                    "ambiguous_email",
                )
            return Create()
        if len(users) == 1:
            return users[0]
        if len(users) > 1:
            return Reject(
                f"{len(users)} Intercom users have this email; send a user_id to pick one",
                "ambiguous_email",
            )
        return Create()
    if payload.intercom_id and not payload.external_id:
        return Reject(f"no Intercom contact has id {payload.intercom_id}", "not_found")
    return Create()


def holds(contact: IntercomContact, core: Mapping[str, Any], custom: Mapping[str, Any]) -> bool:
    """Whether the contact already holds every value the record would write."""
    for name, value in core.items():
        if not _same_core(name, contact.core.get(name), value):
            return False
    for name, value in custom.items():
        if not _same(contact.custom.get(name), value):
            return False
    return True


def update_core(contact: Optional[IntercomContact], core: Mapping[str, Any]) -> Dict[str, Any]:
    """The core fields an update of this contact sends: the record's, with last_seen_at only if it moves forward.

    Intercom moves last_seen_at itself when the user is active in the Messenger,
    so an older value from the source would rewind it. When the contact's
    value is unknown (`contact` None), last_seen_at is not sent: the next run,
    which looks the contact up, sends it if it is newer.
    """
    body = dict(core)
    if "last_seen_at" in body and (contact is None or not moves_forward(contact, body["last_seen_at"])):
        del body["last_seen_at"]
    return body


def moves_forward(contact: IntercomContact, last_seen_at: Any) -> bool:
    held = contact.core.get("last_seen_at")
    return held is None or (last_seen_at is not None and last_seen_at > held)


def _same_core(name: str, held: Any, sent: Any) -> bool:
    if name == "last_seen_at":
        return held is not None and sent is not None and sent <= held
    if name == "email" and isinstance(held, str) and isinstance(sent, str):
        # Emails are compared without regard to case, as lookups compare them.
        return held.lower() == sent.lower()
    return _same(held, sent)


def _same(held: Any, sent: Any) -> bool:
    if isinstance(held, bool) or isinstance(sent, bool):
        return held is sent
    if held is not None and sent is not None and isinstance(held, str) != isinstance(sent, str):
        # owner_id is an integer before Intercom-Version 2.16 and text after.
        return str(held) == str(sent)
    return held == sent


def group_by_user(
    payloads: Sequence[ContactPayload], recent: RecentContacts, found: ContactIndex
) -> List[Tuple[Keys, List[ContactPayload]]]:
    """Records that may mean the same user, grouped in input order, with the keys they claim and await.

    Two records may mean the same user when they share an id, a user_id or an
    email, or when they match the same known contact.
    """
    parent: Dict[str, str] = {}

    def root(key: str) -> str:
        while parent.setdefault(key, key) != key:
            parent[key] = parent[parent[key]]
            key = parent[key]
        return key

    keyed = []
    for payload in payloads:
        keys = payload.identity_keys() + _matched_contact_keys(payload, recent, found)
        for key in keys[1:]:
            parent[root(key)] = root(keys[0])
        keyed.append((payload, keys))
    groups: Dict[str, Tuple[Set[str], Set[str], List[ContactPayload]]] = {}
    for payload, keys in keyed:
        claims, awaits, members = groups.setdefault(root(keys[0]), (set(), set(), []))
        # The payload's own keys too: the companies it writes, and those it only names (awaits).
        own = payload.keys()
        claims.update(keys, own.claims)
        awaits.update(own.awaits)
        members.append(payload)
    return [
        (Keys(claims=frozenset(claims), awaits=frozenset(awaits - claims)), members)
        for claims, awaits, members in groups.values()
    ]


def _matched_contact_keys(payload: ContactPayload, recent: RecentContacts, found: ContactIndex) -> List[str]:
    contacts: List[Optional[IntercomContact]] = list(recent.snapshot_for(payload))
    if payload.intercom_id:
        contacts.append(found.by_id(payload.intercom_id))
    if payload.external_id:
        contacts.append(found.by_external_id(payload.external_id))
    if payload.email:
        contacts.extend(found.by_email(payload.email))
    return [key for c in contacts if c is not None for key in contact_keys(c.id, None, None)]
