"""Removing users deleted at the source (`_sdc_deleted_at`), as `delete_mode` says.

The user is looked up with the batch's search and the lookup rules of a
write: the contact a write would update is the one removed; a record a write
would create a user for names no user, which is already gone (never created,
or archived or deleted before: Intercom hides both from search). `archive`
is reversible (`POST /contacts/{id}/archive`); `delete` is permanent and
Intercom keeps the user's email and user_id reserved afterwards. A 404 on the
call means the user went meanwhile: already gone too. The removed contact is
forgotten by the run, so a later record of that user in the same run meets
Intercom's "archived contact" conflict like a later run would.
"""

from __future__ import annotations

import logging
from typing import Iterable, List, Optional

from target_intercom.deletes import ALREADY_GONE, ARCHIVED, DELETE, DELETED, IgnoredDeletions
from target_intercom.intercom import IntercomContact, Refused
from target_intercom.rejects import RecordRejected
from target_intercom.units.base import Workspace
from target_intercom.units.contacts.identity import Create, RecentContacts, Reject, Resolver
from target_intercom.units.contacts.mapping import ContactPayload

logger = logging.getLogger(__name__)


class ContactRemover:
    def __init__(self, workspace: Workspace, recent: RecentContacts, stream: str, mode: str) -> None:
        """`mode`: the delete_mode setting (archive, delete or ignore)."""
        self.mode = mode
        self._workspace = workspace
        self._contacts = workspace.client.contacts
        self._recent = recent
        self._stream = stream
        self._ignored = IgnoredDeletions(workspace.stats, stream, mode)

    def without_ignored(self, payloads: Iterable[ContactPayload]) -> List[ContactPayload]:
        """The payloads to handle: with delete_mode ignore, deletions are counted and left out."""
        return self._ignored.without_ignored(payloads)

    def remove(self, payload: ContactPayload, resolver: Resolver) -> None:
        """Archive or delete the user the record means; raises RecordRejected or Refused."""
        contact = self.target(payload, resolver)
        if contact is not None:
            self.remove_contact(contact)

    def target(self, payload: ContactPayload, resolver: Resolver) -> Optional[IntercomContact]:
        """The contact the record means, or None (counted as already gone)."""
        decision = resolver.decide(payload, {})
        if isinstance(decision, Reject) and decision.code != "not_found":
            raise RecordRejected(decision.reason, decision.code)
        if isinstance(decision, (Create, Reject)):
            self._workspace.stats.add(self._stream, ALREADY_GONE)
            return None
        return decision.contact

    def remove_contact(self, contact: IntercomContact) -> None:
        """One stable call: archive, or delete for good; 404 is already gone."""
        if self._workspace.dry_run:
            self.removed([contact], ARCHIVED if self.mode != DELETE else DELETED)
            return
        try:
            if self.mode == DELETE:
                self._contacts.delete(contact.id)
            else:
                self._contacts.archive(contact.id)
        except Refused as exc:
            if exc.status != 404:
                raise
            self.removed([contact], ALREADY_GONE)
            return
        self.removed([contact], DELETED if self.mode == DELETE else ARCHIVED)

    def removed(self, contacts: List[IntercomContact], outcome: str) -> None:
        for contact in contacts:
            self._recent.forget(contact.id, deleted=outcome == DELETED)
        self._workspace.stats.add(self._stream, outcome, len(contacts))
