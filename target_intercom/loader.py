"""Batches in flight: look up, write concurrently, confirm in order.

Each batch is looked up with a few searches, then split into chains: records
that may mean the same user (a shared id, user_id, email or matched contact)
form one chain and are written one after another, in input order; different
chains are written concurrently. A chain that shares a key with a chain of an
earlier batch still in flight starts only when that one has finished, so the
last record for a user always wins. A batch is settled when all its chains
are; the state tracker then prints the STATE values it allows.

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
from typing import Callable, Dict, List, Optional, Set

from target_intercom.attributes import AttributeCatalog
from target_intercom.identity import (
    ContactIndex,
    RecentContacts,
    Resolver,
    group_by_user,
    looks_like_intercom_id,
    search_queries,
)
from target_intercom.intercom import IntercomClient
from target_intercom.mapping import ContactPayload
from target_intercom.state import StateTracker
from target_intercom.stop import POLL_SECONDS, StopRequest

logger = logging.getLogger(__name__)


@dataclass
class Batch:
    number: int
    first_position: int
    payloads: List[ContactPayload]


@dataclass(eq=False)
class _Chain:
    batch: "_BatchRun"
    keys: Set[str]
    payloads: List[ContactPayload]
    waiting_on: int = 0
    dependents: List["_Chain"] = field(default_factory=list)
    done: bool = False


@dataclass(eq=False)
class _BatchRun:
    batch: Batch
    found: ContactIndex = field(default_factory=ContactIndex)
    resolver: Optional[Resolver] = None
    chains_left: int = 0


WriteChain = Callable[[List[ContactPayload], Resolver], None]


class Loader:
    def __init__(
        self,
        *,
        client: IntercomClient,
        catalog: AttributeCatalog,
        recent: RecentContacts,
        write_chain: WriteChain,
        tracker: StateTracker,
        stop: StopRequest,
        max_concurrency: int,
        max_batches_in_flight: int = 4,
        one_chain_per_batch: bool = False,
    ) -> None:
        self._client = client
        self._catalog = catalog
        self._recent = recent
        self._write_chain = write_chain
        self._tracker = tracker
        self._stop = stop
        self._pool = ThreadPoolExecutor(max_workers=max_concurrency, thread_name_prefix="intercom")
        self._lock = threading.Condition()
        self._in_flight = 0
        self._max_in_flight = max_batches_in_flight
        # Bulk writes go out a batch at a time, so a batch waits for earlier
        # batches that share a user as a whole.
        self._one_chain_per_batch = one_chain_per_batch
        self._failure: Optional[BaseException] = None
        self._running = 0
        self._warned_unknown_id = False
        self._next_to_register = 0
        self._looked_up: Dict[int, _BatchRun] = {}
        self._last_chain_by_key: Dict[str, _Chain] = {}

    # -- called by the reading thread ----------------------------------------------------------------

    def submit(self, batch: Batch) -> None:
        """Queue a batch; blocks while too many are in flight."""
        with self._lock:
            while self._in_flight >= self._max_in_flight and self._failure is None:
                self._lock.wait(POLL_SECONDS)
                self._stop.check()
            self._raise_failure()
            self._in_flight += 1
        self._pool.submit(self._guarded, self._look_up, _BatchRun(batch))

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

    def _look_up(self, run: _BatchRun) -> None:
        payloads = [p for p in run.batch.payloads if not self._recent.knows(p)]
        found = run.found
        for query in search_queries(payloads):
            for contact in self._client.search_contacts(query):
                found.add(contact)
        for payload in payloads:
            if payload.intercom_id and not found.by_id(payload.intercom_id):
                self._look_up_by_id(payload.intercom_id, found)
        self._catalog.prepare(run.batch.payloads)
        run.resolver = Resolver(found, self._recent)
        self._register_in_order(run)

    def _look_up_by_id(self, contact_id: str, found: ContactIndex) -> None:
        # Search lags writes; a lookup by id does not. A value that cannot be
        # an Intercom id is not worth a request, but is worth a warning.
        contact = self._client.find_contact(contact_id) if looks_like_intercom_id(contact_id) else None
        if contact is not None:
            found.add(contact)
        elif not self._warned_unknown_id:
            self._warned_unknown_id = True
            logger.warning(
                "records name Intercom contact ids that do not exist; the field they come from (id unless "
                "reserved_field_overrides says otherwise) must hold Intercom's contact id. If it holds your "
                'own user id, set reserved_field_overrides to {"user_id": "id", "id": null}'
            )

    def _register_in_order(self, run: _BatchRun) -> None:
        # Batches are looked up concurrently but must claim their keys in
        # input order, or an older record could be written after a newer one.
        ready: List[_Chain] = []
        with self._lock:
            self._looked_up[run.batch.number] = run
            while self._next_to_register in self._looked_up:
                current = self._looked_up.pop(self._next_to_register)
                self._next_to_register += 1
                ready.extend(self._register(current))
        for chain in ready:
            self._pool.submit(self._guarded, self._run_chain, chain)

    def _register(self, run: _BatchRun) -> List[_Chain]:
        chains = _chains(run, self._recent, self._one_chain_per_batch)
        run.chains_left = len(chains)
        if not chains:
            self._settle(run)
        ready = []
        for chain in chains:
            earlier = {self._last_chain_by_key[k] for k in chain.keys if k in self._last_chain_by_key}
            for other in earlier:
                other.dependents.append(chain)
            chain.waiting_on = len(earlier)
            for key in chain.keys:
                self._last_chain_by_key[key] = chain
            if not earlier:
                ready.append(chain)
        return ready

    def _run_chain(self, chain: _Chain) -> None:
        assert chain.batch.resolver is not None
        if self._failure is not None:
            return  # the run is over; this chain stays unwritten and its batch unsettled
        self._write_chain(chain.payloads, chain.batch.resolver)
        ready = []
        with self._lock:
            chain.done = True
            for key in chain.keys:
                if self._last_chain_by_key.get(key) is chain:
                    del self._last_chain_by_key[key]
            for dependent in chain.dependents:
                dependent.waiting_on -= 1
                if dependent.waiting_on == 0:
                    ready.append(dependent)
            chain.batch.chains_left -= 1
            if chain.batch.chains_left == 0:
                self._settle(chain.batch)
        for dependent in ready:
            self._pool.submit(self._guarded, self._run_chain, dependent)

    def _settle(self, run: _BatchRun) -> None:
        # Called with the lock held. A batch whose every record is settled may
        # release its STATEs even when another batch failed: that one never
        # settles, so no STATE past it is printed.
        self._tracker.batch_settled(run.batch.first_position)
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


def _chains(run: _BatchRun, recent: RecentContacts, one_per_batch: bool) -> List[_Chain]:
    groups = group_by_user(run.batch.payloads, recent, run.found)
    if one_per_batch:
        keys = set().union(*(group_keys for group_keys, _ in groups))
        return [_Chain(batch=run, keys=keys, payloads=list(run.batch.payloads))]
    return [_Chain(batch=run, keys=group_keys, payloads=payloads) for group_keys, payloads in groups]
