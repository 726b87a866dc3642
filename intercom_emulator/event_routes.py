"""The data event endpoints: POST /events (submit) and GET /events (a user's events or their summary)."""
from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Optional, Tuple
from urllib.parse import urlencode

from .errors import ApiError, bad_param, not_found
from .events import LIST_WINDOW, check_event, render_event
from .store import Contact

if TYPE_CHECKING:  # pragma: no cover
    from .core import Core
    from .routes import ApiRequest

Reply = Tuple[int, Any]
DEFAULT_PER_PAGE = 50  # guess: the spec only says a per_page parameter exists
_LOOKUPS = ("intercom_user_id", "user_id", "email")


def create_event(core: "Core", req: "ApiRequest") -> Reply:
    """POST /events: 202 with an empty body, also for a duplicate (which is not stored)."""
    body = req.json_object()
    name, created_at, via, ident, metadata, ignored = check_event(body, core.settings.event_long_text)
    with core.lock:
        contact = _contact(core, via, ident)
        core.events.add(contact.id, name, created_at, metadata, via, ident, ignored)
    return 202, b""


def _contact(core: "Core", via: str, value: str) -> Contact:
    """The contact an event is about: leads only by Intercom id ("you will need to specify the Lead's id")."""
    store = core.store
    found: Optional[Contact] = None
    if via in ("id", "intercom_user_id"):
        found = store.get(value)
    elif via == "user_id":
        c = store.by_external_id.get(value)
        found = c if c is not None and not c.archived and c.role == "user" else None
    else:
        users = sorted((c for c in store.with_email(value) if not c.archived and c.role == "user"),
                       key=lambda c: c.seq)
        found = users[0] if users else None
    if found is None:
        # "Events sent about users that cannot be found will return a 404 Not Found"; the body is the contacts one.
        raise not_found("User Not Found")
    return found


def list_events(core: "Core", req: "ApiRequest") -> Reply:
    """GET /events?type=user&(intercom_user_id|user_id|email)=...[&summary=true][&per_page=N][&before=ms]."""
    query = req.query
    if query.get("type") != "user":
        raise bad_param("type must be user")
    via = next((field for field in _LOOKUPS if query.get(field)), None)
    if via is None:
        raise ApiError(400, "parameter_not_found", "one of intercom_user_id, user_id or email is required")
    summary = (query.get("summary") or "").lower() in ("true", "1")
    per_page = _int(query, "per_page", DEFAULT_PER_PAGE)
    before = _int(query, "before", 0) or None
    with core.lock:
        contact = _contact(core, via, query[via])
        events = list(core.events.by_contact.get(contact.id, ()))
        if summary:
            return 200, _summary(contact, events)
        # "you can only 'list' events that are less than 90 days old", newest first
        cutoff = time.time() - LIST_WINDOW
        items = sorted((e for e in events if e.created_at >= cutoff and (before is None or e.order < before)),
                       key=lambda e: e.order, reverse=True)
        page = items[:max(1, per_page)]
        data = [render_event(e, contact.external_id, contact.email) for e in page]
    pages: Dict[str, str] = {}
    if len(items) > len(page):
        params = {"type": "user", via: query[via], "per_page": str(len(page)), "before": str(page[-1].order)}
        pages["next"] = "%s/events?%s" % (req.base_url, urlencode(params))
    return 200, {"type": "event.list", "events": data, "pages": pages}


def _summary(contact: Contact, events: List[Any]) -> Dict[str, Any]:
    """data_event_summary: per event name, how often and when first and last (older than 90 days included)."""
    by_name: Dict[str, List[int]] = {}
    for e in events:
        by_name.setdefault(e.event_name, []).append(e.created_at)
    out: Dict[str, Any] = {"type": "event.summary"}
    if contact.email:
        out["email"] = contact.email
    out["intercom_user_id"] = contact.id
    if contact.external_id:
        out["user_id"] = contact.external_id
    out["events"] = [{"name": name, "first": _iso(min(times)), "last": _iso(max(times)), "count": len(times)}
                     for name, times in by_name.items()]
    return out


def _iso(ts: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S.000+00:00", time.gmtime(ts))


def _int(query: Dict[str, str], name: str, default: int) -> int:
    raw = query.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise bad_param("%s must be an integer" % name) from None


Handler = Callable[["Core", "ApiRequest"], Reply]
EVENT_ROUTES: List[Tuple[str, str, Handler]] = [
    ("POST", "/events", create_event),
    ("GET", "/events", list_events),
]
