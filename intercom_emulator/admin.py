"""The admin interface under /_emulator/: no auth, no rate limit, no latency; for benchmarks and demos
that run the emulator in another process."""
from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Dict, Tuple
from urllib.parse import parse_qsl

if TYPE_CHECKING:  # pragma: no cover
    from .emulator import Emulator

FAULT_METHODS = ("fail_next", "drop_next", "delay_next", "malformed_next", "fail_writes_after", "company_race_next",
                 "clear_faults")


def _flag(query: Dict[str, str], name: str) -> bool:
    return query.get(name, "").lower() in ("1", "true", "yes")


def handle_admin(emu: "Emulator", method: str, path: str, qs: str, raw_body: bytes) -> Tuple[int, Any]:
    query = dict(parse_qsl(qs, keep_blank_values=True))
    try:
        body = json.loads(raw_body) if raw_body else {}
    except ValueError:
        return 400, {"error": "the request body is not valid JSON"}
    if method == "POST" and not isinstance(body, dict):
        return 400, {"error": "the request body must be a JSON object"}
    action = path[len("/_emulator"):] or "/"
    try:
        return _route(emu, method, action, query, body)
    except (TypeError, ValueError, KeyError) as exc:
        return 400, {"error": str(exc)}


def _route(emu: "Emulator", method: str, action: str, query: Dict[str, str], body: Any) -> Tuple[int, Any]:
    if method == "GET":
        if action == "/contacts":
            contacts = emu.contacts(include_archived=_flag(query, "include_archived"))
            if query.get("limit"):
                contacts = contacts[: int(query["limit"])]
            return 200, {"contacts": contacts, "count": len(contacts)}
        if action == "/stats":
            return 200, emu.stats()
        if action == "/requests":
            records = emu.requests
            if query.get("limit"):
                records = records[-int(query["limit"]):]
            return 200, {"requests": [r.to_dict() for r in records]}
        if action == "/deleted_contacts":
            contacts = emu.deleted_contacts()
            return 200, {"contacts": contacts, "count": len(contacts)}
        if action == "/merged_contacts":
            contacts = emu.merged_contacts()
            return 200, {"contacts": contacts, "count": len(contacts)}
        if action == "/admins":
            return 200, {"admins": emu.admins()}
        if action == "/bulk_jobs":
            return 200, {"jobs": emu.bulk_jobs()}
        if action == "/data_attributes":
            return 200, {"data_attributes": emu.data_attributes(query.get("model") or None)}
        if action == "/companies":
            companies = emu.companies(include_archived=_flag(query, "include_archived"))
            return 200, {"companies": companies, "count": len(companies)}
        if action == "/tags":
            tags = emu.tags()
            return 200, {"tags": tags, "count": len(tags)}
        if action == "/events":
            events = emu.events(query.get("contact_id") or None)
            return 200, {"events": events, "count": len(events)}
        if action == "/config":
            return 200, emu.settings
    elif method == "POST":
        if action == "/reset":
            emu.reset()
            return 200, {"ok": True}
        if action == "/config":
            emu.configure(**body)
            return 200, emu.settings
        if action == "/faults":
            return _fault(emu, body)
        if action == "/seed":
            return 200, emu.seed(body)
        if action == "/admins":
            return 200, emu.seed_admin(**body)
        if action == "/merge":
            return 200, emu.merge_contacts(body.get("from"), body.get("into"))
    return 404, {"error": "no admin endpoint %s %s" % (method, action)}


def _fault(emu: "Emulator", body: Dict[str, Any]) -> Tuple[int, Any]:
    spec = dict(body)
    name = spec.pop("fault", None) or spec.pop("kind", None)
    if name in ("clear", "clear_faults"):
        name = "clear_faults"
    if name not in FAULT_METHODS:
        return 400, {"error": "fault must be one of %s" % ", ".join(FAULT_METHODS)}
    if name == "malformed_next" and "malformed" in spec:
        spec["kind"] = spec.pop("malformed")
    getattr(emu, name)(**spec)
    return 200, emu.faults()
