"""Contact searches: the IN queries that look users up, and what happens when Intercom refuses one.

Intercom documents at most 15 filters per AND/OR group and two levels of
nesting, but not how many values one IN filter may hold. The target sends up
to 100 values per filter and 15 filters per query. When Intercom refuses a
query (a 4xx), the query is split in halves and each half searched again,
down to single filters and then single values, before anything is given up:
only a single value Intercom refuses on its own is reported back, so that
the records that need it are rejected with Intercom's message. A shape whose
halves both go through is too big, and the run's queries stay below it from
then on.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any, Dict, Iterable, List, Sequence, Tuple

from target_intercom.intercom import Refused
from target_intercom.intercom.contacts import ContactsApi
from target_intercom.units.contacts.identity import ContactIndex, Term

logger = logging.getLogger(__name__)

MAX_IN_VALUES = 100
MAX_FILTERS_PER_GROUP = 15


@dataclass(frozen=True)
class _Filter:
    field: str
    values: Tuple[str, ...]


class ContactSearch:
    """Searches users (role user) by id, external_id and email; shared by the whole run."""

    def __init__(self, contacts: ContactsApi) -> None:
        self._contacts = contacts
        self._lock = threading.Lock()
        self._max_values = MAX_IN_VALUES
        self._max_filters = MAX_FILTERS_PER_GROUP
        self._warned = False

    def find(self, terms: Iterable[Term]) -> Tuple[ContactIndex, Dict[Term, Refused]]:
        """The users any term matches, and the terms Intercom refused to search for (with its answer)."""
        found = ContactIndex()
        refused: Dict[Term, Refused] = {}
        filters = self._filters(terms)
        step = self._max_filters
        for start in range(0, len(filters), step):
            self._search(filters[start : start + step], found, refused)
        return found, refused

    def _filters(self, terms: Iterable[Term]) -> List[_Filter]:
        by_field: Dict[str, List[str]] = {}
        for field, value in dict.fromkeys(terms):
            by_field.setdefault(field, []).append(value)
        size = self._max_values
        return [
            _Filter(field, tuple(values[start : start + size]))
            for field, values in by_field.items()
            for start in range(0, len(values), size)
        ]

    def _search(self, filters: Sequence[_Filter], found: ContactIndex, refused: Dict[Term, Refused]) -> bool:
        """Search, splitting what Intercom refuses; returns whether nothing was refused."""
        try:
            for contact in self._contacts.search(search_query(filters)):
                found.add(contact)
            return True
        except Refused as exc:
            self._warn(filters, exc)
            failure = exc
        if len(filters) > 1:
            half = (len(filters) + 1) // 2
            parts = [filters[:half], filters[half:]]
        elif len(filters[0].values) > 1:
            field, values = filters[0].field, filters[0].values
            half = (len(values) + 1) // 2
            parts = [[_Filter(field, values[:half])], [_Filter(field, values[half:])]]
        else:
            refused[(filters[0].field, filters[0].values[0])] = failure
            return False
        if all([self._search(part, found, refused) for part in parts]):
            self._learn(filters, half)
        return False

    def _learn(self, filters: Sequence[_Filter], half: int) -> None:
        # The whole was refused and both halves went through: the shape, not a value, was the problem.
        with self._lock:
            if len(filters) > 1:
                self._max_filters = min(self._max_filters, half)
            else:
                self._max_values = min(self._max_values, half)

    def _warn(self, filters: Sequence[_Filter], exc: Refused) -> None:
        with self._lock:
            if self._warned:
                return
            self._warned = True
        # Counts only: the values are personal data, and so may be Intercom's message about them.
        values = sum(len(f.values) for f in filters)
        logger.warning(
            "Intercom refused a contact search of %d IN filter%s with %d value%s in all (%d %s); "
            "searching again in smaller parts (records are rejected only for a value Intercom refuses on its own)",
            len(filters),
            "" if len(filters) == 1 else "s",
            values,
            "" if values == 1 else "s",
            exc.status,
            exc.code or "error",
        )


def search_query(filters: Sequence[_Filter]) -> Dict[str, Any]:
    """One query for users matching any of the filters."""
    role = {"field": "role", "operator": "=", "value": "user"}
    ins = [{"field": f.field, "operator": "IN", "value": list(f.values)} for f in filters]
    if len(ins) == 1:
        return {"operator": "AND", "value": [role, ins[0]]}
    # Intercom's schema wants a group's filters all single or all groups.
    return {"operator": "AND", "value": [{"operator": "AND", "value": [role]}, {"operator": "OR", "value": ins}]}
