"""Batches in flight: look up, write concurrently, confirm in order.

Each batch is prepared by its unit (a few lookups), which groups its records:
the records of a group are written one after another, in input order, and
different groups concurrently. A group waits for every group of an earlier
batch still in flight that writes what it writes or reads (the keys it
claims), and for every one that writes what it reads (the keys it awaits):
so the last record for an object wins, a user is attached to a company only
once the company is written, and an event goes out only once its user is.
A batch is settled when all its groups are; the state tracker then prints the
STATE values it allows.

Failures that end the run (bad token, Intercom unavailable, too many
rejections) stop all scheduling; the batch they hit never settles, so no
STATE past it is printed.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Sequence, Set

from target_intercom.state import StateTracker
from target_intercom.stop import POLL_SECONDS, StopRequest
from target_intercom.units.base import Group, Keys, Payload, Prepared, Unit

logger = logging.getLogger(__name__)


@dataclass
class Batch:
    """Records of one stream, sent together; `number` orders batches of every stream as they were sent."""

    number: int
    first_position: int
    unit: Unit
    payloads: Sequence[Payload]


@dataclass(eq=False)
class _Chain:
    flight: "_Flight"
    group: Group
    waiting_on: int = 0
    dependents: List["_Chain"] = field(default_factory=list)


@dataclass(eq=False)
class _Flight:
    """A batch in flight."""

    batch: Batch
    prepared: Optional[Prepared] = None
    chains_left: int = 0


class _KeyOrder:
    """For each key, the chains in flight that touch it: its last writer, and the readers since."""

    def __init__(self) -> None:
        self._writer: Dict[str, _Chain] = {}
        self._readers: Dict[str, Set[_Chain]] = {}

    def register(self, chain: _Chain) -> Set[_Chain]:
        """Record the chain; returns the earlier chains it must wait for."""
        keys = chain.group.keys
        earlier = {self._writer[k] for k in keys.claims | keys.awaits if k in self._writer}
        for key in keys.claims:
            earlier |= self._readers.pop(key, set())
            self._writer[key] = chain
        for key in keys.awaits:
            self._readers.setdefault(key, set()).add(chain)
        earlier.discard(chain)
        return earlier

    def forget(self, chain: _Chain) -> None:
        keys = chain.group.keys
        for key in keys.claims:
            if self._writer.get(key) is chain:
                del self._writer[key]
        for key in keys.awaits:
            readers = self._readers.get(key)
            if readers is not None:
                readers.discard(chain)
                if not readers:
                    del self._readers[key]


class Scheduler:
    def __init__(
        self,
        *,
        tracker: StateTracker,
        stop: StopRequest,
        max_concurrency: int,
        max_batches_in_flight: int = 4,
    ) -> None:
        self._tracker = tracker
        self._stop = stop
        self._pool = ThreadPoolExecutor(max_workers=max_concurrency, thread_name_prefix="intercom")
        self._lock = threading.Condition()
        self._in_flight = 0
        self._max_in_flight = max_batches_in_flight
        self._failure: Optional[BaseException] = None
        self._running = 0
        self._next_to_register = 0
        self._prepared: Dict[int, _Flight] = {}
        self._keys = _KeyOrder()

    # -- called by the reading thread ----------------------------------------------------------------

    def submit(self, batch: Batch) -> None:
        """Queue a batch; blocks while too many are in flight. Batches must come numbered in order."""
        with self._lock:
            while self._in_flight >= self._max_in_flight and self._failure is None:
                self._lock.wait(POLL_SECONDS)
                self._stop.check()
            self._raise_failure()
            self._in_flight += 1
        self._pool.submit(self._guarded, self._prepare, _Flight(batch))

    def check(self) -> None:
        """Raise the failure that ended the run, if there is one."""
        with self._lock:
            self._raise_failure()

    def close(self) -> None:
        """Wait for every batch to settle (or for the run to fail), then shut down."""
        with self._lock:
            while self._in_flight and self._failure is None:
                self._lock.wait(POLL_SECONDS)
                self._stop.check()
        self._pool.shutdown(wait=True)
        self.check()

    def stop(self, reason: BaseException, grace: float) -> bool:
        """Start nothing more; give the writes under way `grace` seconds to finish.

        Returns whether they all finished. Batches they complete still settle
        and release their STATEs; the others never do.
        """
        self._fail(reason)
        self._pool.shutdown(wait=False, cancel_futures=True)
        deadline = time.monotonic() + grace
        with self._lock:
            while self._running and time.monotonic() < deadline:
                self._lock.wait(deadline - time.monotonic())
            return self._running == 0

    # -- worker side -----------------------------------------------------------------------------------

    def _prepare(self, flight: _Flight) -> None:
        flight.prepared = flight.batch.unit.prepare(flight.batch.payloads)
        # Batches are prepared concurrently but must take their place in the
        # key order as they were sent, or an older record could be written
        # after a newer one.
        ready: List[_Chain] = []
        with self._lock:
            self._prepared[flight.batch.number] = flight
            while self._next_to_register in self._prepared:
                current = self._prepared.pop(self._next_to_register)
                self._next_to_register += 1
                ready.extend(self._register(current))
        for chain in ready:
            self._pool.submit(self._guarded, self._run_chain, chain)

    def _register(self, flight: _Flight) -> List[_Chain]:
        chains = [_Chain(flight, group) for group in _groups(flight)]
        flight.chains_left = len(chains)
        if not chains:
            self._settle(flight)
        ready = []
        for chain in chains:
            earlier = self._keys.register(chain)
            for other in earlier:
                other.dependents.append(chain)
            chain.waiting_on = len(earlier)
            if not earlier:
                ready.append(chain)
        return ready

    def _run_chain(self, chain: _Chain) -> None:
        assert chain.flight.prepared is not None
        if self._failure is not None:
            return  # the run is over; this chain stays unwritten and its batch unsettled
        chain.flight.prepared.write(chain.group)
        ready = []
        with self._lock:
            self._keys.forget(chain)
            for dependent in chain.dependents:
                dependent.waiting_on -= 1
                if dependent.waiting_on == 0:
                    ready.append(dependent)
            chain.flight.chains_left -= 1
            if chain.flight.chains_left == 0:
                self._settle(chain.flight)
        for dependent in ready:
            self._pool.submit(self._guarded, self._run_chain, dependent)

    def _settle(self, flight: _Flight) -> None:
        # Called with the lock held. A batch whose every record is settled may
        # release its STATEs even when another batch failed: that one never
        # settles, so no STATE past it is printed.
        self._tracker.batch_settled(flight.batch.first_position)
        self._in_flight -= 1
        self._lock.notify_all()

    def _guarded(self, task: Callable[..., None], *args: object) -> None:
        with self._lock:
            if self._failure is not None:
                return
            self._running += 1
        try:
            task(*args)
        except BaseException as exc:  # noqa: BLE001 - every failure must reach the reading thread
            self._fail(exc)
        finally:
            with self._lock:
                self._running -= 1
                self._lock.notify_all()

    def _fail(self, exc: BaseException) -> None:
        with self._lock:
            if self._failure is None:
                self._failure = exc
            self._lock.notify_all()

    def _raise_failure(self) -> None:
        if self._failure is not None:
            raise self._failure


def _groups(flight: _Flight) -> List[Group]:
    assert flight.prepared is not None
    groups = flight.prepared.groups()
    writes = [group for group in groups if not group.after_writes]
    if flight.batch.unit.writes_whole_batches and len(writes) > 1:
        keys = Keys()
        for group in writes:
            keys = keys | group.keys
        return [Group(keys, list(flight.batch.payloads))] + [group for group in groups if group.after_writes]
    return groups
