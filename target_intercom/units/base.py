"""What an Intercom object unit is, and what every unit shares.

A unit owns one Intercom object (contacts, companies, ...): how a record of
its stream becomes a payload, how a batch of payloads is looked up, and how
each is written. It never sees threads, batches in flight or STATE: the
scheduler orders its writes by the keys each payload claims (writes) and
awaits (needs written first), and the state tracker prints STATE.
"""

from __future__ import annotations

import abc
import contextlib
import threading
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, FrozenSet, Iterable, Iterator, List, Mapping, Optional, Protocol, Sequence, Tuple



from target_intercom.catalog import AttributeCatalog
from target_intercom.intercom import IntercomClient, Refused
from target_intercom.metrics import RunStats
from target_intercom.rejects import RecordRejected, Rejection, RejectsLedger


@dataclass(frozen=True)
class Keys:
    """Keys name what a write touches, as "<model>/<field>:<value>" (e.g. "company/company_id:acme").

    A payload claims the keys of what it writes and awaits the keys of what
    must be written before it (a user's company, an event's user).
    """

    claims: FrozenSet[str] = frozenset()
    awaits: FrozenSet[str] = frozenset()

    def __or__(self, other: "Keys") -> "Keys":
        return Keys(self.claims | other.claims, self.awaits | other.awaits)

    def touches(self, other: "Keys") -> bool:
        """Whether the two must be written in input order: one writes what the other writes or reads."""
        return bool(self.claims & (other.claims | other.awaits) or self.awaits & other.claims)


@dataclass
class Payload(abc.ABC):
    """What one record asks Intercom to hold; each unit adds its own fields."""

    line: int
    record: Dict[str, Any] = field(repr=False)

    @abc.abstractmethod
    def keys(self) -> Keys:
        """What the payload claims (writes) and awaits (needs written first)."""

    @abc.abstractmethod
    def identifiers(self) -> Dict[str, Any]:
        """How the record is named in rejections, strongest identifier first."""


@dataclass
class Group:
    """Payloads written one after another, in input order (they may touch the same object)."""

    keys: Keys
    payloads: Sequence[Payload]
    # A step that follows the batch's writes (tagging what they wrote): it awaits
    # their keys, and stays apart when a unit writes whole batches at once.
    after_writes: bool = False


class Outcomes:
    """Why the latest write of a key failed, for messages about the writes that awaited it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._failures: Dict[str, str] = {}

    def failed(self, keys: Iterable[str], reason: str) -> None:
        with self._lock:
            self._failures.update((key, reason) for key in keys)

    def succeeded(self, keys: Iterable[str]) -> None:
        with self._lock:
            for key in keys:
                self._failures.pop(key, None)

    def failure(self, key: str) -> Optional[str]:
        with self._lock:
            return self._failures.get(key)


class Prepared(Protocol):
    """A batch once looked up: its groups, and how to write one."""

    def groups(self) -> List[Group]: ...

    def write(self, group: Group) -> None:
        """Write each payload of the group or reject it; raise only what ends the run."""


Mapper = Callable[[Dict[str, Any], int], Payload]


class Unit(Protocol):
    stream: str
    # What the summary calls its records ("users", "companies", "events"), and the outcomes it always shows.
    noun: str
    outcomes: Sequence[str]
    # Bulk writes go out a batch at a time, so a batch waits for earlier ones as a whole.
    writes_whole_batches: bool

    def mapper(self, schema: Optional[Mapping[str, Any]]) -> Mapper:
        """Maps the records of one SCHEMA of the stream; raises RecordRejected for a record it cannot map."""

    def identifier_sources(self) -> List[Tuple[str, str]]:
        """(name, source field) of the identifiers that name a record in messages, strongest first."""

    def prepare(self, payloads: Sequence[Payload]) -> Prepared:
        """Look the batch up (a few requests) and say how its payloads group."""

    def close(self) -> None:
        """Stop what the unit runs by itself (bulk pollers); waits under way give up."""


@dataclass
class Workspace:
    """What every unit shares: one client (and its rate governor), the catalogs, the ledger, the counts
    and the outcomes of the keys written so far."""

    client: IntercomClient
    catalogs: Dict[str, AttributeCatalog]
    ledger: RejectsLedger
    stats: RunStats
    dry_run: bool
    outcomes: Outcomes = field(default_factory=lambda: Outcomes())

    def catalog(self, model: str) -> AttributeCatalog:
        return self.catalogs[model]

    def reject(self, stream: str, payload: Payload, exc: RecordRejected) -> None:
        self.reject_record(stream, payload.line, payload.identifiers(), payload.record, exc)

    def reject_record(
        self, stream: str, line: int, identifiers: Dict[str, Any], record: Dict[str, Any], exc: RecordRejected
    ) -> None:
        self.stats.add(stream, exc.outcome)
        self.outcomes.failed(exc.claims, f"its record at line {line} was not loaded: {exc.reason}")
        rejection = Rejection(stream, line, identifiers, exc.reason, exc.code, record, counted=exc.counted)
        self.ledger.add(rejection)

    @contextlib.contextmanager
    def settling(self, stream: str, payload: Payload) -> Iterator[None]:
        """Ends the handling of one record: a failure of the record (not of the run) rejects it."""
        claims = payload.keys().claims
        try:
            yield
        except RecordRejected as exc:
            exc.claims = claims
            self.reject(stream, payload, exc)
        except Refused as exc:
            self.reject(stream, payload, RecordRejected(exc.describe(), exc.code, claims=claims))
        else:
            self.outcomes.succeeded(claims)
