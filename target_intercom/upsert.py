"""Carrying out one record's lookup decision through the stable Contacts API.

A create that Intercom answers with 409 (the contact exists, though search did
not show it yet) becomes an update of the contact the conflict names, which
is exactly what the lookup rules would have chosen had search been current.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
from typing import Any, Dict, Iterator, List, Mapping

from target_intercom.attributes import AttributeCatalog
from target_intercom.identity import Create, Decision, Reject, RecentContacts, Resolver, Unchanged, Update
from target_intercom.intercom import ContactConflict, IntercomClient, IntercomContact, RequestRejected
from target_intercom.mapping import ContactPayload
from target_intercom.metrics import RunStats
from target_intercom.rejects import RecordRejected, Rejection, RejectsLedger

logger = logging.getLogger(__name__)


class ContactUpserter:
    def __init__(
        self,
        *,
        client: IntercomClient,
        catalog: AttributeCatalog,
        recent: RecentContacts,
        ledger: RejectsLedger,
        stats: RunStats,
        stream: str,
        dry_run: bool,
    ) -> None:
        self._client = client
        self._catalog = catalog
        self._recent = recent
        self._ledger = ledger
        self._stats = stats
        self._stream = stream
        self._dry_run = dry_run
        self._dry_run_ids = itertools.count(1)

    def write_chain(self, payloads: List[ContactPayload], resolver: Resolver) -> None:
        """Records that may mean the same user, in input order."""
        for payload in payloads:
            self.upsert(payload, resolver)

    def upsert(self, payload: ContactPayload, resolver: Resolver) -> None:
        """Write one record, or reject it with a reason; raises only for run-ending failures."""
        with self.rejecting(payload):
            custom = self._catalog.custom_attributes(payload)
            self._apply(payload, custom, resolver.decide(payload, custom))

    def apply(self, payload: ContactPayload, custom: Mapping[str, Any], decision: Decision) -> None:
        """Carry out a decision already taken (by the bulk writer), rejecting the record on failure."""
        with self.rejecting(payload):
            self._apply(payload, custom, decision)

    @contextlib.contextmanager
    def rejecting(self, payload: ContactPayload) -> Iterator[None]:
        """Turns a record-level failure into a rejection of the record."""
        try:
            yield
        except RecordRejected as exc:
            self.reject(payload, exc.reason, exc.code)
        except RequestRejected as exc:
            self.reject(payload, f"Intercom refused it ({exc.status} {exc.code or 'error'}: {exc.message})", exc.code)

    def reject(self, payload: ContactPayload, reason: str, code: Any) -> None:
        identifiers = {"id": payload.intercom_id, "user_id": payload.external_id, "email": payload.email}
        self._stats.add("rejected")
        self._ledger.reject(
            Rejection(
                stream=self._stream,
                line=payload.line,
                identifiers={k: v for k, v in identifiers.items() if v is not None},
                reason=reason,
                code=code,
                record=payload.record,
            )
        )

    def _apply(self, payload: ContactPayload, custom: Mapping[str, Any], decision: Decision) -> None:
        if isinstance(decision, Reject):
            raise RecordRejected(decision.reason, decision.code)
        if isinstance(decision, Unchanged):
            self._stats.add("unchanged")
        elif isinstance(decision, Update):
            self._update(decision.contact.id, payload, custom)
        elif isinstance(decision, Create):
            self._create(payload, custom)

    def _create(self, payload: ContactPayload, custom: Mapping[str, Any]) -> None:
        body: Dict[str, Any] = {"role": "user"}
        body.update((k, v) for k, v in payload.core.items() if v is not None)
        attributes = {k: v for k, v in custom.items() if v is not None}
        if attributes:
            body["custom_attributes"] = attributes
        if self._dry_run:
            self._remember_planned(f"dry-run-{next(self._dry_run_ids)}", payload, attributes)
            self._stats.add("created")
            return
        try:
            contact = self._client.create_contact(body)
        except ContactConflict as conflict:
            self._update_after_conflict(conflict, payload, custom)
            return
        self._recent.remember(contact)
        self._stats.add("created")

    def _update_after_conflict(
        self, conflict: ContactConflict, payload: ContactPayload, custom: Mapping[str, Any]
    ) -> None:
        if conflict.archived:
            raise RecordRejected(
                f"an archived Intercom contact matches this user (id={conflict.contact_id}); "
                "unarchive it in Intercom to load this record",
                "conflict_archived",
            )
        if not conflict.contact_id:
            raise RecordRejected(f"Intercom reports a conflicting contact: {conflict}", "conflict")
        self._update(conflict.contact_id, payload, custom, after_conflict=True)

    def _update(
        self, contact_id: str, payload: ContactPayload, custom: Mapping[str, Any], after_conflict: bool = False
    ) -> None:
        body: Dict[str, Any] = dict(payload.core)
        if after_conflict:
            # Search sees only users; the contact a conflict names may be a lead
            # holding this user_id, and the record says it is a user.
            body["role"] = "user"
        if custom:
            body["custom_attributes"] = dict(custom)
        if self._dry_run:
            self._remember_planned(contact_id, payload, custom)
            self._stats.add("updated")
            return
        try:
            contact = self._client.update_contact(contact_id, body)
        except ContactConflict as conflict:
            raise RecordRejected(
                f"its user_id or email belongs to another Intercom contact (id={conflict.contact_id})", "conflict"
            ) from None
        except RequestRejected as exc:
            if exc.status != 404 or after_conflict:
                raise
            # Deleted since the lookup: what is left to do is a create.
            self._create(payload, custom)
            return
        self._recent.remember(contact)
        self._stats.add("updated")

    def _remember_planned(self, contact_id: str, payload: ContactPayload, custom: Mapping[str, Any]) -> None:
        core = {k: v for k, v in payload.core.items()}
        self._recent.remember(
            IntercomContact(
                id=contact_id,
                role="user",
                external_id=payload.external_id,
                email=payload.email,
                core=core,
                custom=dict(custom),
            )
        )
