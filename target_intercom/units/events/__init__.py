"""Events: the events stream's records become Intercom data events, one `POST /events` each.

No endpoint takes more than one event (none in 2.14, 2.16 or Preview), so one
call per event is the floor; an event needs no lookup either, so a batch is
written at once: each event is a group of its own, sent concurrently at the
rate limit. An event awaits its user (the keys of its id, user_id and email):
when a record of this run writes that user, the event goes out only once the
write is confirmed.

An event Intercom answers with 404 names a user it does not hold (never
created, archived, deleted, or a lead named by user_id or email): it is
skipped, listed in the rejects file with code `user_not_found` and not
counted toward `max_rejected_records`. When this run rejected that user's own
record, the event is still sent (the user may exist from an earlier run) and
a skip says why the user is missing.

Intercom drops an event that repeats (user, name, created_at), so a replay
from an earlier STATE never counts an event twice. Within a run, an event
repeated in the input is not sent again: the last `RECENT_OCCURRENCES` are
remembered, and repeats are counted as duplicates.
"""

from __future__ import annotations

import collections
import hashlib
import logging
import threading
from typing import Any, Deque, Dict, List, Mapping, Optional, Sequence, Set, Tuple

from target_intercom.deletes import OnceLog, deleted_at_source
from target_intercom.intercom import Refused
from target_intercom.long_text import LongText
from target_intercom.metrics import TRUNCATED
from target_intercom.rejects import RecordSkipped
from target_intercom.units.base import Group, Mapper, Payload, Workspace
from target_intercom.units.events.mapping import EventFields, EventMapper, EventPayload
from target_intercom.units.events.metadata import MetadataRules

logger = logging.getLogger(__name__)

SENT, DUPLICATES = "sent", "duplicates"
OUTCOMES = (SENT, DUPLICATES, "rejected")
# How the summary counts events whose user Intercom does not hold: "skipped (user not in Intercom)".
NOT_IN_INTERCOM = "user not in Intercom"
# ... and those deleted at the source: "skipped (deleted at source)".
DELETED_AT_SOURCE = "deleted at source"
# Intercom stores at most 120 active event names per workspace (help article 5245634).
MAX_ACTIVE_EVENT_NAMES = 120
# Events of the run remembered to tell a repeat in the input: about 10 MiB.
RECENT_OCCURRENCES = 100_000


class EventsUnit:
    noun = "events"
    outcomes: Sequence[str] = OUTCOMES
    writes_whole_batches = False

    def __init__(
        self, workspace: Workspace, *, stream: str, fields: EventFields, metadata_keys: Sequence[str], long_text: str
    ) -> None:
        self.stream = stream
        self._workspace = workspace
        self._fields = fields
        self._rules = MetadataRules(metadata_keys, LongText(long_text))
        self._lock = threading.Lock()
        self._recent = RecentOccurrences(RECENT_OCCURRENCES)
        self._names = EventNames(MAX_ACTIVE_EVENT_NAMES)
        self._warn_deleted = OnceLog(
            logger,
            logging.WARNING,
            "events of stream %r deleted at the source (_sdc_deleted_at) are skipped: Intercom cannot remove an event",
        )

    def mapper(self, schema: Optional[Mapping[str, Any]]) -> Mapper:
        events = EventMapper(self._fields, schema, self._rules)

        def mapped(record: Dict[str, Any], line: int) -> Payload:
            if deleted_at_source(record):
                self._skip_deleted()
            return events(record, line)

        return mapped

    def _skip_deleted(self) -> None:
        """Intercom cannot remove an event: one deleted at the source is skipped (listed in the rejects file)."""
        self._warn_deleted(self.stream)
        raise RecordSkipped(
            "deleted at the source (_sdc_deleted_at); Intercom cannot remove an event", "deleted_at_source", DELETED_AT_SOURCE
        )

    def identifier_sources(self) -> List[Tuple[str, str]]:
        return self._fields.identifier_sources()

    def prepare(self, payloads: Sequence[Payload]) -> "EventBatch":
        """No lookup: leaves out the events this run already sent, and counts the names before any is sent."""
        fresh: List[EventPayload] = []
        with self._lock:  # batches are prepared concurrently
            for payload in payloads:
                if not isinstance(payload, EventPayload):
                    continue
                if not self._recent.first_time(payload.occurrence()):
                    self._workspace.stats.add(self.stream, DUPLICATES)
                    continue
                self._names.see(payload.event_name)
                fresh.append(payload)
            self._names.warn_past_limit()
        return EventBatch(self, fresh)

    def send(self, payload: EventPayload) -> None:
        with self._workspace.settling(self.stream, payload):
            if not self._workspace.dry_run:
                try:
                    self._workspace.client.events.create(payload.body())
                except Refused as exc:
                    if exc.status != 404:
                        raise
                    raise RecordSkipped(self._not_found(payload), "user_not_found", NOT_IN_INTERCOM) from None
            self._workspace.stats.add(self.stream, SENT)
            if payload.truncated:
                self._workspace.stats.add(self.stream, TRUNCATED)

    def close(self) -> None:
        pass  # nothing runs by itself

    def _not_found(self, payload: EventPayload) -> str:
        field, _ = payload.user()
        reason = f"Intercom has no user with this {field} (never created, or archived or deleted)"
        if field != "id":
            reason += "; an event for a lead must name it by Intercom's id"
        failures = [self._workspace.outcomes.failure(key) for key in sorted(payload.keys().awaits)]
        earlier = next((failure for failure in failures if failure), None)
        if earlier:
            reason += f"; this run did not write the user either: {earlier}"
        return reason


class EventBatch:
    """A batch of the events stream: one group per event, each awaiting its user."""

    def __init__(self, unit: EventsUnit, payloads: List[EventPayload]) -> None:
        self._unit = unit
        self._payloads = payloads

    def groups(self) -> List[Group]:
        return [Group(payload.keys(), [payload]) for payload in self._payloads]

    def write(self, group: Group) -> None:
        for payload in group.payloads:
            if isinstance(payload, EventPayload):
                self._unit.send(payload)


class RecentOccurrences:
    """The most recent events of the run, by (user, name, created_at), within a fixed number of entries."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._seen: Set[bytes] = set()
        self._order: Deque[bytes] = collections.deque()

    def first_time(self, occurrence: Tuple[Any, ...]) -> bool:
        """Whether this occurrence is new to the run (as far as it remembers), remembering it."""
        # A 16-byte digest in place of the values: a fixed size whatever the ids and names.
        key = hashlib.blake2b(repr(occurrence).encode("utf-8"), digest_size=16).digest()
        if key in self._seen:
            return False
        self._seen.add(key)
        self._order.append(key)
        if len(self._order) > self._size:
            self._seen.discard(self._order.popleft())
        return True


class EventNames:
    """Counts the run's distinct event names up to Intercom's limit, and warns once past it."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._names: Set[str] = set()
        self._warned = False

    def see(self, name: str) -> None:
        if not self._warned:  # past the warning, nothing more is worth holding
            self._names.add(name)

    def warn_past_limit(self) -> None:
        """Once, when the names seen so far pass the limit (before the events that pass it are sent)."""
        if self._warned or len(self._names) <= self._limit:
            return
        self._warned = True
        logger.warning(
            "events: this run sends at least %d distinct event names, more than the %d active event names "
            "Intercom stores per workspace; Intercom refuses events under a new name once the workspace holds "
            "%d (those events are rejected)",
            len(self._names),
            self._limit,
            self._limit,
        )
        self._names.clear()
