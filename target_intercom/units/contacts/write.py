"""Carrying out one record's lookup decision through the stable Contacts API.

A create that Intercom answers with 409 (the contact exists, though search did
not show it yet) becomes an update of the contact the conflict names, which
is exactly what the lookup rules would have chosen had search been current.
A conflict with an archived contact (or a deleted one: Intercom keeps its
identity reserved and answers alike) is skipped or unarchived, as the
`archived_contacts` setting says. An update of a contact merged into another
(410) goes to the contact it became.
"""

from __future__ import annotations

import itertools
import logging
from typing import Any, Dict, Mapping, Optional, Sequence

from target_intercom.intercom import Conflict, IntercomContact, Refused
from target_intercom.rejects import RecordRejected, RecordSkipped
from target_intercom.units.base import Workspace
from target_intercom.units.contacts.companies import Attachments
from target_intercom.units.contacts.identity import (
    Decision,
    RecentContacts,
    Reject,
    Resolver,
    Unchanged,
    Update,
    update_core,
)
from target_intercom.units.contacts.mapping import ContactPayload
from target_intercom.units.contacts.owners import Owners
from target_intercom.units.contacts.remove import ContactRemover

logger = logging.getLogger(__name__)

# What the summary counts on the users stream.
UNARCHIVED = "unarchived"


class ContactWriter:
    def __init__(
        self,
        workspace: Workspace,
        recent: RecentContacts,
        attachments: Attachments,
        stream: str,
        unarchive: bool = False,
        owners: Optional[Owners] = None,
        remover: Optional[ContactRemover] = None,
    ) -> None:
        """`unarchive`: an archived contact that holds a record's identity is unarchived and updated (else skipped).

        `owners` checks the owner_id records carry against the workspace's admins; `remover` removes the users
        of records deleted at the source (archives them when None).
        """
        self.remover = remover or ContactRemover(workspace, recent, stream, "archive")
        self._unarchive = unarchive
        self._owners = owners
        self._workspace = workspace
        self._contacts = workspace.client.contacts
        self._catalog = workspace.catalog("contact")
        self._recent = recent
        self._attachments = attachments
        self._stream = stream
        self._dry_run = workspace.dry_run
        self._dry_run_ids = itertools.count(1)

    def write_chain(self, payloads: Sequence[ContactPayload], resolver: Resolver) -> None:
        """Records that may mean the same user, in input order."""
        for payload in payloads:
            with self._workspace.settling(self._stream, payload):
                if payload.deleted:
                    self.remover.remove(payload, resolver)
                    continue
                self.before(payload)
                custom = self._catalog.custom_attributes(payload, self._stream)
                self.write(payload, custom, resolver.decide(payload, custom))

    def before(self, payload: ContactPayload) -> None:
        """What is checked or written before the user: its owner, the companies it describes."""
        if self._owners is not None and payload.core.get("owner_id") is not None:
            self._owners.check(payload.core["owner_id"])
        self._attachments.before(payload.companies)

    def write(self, payload: ContactPayload, custom: Mapping[str, Any], decision: Decision) -> None:
        """Carry out a decision, then attach the user to its companies; raises RecordRejected or Refused."""
        contact = self.apply(payload, custom, decision)
        payload.written = contact
        if payload.companies:
            attached = self._attachments.after(payload.companies, contact)
            if attached.companies != contact.companies:
                self._recent.remember(attached)
            payload.written = attached

    def apply(self, payload: ContactPayload, custom: Mapping[str, Any], decision: Decision) -> IntercomContact:
        """Carry out a decision; returns the contact as Intercom now holds it."""
        if isinstance(decision, Reject):
            raise RecordRejected(decision.reason, decision.code)
        if isinstance(decision, Unchanged):
            self._workspace.stats.add(self._stream, "unchanged")
            return decision.contact
        if isinstance(decision, Update):
            return self._update(decision.contact.id, payload, custom, held=decision.contact)
        return self._create(payload, custom)

    def _create(self, payload: ContactPayload, custom: Mapping[str, Any]) -> IntercomContact:
        body: Dict[str, Any] = {"role": "user"}
        body.update((k, v) for k, v in payload.core.items() if v is not None)
        attributes = {k: v for k, v in custom.items() if v is not None}
        if attributes:
            body["custom_attributes"] = attributes
        if self._dry_run:
            self._workspace.stats.add(self._stream, "created")
            return self._remember_planned(f"dry-run-{next(self._dry_run_ids)}", payload, attributes)
        try:
            contact = self._contacts.create(body)
        except Conflict as conflict:
            return self._update_after_conflict(conflict, payload, custom)
        self._recent.remember(contact)
        self._workspace.stats.add(self._stream, "created")
        return contact

    def _update_after_conflict(
        self, conflict: Conflict, payload: ContactPayload, custom: Mapping[str, Any]
    ) -> IntercomContact:
        if conflict.archived and conflict.existing_id:
            return self._archived(conflict.existing_id, payload, custom)
        if not conflict.existing_id:
            raise RecordRejected(f"Intercom reports a conflicting contact: {conflict}", "conflict")
        return self._update(conflict.existing_id, payload, custom, after_conflict=True)

    def _archived(self, contact_id: str, payload: ContactPayload, custom: Mapping[str, Any]) -> IntercomContact:
        if self._recent.deleted(contact_id):
            raise _deleted_in_intercom(contact_id, "this run deleted it (delete_mode delete)")
        if not self._unarchive:
            raise RecordSkipped(
                f"an archived Intercom contact holds this user's user_id or email (id={contact_id}); "
                "archived_contacts is skip (a contact deleted in Intercom looks the same: its identity stays reserved)",
                "archived_in_intercom",
                "archived in Intercom",
            )
        if not self._dry_run:
            try:
                self._contacts.unarchive(contact_id)
            except Refused as exc:
                if exc.status != 400:
                    raise
                raise _deleted_in_intercom(contact_id, exc.message) from None
        self._workspace.stats.add(self._stream, UNARCHIVED)
        return self._update(contact_id, payload, custom, after_conflict=True)

    def _update(
        self,
        contact_id: str,
        payload: ContactPayload,
        custom: Mapping[str, Any],
        held: Optional[IntercomContact] = None,
        after_conflict: bool = False,
    ) -> IntercomContact:
        """`held` is the contact as the lookup found it; None when a conflict named it."""
        body: Dict[str, Any] = update_core(held, payload.core)
        if after_conflict or (held is not None and held.role == "lead"):
            # The record says it is a user. Search sees only users, but a record
            # may name a lead by its Intercom id (rule 1), and a conflict may
            # name one; Intercom turns a lead into a user when told so together
            # with the user_id.
            body["role"] = "user"
        if custom:
            body["custom_attributes"] = dict(custom)
        if self._dry_run:
            self._workspace.stats.add(self._stream, "updated")
            return self._remember_planned(contact_id, payload, custom, core={**(held.core if held else {}), **body}, held=held)
        try:
            contact = self._contacts.update(contact_id, body)
        except Conflict as conflict:
            raise RecordRejected(
                f"its user_id or email belongs to another Intercom contact (id={conflict.existing_id})", "conflict"
            ) from None
        except Refused as exc:
            if exc.merged_into:
                # Merged into another contact since the lookup: that one holds the user now.
                return self._update(exc.merged_into, payload, custom, after_conflict=True)
            if exc.status != 404 or after_conflict:
                raise
            # Deleted since the lookup: what is left to do is a create.
            return self._create(payload, custom)
        self._recent.remember(contact)
        self._workspace.stats.add(self._stream, "updated")
        return contact

    def _remember_planned(
        self,
        contact_id: str,
        payload: ContactPayload,
        custom: Mapping[str, Any],
        core: Optional[Mapping[str, Any]] = None,
        held: Optional[IntercomContact] = None,
    ) -> IntercomContact:
        planned = IntercomContact(
            id=contact_id,
            role="user",
            external_id=payload.external_id,
            email=payload.email,
            core=dict(payload.core if core is None else core),
            custom=dict(custom),
            # What a plan says of tags depends on the ones the contact has.
            tags=held.tags if held else frozenset(),
            all_tags_listed=held.all_tags_listed if held else True,
        )
        self._recent.remember(planned)
        return planned


def _deleted_in_intercom(contact_id: str, why: str) -> RecordSkipped:
    return RecordSkipped(
        f"the Intercom contact holding this user's user_id or email was deleted (id={contact_id}): {why}",
        "deleted_in_intercom",
        "deleted in Intercom",
    )
