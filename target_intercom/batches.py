"""Open batches: the records of each stream wait in one until it is full.

A record that must be written in order with a record waiting in another
stream's batch (it writes what that one writes or reads, or reads what it
writes) first sends that batch on. So open batches never touch each other,
and batches are sent in an order that keeps every such pair in input order.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field
from typing import Dict, List, Set

from target_intercom.schedule import Batch
from target_intercom.state import StateTracker
from target_intercom.units.base import Keys, Payload, Unit


@dataclass(eq=False)
class _Open:
    unit: Unit
    first_position: int
    opened_at: float
    payloads: List[Payload] = field(default_factory=list)
    claims: Set[str] = field(default_factory=set)
    awaits: Set[str] = field(default_factory=set)

    def touches(self, keys: Keys) -> bool:
        return any(k in self.claims or k in self.awaits for k in keys.claims) or any(
            k in self.claims for k in keys.awaits
        )


class Batcher:
    def __init__(self, tracker: StateTracker, batch_size: int) -> None:
        self._tracker = tracker
        self._batch_size = batch_size
        self._open: Dict[str, _Open] = {}
        self._numbers = itertools.count()

    def add(self, unit: Unit, payload: Payload, position: int) -> List[Batch]:
        """Put a payload in its stream's batch; returns the batches to send now, in order."""
        keys = payload.keys()
        ready = [self._close(other) for other in list(self._open.values()) if other.unit is not unit and other.touches(keys)]
        batch = self._open.get(unit.stream)
        if batch is None:
            batch = self._open[unit.stream] = _Open(unit, position, time.monotonic())
            self._tracker.batch_opened(position)
        batch.payloads.append(payload)
        batch.claims.update(keys.claims)
        batch.awaits.update(keys.awaits)
        if len(batch.payloads) >= self._batch_size:
            ready.append(self._close(batch))
        return ready

    def older_than(self, seconds: float) -> List[Batch]:
        """The batches that have waited longer than that, to send now."""
        now = time.monotonic()
        return [self._close(b) for b in self._oldest_first() if now - b.opened_at > seconds]

    def flush(self) -> List[Batch]:
        """Every open batch, to send now."""
        return [self._close(b) for b in self._oldest_first()]

    def _oldest_first(self) -> List[_Open]:
        return sorted(self._open.values(), key=lambda b: b.first_position)

    def _close(self, batch: _Open) -> Batch:
        del self._open[batch.unit.stream]
        return Batch(number=next(self._numbers), first_position=batch.first_position, unit=batch.unit,
                     payloads=batch.payloads)
