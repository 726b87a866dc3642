"""Tags on users and companies: the names a record lists, added grouped per tag, removed where managed_tags says.

A record's `tags` field lists tag names (a list, or one string separated by
commas). Once a batch's users or companies are written, each tag missing on
them is added with one `POST /tags` per 50 entities of that tag (Intercom
creates a tag it does not have). An entity that already carries a tag costs
nothing: the contact and company objects list their tags, by id, so the
workspace's tags are read once a run (`GET /tags`) to name them. Tags are
only removed when `managed_tags` covers them.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from typing import Any, Dict, FrozenSet, Iterable, List, Optional, Protocol, Sequence, Tuple, Union

from target_intercom.intercom import Refused
from target_intercom.intercom.tags import Tag, Tagged, TagsApi
from target_intercom.rejects import RecordRejected
from target_intercom.units.base import Payload, Workspace

logger = logging.getLogger(__name__)

# Intercom advises tagging at most 50 users a request: larger ones may time out.
MAX_PER_REQUEST = 50
# What the summary counts, on the stream of the tagged records.
ADDED, REMOVED = "tags added", "tags removed"
ALL = "all"


def tag_names(value: Any, source: str) -> Tuple[str, ...]:
    """The tag names a record's tags field holds, each once (compared without case); raises RecordRejected."""
    if value is None:
        return ()
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(i, (str, int)) and not isinstance(i, bool) for i in items):
        raise RecordRejected(
            f"{source}: expected a list of tag names or one string of names separated by commas", "invalid_value"
        )
    names: Dict[str, str] = {}
    for item in items:
        name = str(item).strip()
        if name:
            names.setdefault(name.lower(), name)
    return tuple(names.values())


class ManagedTags:
    """Which tags this target may remove: none (the default), the ones named, or all."""

    def __init__(self, setting: Union[str, Sequence[str]]) -> None:
        self._all = setting == ALL
        self._names = frozenset() if isinstance(setting, str) else frozenset(n.lower() for n in setting)

    def covers(self, name: str) -> bool:
        return self._all or name.lower() in self._names

    def __bool__(self) -> bool:
        return self._all or bool(self._names)


class TagCatalog:
    """The workspace's tags by name (without case) and by id: read once, then kept up by what the run tags."""

    def __init__(self, api: TagsApi) -> None:
        self._api = api
        self._lock = threading.Lock()
        self._by_name: Optional[Dict[str, Tag]] = None
        self._by_id: Dict[str, Tag] = {}
        self._reread = False

    def by_name(self, name: str) -> Optional[Tag]:
        with self._lock:
            return self._loaded().get(name.lower())

    def by_id(self, tag_id: str) -> Optional[Tag]:
        with self._lock:
            self._loaded()
            if tag_id not in self._by_id and not self._reread:
                # Created since the run read the tags (by a teammate, another integration): read them again, once.
                self._reread = True
                self._by_name = None
                self._loaded()
            return self._by_id.get(tag_id)

    def learn(self, tag: Tag) -> None:
        with self._lock:
            self._loaded()[tag.name.lower()] = tag
            self._by_id[tag.id] = tag

    def _loaded(self) -> Dict[str, Tag]:
        if self._by_name is None:
            tags = self._api.all()
            self._by_name = {tag.name.lower(): tag for tag in tags}
            self._by_id.update((tag.id, tag) for tag in tags)
        return self._by_name


@dataclass
class Entity:
    """One written user or company and the tags its record lists."""

    id: str
    payload: Payload
    wanted: Tuple[str, ...]
    held: FrozenSet[str]  # ids of the tags it carries
    add: List[str] = field(default_factory=list)
    remove: List[Tag] = field(default_factory=list)


class TagSender(Protocol):
    """How one kind of entity is tagged and untagged."""

    kind: str  # "user" or "company", for messages

    def tag(self, name: str, ids: Sequence[str]) -> Tagged: ...

    def untag(self, tag: Tag, ids: Sequence[str]) -> None: ...


class ContactTags:
    kind = "user"

    def __init__(self, api: TagsApi) -> None:
        self._api = api

    def tag(self, name: str, ids: Sequence[str]) -> Tagged:
        return self._api.tag_contacts(name, ids)

    def untag(self, tag: Tag, ids: Sequence[str]) -> None:
        for contact_id in ids:  # Intercom has no bulk untag for contacts
            self._api.untag_contact(contact_id, tag.id)


class CompanyTags:
    kind = "company"

    def __init__(self, api: TagsApi) -> None:
        self._api = api

    def tag(self, name: str, ids: Sequence[str]) -> Tagged:
        return self._api.tag_companies(name, ids)

    def untag(self, tag: Tag, ids: Sequence[str]) -> None:
        self._api.tag_companies(tag.name, ids, untag=True)


class Tagger:
    """Brings a batch's entities to the tags their records list, with as few calls as Intercom allows."""

    def __init__(
        self, workspace: Workspace, catalog: TagCatalog, managed: ManagedTags, sender: TagSender, stream: str
    ) -> None:
        self._workspace = workspace
        self._catalog = catalog
        self._managed = managed
        self._sender = sender
        self._stream = stream

    def apply(self, entities: Sequence[Entity]) -> Dict[str, FrozenSet[str]]:
        """Tag and untag; returns, per entity id, the tag ids it now carries. Failures reject their records."""
        for entity in entities:
            self._plan(entity)
        failed: Dict[int, Entity] = {}
        carried = {e.id: set(e.held) for e in entities}
        for name, members in _by_tag_name(entities):
            for chunk in _chunks(members, MAX_PER_REQUEST):
                for entity, tag in self._add(name, chunk, failed):
                    carried[entity.id].add(tag.id)
        for tag, members in _by_tag(entities):
            for entity in self._remove(tag, members, failed):
                carried[entity.id].discard(tag.id)
        return {entity_id: frozenset(ids) for entity_id, ids in carried.items()}

    def _plan(self, entity: Entity) -> None:
        held_names = {}
        for tag_id in entity.held:
            tag = self._catalog.by_id(tag_id)
            if tag is not None:
                held_names[tag.name.lower()] = tag
        wanted = {name.lower() for name in entity.wanted}
        entity.add = [name for name in entity.wanted if name.lower() not in held_names]
        entity.remove = [tag for lower, tag in held_names.items() if lower not in wanted and self._managed.covers(tag.name)]

    def _add(self, name: str, members: List[Entity], failed: Dict[int, Entity]) -> List[Tuple[Entity, Tag]]:
        members = [m for m in members if id(m) not in failed]
        if not members:
            return []
        if self._workspace.dry_run:
            self._workspace.stats.add(self._stream, ADDED, len(members))
            return []
        try:
            tagged = self._sender.tag(name, [m.id for m in members])
        except Refused as exc:
            if exc.status != 404 or len(members) == 1:
                self._fail(members, f"tagging it {name!r} failed: {exc.describe()}", exc.code, failed)
                return []
            # Before Intercom-Version 2.16 one unknown entity fails the whole request, which changed nothing.
            return [done for member in members for done in self._add(name, [member], failed)]
        self._catalog.learn(tagged.tag)
        done = members if tagged.ids is None else [m for m in members if m.id in set(tagged.ids)]
        missed = [m for m in members if m not in done]
        self._fail(missed, f"Intercom did not find the {self._sender.kind} to tag it {name!r}", "not_found", failed)
        self._workspace.stats.add(self._stream, ADDED, len(done))
        return [(m, tagged.tag) for m in done]

    def _remove(self, tag: Tag, members: List[Entity], failed: Dict[int, Entity]) -> List[Entity]:
        members = [m for m in members if id(m) not in failed]
        done: List[Entity] = []
        for chunk in _chunks(members, MAX_PER_REQUEST):
            if not self._workspace.dry_run:
                try:
                    self._sender.untag(tag, [m.id for m in chunk])
                except Refused as exc:
                    self._fail(chunk, f"removing its tag {tag.name!r} failed: {exc.describe()}", exc.code, failed)
                    continue
            done += chunk
        self._workspace.stats.add(self._stream, REMOVED, len(done))
        return done

    def _fail(self, members: Iterable[Entity], reason: str, code: Optional[str], failed: Dict[int, Entity]) -> None:
        for member in members:
            if id(member) in failed:
                continue
            failed[id(member)] = member
            message = f"the {self._sender.kind} was written, but {reason}"
            self._workspace.reject(self._stream, member.payload, RecordRejected(message, code or "tagging_failed"))


def _by_tag_name(entities: Sequence[Entity]) -> List[Tuple[str, List[Entity]]]:
    groups: Dict[str, Tuple[str, List[Entity]]] = {}
    for entity in entities:
        for name in entity.add:
            groups.setdefault(name.lower(), (name, []))[1].append(entity)
    return list(groups.values())


def _by_tag(entities: Sequence[Entity]) -> List[Tuple[Tag, List[Entity]]]:
    groups: Dict[str, Tuple[Tag, List[Entity]]] = {}
    for entity in entities:
        for tag in entity.remove:
            groups.setdefault(tag.id, (tag, []))[1].append(entity)
    return list(groups.values())


def _chunks(items: List[Entity], size: int) -> Iterable[List[Entity]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]

