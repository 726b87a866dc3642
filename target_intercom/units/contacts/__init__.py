"""Contacts: the users stream's records become Intercom contacts with the role user.

Each batch is looked up with a few searches (see `identity`), its records are
grouped by the user they may mean, and each group is written in input order,
through the stable Contacts API (`write`) or Intercom's Preview bulk jobs
(`bulk`).
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import AbstractSet, Any, Dict, FrozenSet, List, Mapping, Optional, Sequence, Tuple

from target_intercom.intercom import IntercomCompany, IntercomContact, Refused
from target_intercom.units.base import Group, Keys, Mapper, Payload, Workspace
from target_intercom.units.companies.write import CompanyWriter
from target_intercom.units.contacts.bulk import BulkWriter
from target_intercom.units.contacts.companies import Attachments, CompanyRef, CompanyResolution, resolutions
from target_intercom.units.contacts.owners import Owners
from target_intercom.units.contacts.identity import (
    EmailTwins,
    ContactIndex,
    RecentContacts,
    Reject,
    Resolver,
    Term,
    looks_like_intercom_id,
    lookup_terms,
)
from target_intercom.units.contacts.mapping import ContactMapper, ContactPayload
from target_intercom.units.contacts.remove import ContactRemover
from target_intercom.units.contacts.search import ContactSearch
from target_intercom.units.contacts.write import ContactWriter
from target_intercom.units.tags import Entity, Tagger

logger = logging.getLogger(__name__)

OUTCOMES = ("created", "updated", "unchanged", "rejected")


class ContactsUnit:
    noun = "users"
    outcomes: Sequence[str] = OUTCOMES

    def __init__(
        self,
        workspace: Workspace,
        *,
        stream: str,
        overrides: Mapping[str, Optional[str]],
        exclude: AbstractSet[str] = frozenset(),
        owner_id_as_text: bool,
        bulk_job_timeout: Optional[float],
        max_concurrency: int,
        companies: CompanyWriter,
        companies_stats: str,
        tagger: Tagger,
        unarchive: bool = False,
        delete_mode: str = "archive",
    ) -> None:
        """`bulk_job_timeout` None writes through the stable API; a number, through bulk jobs.

        `companies` writes the companies user records name, counted under `companies_stats`;
        `unarchive` says what becomes of a user an archived contact stands for (see `write`);
        `delete_mode` what becomes of one deleted at the source (see `remove`).
        """
        self.stream = stream
        self._workspace = workspace
        self._overrides = overrides
        self._exclude = exclude
        self._owner_id_as_text = owner_id_as_text
        self._recent = RecentContacts()
        self._search = ContactSearch(workspace.client.contacts)
        self._companies = companies
        self._tagger = tagger
        self._twins = EmailTwins()
        self._warned_twins = False
        self.attachments = attachments = Attachments(workspace, companies, stream, companies_stats)
        self.company_directory = companies.directory
        self._writer = ContactWriter(
            workspace,
            self._recent,
            attachments,
            stream,
            unarchive=unarchive,
            owners=Owners(workspace.client),
            remover=ContactRemover(workspace, self._recent, stream, delete_mode),
        )
        self._bulk: Optional[BulkWriter] = None
        if bulk_job_timeout is not None:
            self._bulk = BulkWriter(
                workspace=workspace,
                recent=self._recent,
                writer=self._writer,
                search=self._search,
                stream=stream,
                job_timeout=bulk_job_timeout,
                max_concurrency=max_concurrency,
            )
        self.writes_whole_batches = self._bulk is not None
        self._warned_unknown_id = False

    def mapper(self, schema: Optional[Mapping[str, Any]]) -> Mapper:
        return ContactMapper(self._overrides, schema, self._owner_id_as_text, self._exclude)

    def identifier_sources(self) -> List[Tuple[str, str]]:
        named = (("user_id", "user_id"), ("id", "id"), ("email", "email"))
        return [(name, source) for name, default in named if (source := self._overrides.get(name, default))]

    def prepare(self, payloads: Sequence[Payload]) -> "ContactBatch":
        contacts = self._writer.remover.without_ignored(p for p in payloads if isinstance(p, ContactPayload))
        unknown = [p for p in contacts if not self._recent.knows(p)]
        found, refused = self._search.find(term for p in unknown for term in lookup_terms(p))
        for payload in unknown:
            if payload.intercom_id and not found.by_id(payload.intercom_id):
                self._look_up_by_id(payload.intercom_id, found, warn=not payload.deleted)
        self._workspace.catalog("contact").prepare(contacts)
        companies = [ref.company for p in contacts for ref in p.companies if ref.company is not None]
        if companies:
            # Users that describe no company need no listing of company attributes.
            self._workspace.catalog("company").prepare(companies)
        self._consider_reading_companies(contacts)
        return ContactBatch(self, contacts, Resolver(found, self._recent, _unsearched(refused), self._twins))

    def _consider_reading_companies(self, contacts: List[ContactPayload]) -> None:
        """Users name companies by company_id; attaching needs Intercom's id, which reading the workspace gives."""
        directory = self._companies.directory
        unknown = {ref.company_id: ref for p in contacts for ref in p.companies if directory.get(ref.company_id) is None}
        if unknown:
            directory.consider_reading(list(unknown.values()), lambda ref: ref.company_id, self._found_saves_a_call)

    def _found_saves_a_call(self, ref: CompanyRef, company: IntercomCompany) -> bool:
        # A company only named needs its id, found; one described needs its values, held.
        return ref.company is None or self._companies.holds_values(ref.company, company)

    def close(self) -> None:
        if self._bulk is not None:
            self._bulk.close()
        if len(self._twins) and not self._warned_twins:
            self._warned_twins = True
            logger.warning(
                "%d users share an email with a user that has no user_id: that user was created in Intercom "
                "(by the Messenger or another integration) too recently for search to show it when these were "
                "created, so rule 3 could not give it the user_id; merge each pair in Intercom",
                len(self._twins),
            )

    def _look_up_by_id(self, contact_id: str, found: ContactIndex, warn: bool = True) -> None:
        # Search lags writes; a lookup by id does not. A value that cannot be
        # an Intercom id is not worth a request, but is worth a warning (`warn`:
        # not for a user deleted at the source, which is often gone already).
        contact = self._workspace.client.contacts.find(contact_id) if looks_like_intercom_id(contact_id) else None
        if contact is not None:
            found.add(contact, also_as=contact_id)  # a merged contact is found as the one it became
        elif warn and not self._warned_unknown_id:
            self._warned_unknown_id = True
            logger.warning(
                "records name Intercom contact ids that do not exist; the field they come from (id unless "
                "reserved_field_overrides says otherwise) must hold Intercom's contact id. If it holds your "
                'own user id, set reserved_field_overrides to {"user_id": "id", "id": null}'
            )

    def write(self, payloads: Sequence[ContactPayload], resolver: Resolver) -> None:
        if self._bulk is not None:
            self._bulk.write_batch(payloads, resolver)
        else:
            self._writer.write_chain(payloads, resolver)

    def tag(self, payloads: Sequence[ContactPayload]) -> None:
        """Give the batch's written users the tags their records list (see `units.tags`)."""
        latest: Dict[str, Tuple[ContactPayload, IntercomContact]] = {}
        for payload in payloads:
            if payload.tags is not None and payload.written is not None:
                latest[payload.written.id] = (payload, payload.written)  # the later record of a user wins
        entities = [Entity(c.id, p, p.tags or (), self._held_tags(c)) for p, c in latest.values()]
        carried = self._tagger.apply(entities)
        for _, contact in latest.values():
            if carried[contact.id] != contact.tags:
                self._recent.remember(replace(contact, tags=carried[contact.id], all_tags_listed=True))

    def _held_tags(self, contact: IntercomContact) -> FrozenSet[str]:
        if contact.all_tags_listed or self._workspace.dry_run:
            return contact.tags
        # The contact object lists ten tags at most: the others are read.
        return frozenset(self._workspace.client.tags.of_contact(contact.id))


def _unsearched(refused: Mapping[Term, Refused]) -> Dict[Term, Reject]:
    """How a record is rejected when Intercom refused to search for one of its values on its own."""
    named = {"id": "id", "external_id": "user_id", "email": "email"}
    return {
        (field, value): Reject(
            f"Intercom refused the search for its {named[field]} "
            f"({exc.status} {exc.code or 'error'}: {exc.message})",
            exc.code or "search_refused",
        )
        for (field, value), exc in refused.items()
    }


class ContactBatch:
    """A batch of the users stream, looked up."""

    def __init__(self, unit: ContactsUnit, payloads: List[ContactPayload], resolver: Resolver) -> None:
        self._unit = unit
        self._payloads = payloads
        self._resolver = resolver

    def groups(self) -> List[Group]:
        directory = self._unit.company_directory
        groups = [Group(r.keys(), [r]) for r in resolutions(self._payloads, directory)]
        groups += [Group(keys, members) for keys, members in self._resolver.groups(self._payloads)]
        tagged = [p for p in self._payloads if p.tags is not None]
        if tagged:
            # Tags are added per tag across the batch, once its users are written.
            awaits = frozenset(key for p in tagged for key in p.identity_keys())
            groups.append(Group(Keys(awaits=awaits), tagged, after_writes=True))
        return groups

    def write(self, group: Group) -> None:
        for payload in group.payloads:
            if isinstance(payload, CompanyResolution):
                self._unit.attachments.resolve(payload.company_id)
        contacts = [p for p in group.payloads if isinstance(p, ContactPayload)]
        if group.after_writes:
            self._unit.tag(contacts)
        elif contacts:
            self._unit.write(contacts, self._resolver)
