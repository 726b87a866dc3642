"""Data events: checking POST /events bodies and their metadata, de-duplication, and the events kept per contact.

Callers hold the emulator's lock.
"""
from __future__ import annotations

import math
from typing import Any, Dict, List, Optional, Set, Tuple

from .errors import ApiError, bad_param

MAX_METADATA_KEYS = 10       # "we currently limit the number of tracked metadata keys to 10 per event"
MAX_ACTIVE_EVENT_NAMES = 120  # help article 5245634: "up to 120 active events"
MAX_TEXT = 255               # help article 175: "A plain string up to 255 characters long"
LIST_WINDOW = 90 * 86400     # "you can only 'list' events that are less than 90 days old"
# Help article 175: keys "can't contain periods ('.'), dollar signs ('$'), characters like ~`!@#%^&*'{}|\'" or the
# NULL character".
FORBIDDEN_KEY_CHARS = frozenset(".$~`!@#%^&*'{}|\\\"\x00")
IDENTIFIERS = ("id", "user_id", "email")  # the order in which a body's identifiers are tried (a guess)
LONG_TEXT_MODES = ("store", "truncate", "reject")


class Event:
    """One stored event; ``via`` and ``ident`` record which identifier of the request found the contact."""

    __slots__ = ("contact_id", "event_name", "created_at", "metadata", "via", "ident", "order", "ignored_keys")

    def __init__(self, contact_id: str, event_name: str, created_at: int, metadata: Dict[str, Any], via: str,
                 ident: str, order: int, ignored_keys: Optional[List[str]]) -> None:
        self.contact_id = contact_id
        self.event_name = event_name
        self.created_at = created_at
        self.metadata = metadata
        self.via = via
        self.ident = ident
        # Milliseconds since the epoch, unique per contact: the `before` cursor of GET /events pages on it.
        self.order = order
        self.ignored_keys = ignored_keys


class EventStore:
    def __init__(self) -> None:
        self.all: List[Event] = []
        self.by_contact: Dict[str, List[Event]] = {}
        self._keys: Set[Tuple[str, str, int]] = set()
        self._orders: Set[Tuple[str, int]] = set()
        self.names: Dict[str, int] = {}  # event name -> events stored under it
        self.duplicates = 0

    def __len__(self) -> int:
        return len(self.all)

    def add(self, contact_id: str, name: str, created_at: int, metadata: Dict[str, Any], via: str, ident: str,
            ignored_keys: List[str]) -> Optional[Event]:
        """Store an event, or count a duplicate and return None.

        "Each event is uniquely identified as a combination of ... the Contact external identifier, the Data
        Event name and the Data Event created time"; duplicates are still answered 202.
        """
        key = (contact_id, name, created_at)
        if key in self._keys:
            self.duplicates += 1
            return None
        if name not in self.names and len(self.names) >= MAX_ACTIVE_EVENT_NAMES:
            # Help article 5245634: new events "will not be stored and will return an error"; status and body
            # are guesses.
            raise ApiError(400, "parameter_invalid", "Your workspace has reached the limit of %d active event "
                                                     "names; this event was not stored" % MAX_ACTIVE_EVENT_NAMES)
        order = created_at * 1000
        while (contact_id, order) in self._orders:
            order += 1
        event = Event(contact_id, name, created_at, metadata, via, ident, order, ignored_keys or None)
        self._keys.add(key)
        self._orders.add((contact_id, order))
        self.names[name] = self.names.get(name, 0) + 1
        self.all.append(event)
        self.by_contact.setdefault(contact_id, []).append(event)
        return event


# ---- checking a body -------------------------------------------------------------------------------------

def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def check_event(body: Dict[str, Any], long_text: str) -> Tuple[str, int, str, str, Dict[str, Any], List[str]]:
    """(event_name, created_at, identifier field, identifier value, kept metadata, ignored metadata keys)."""
    name = body.get("event_name")
    if name is None or name == "":
        raise ApiError(400, "parameter_not_found", "event_name is required")
    if not isinstance(name, str):
        raise bad_param("event_name must be a string")
    created_at = body.get("created_at")
    if created_at is None:
        raise ApiError(400, "parameter_not_found", "created_at is required")
    if not _is_int(created_at):
        raise bad_param("created_at must be an integer Unix timestamp in seconds")
    via, ident = _identifier(body)
    metadata, ignored = clean_metadata(body.get("metadata"), long_text)
    return name, created_at, via, ident, metadata, ignored


def _identifier(body: Dict[str, Any]) -> Tuple[str, str]:
    # The schema's anyOf needs at least one of id, user_id and email; with several, the first of IDENTIFIERS wins.
    for field in IDENTIFIERS:
        value = body.get(field)
        if value is None or value == "":
            continue
        if not isinstance(value, str):
            raise bad_param("%s must be a string" % field)
        return field, value
    raise ApiError(400, "parameter_not_found", "An event needs a user_id, an id or an email")


def clean_metadata(raw: Any, long_text: str) -> Tuple[Dict[str, Any], List[str]]:
    """The metadata Intercom keeps: the first 10 keys in send order, each checked; the other keys are ignored."""
    if raw is None:
        return {}, []
    if not isinstance(raw, dict):
        raise bad_param("metadata must be an object")
    items = list(raw.items())
    kept: Dict[str, Any] = {}
    for key, value in items[:MAX_METADATA_KEYS]:
        if not key or any(ch in FORBIDDEN_KEY_CHARS for ch in key):
            # Help article 175 forbids these characters; the status and message are guesses.
            raise bad_param("Metadata key '%s' must not contain periods, dollar signs, any of ~`!@#%%^&*'{}|\\\" "
                            "or the NULL character" % key)
        kept[key] = _metadata_value(key, value, long_text)
    return kept, [key for key, _ in items[MAX_METADATA_KEYS:]]


def _metadata_value(key: str, value: Any, long_text: str) -> Any:
    if isinstance(value, str):
        if len(value) > MAX_TEXT:
            if long_text == "reject":
                raise bad_param("Metadata '%s' is too long: the maximum length is %d characters" % (key, MAX_TEXT))
            if long_text == "truncate":
                return value[:MAX_TEXT]
        return value
    if isinstance(value, float) and not math.isfinite(value):
        raise bad_param("Metadata '%s' must be a finite number" % key)
    if value is None or isinstance(value, (bool, int, float)):
        return value
    if isinstance(value, dict):
        # The only objects allowed: a rich link {url, value} and a monetary amount {amount (cents), currency}.
        if set(value) == {"url", "value"} and all(isinstance(v, str) for v in value.values()):
            return dict(value)
        if set(value) == {"amount", "currency"} and _is_int(value["amount"]) and isinstance(value["currency"], str):
            return dict(value)
    # "we do not currently support nested JSON structure"; answering 400 rather than dropping it is a guess.
    raise bad_param("Metadata '%s' is a nested structure: only a rich link {url, value} or a monetary amount "
                    "{amount, currency} may be an object" % key)


# ---- rendering ---------------------------------------------------------------------------------------------

def render_event(e: Event, user_id: Optional[str], email: Optional[str]) -> Dict[str, Any]:
    """A ``data_event`` of GET /events; user_id and email are the contact's current ones."""
    out: Dict[str, Any] = {"type": "event", "event_name": e.event_name, "created_at": e.created_at}
    if user_id:
        out["user_id"] = user_id
    out["intercom_user_id"] = e.contact_id
    if email:
        out["email"] = email
    out["metadata"] = dict(e.metadata)
    return out


def inspect_event(e: Event) -> Dict[str, Any]:
    """What ``emu.events()`` shows: the stored event and the identifier the request used."""
    out: Dict[str, Any] = {"contact_id": e.contact_id, "event_name": e.event_name, "created_at": e.created_at,
                           "metadata": dict(e.metadata), "user_id": None, "email": None, "id": None}
    out[e.via] = e.ident
    out["ignored_metadata_keys"] = list(e.ignored_keys or ())
    return out
