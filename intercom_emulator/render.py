"""Turning stored contacts into the JSON objects Intercom answers with."""
from __future__ import annotations

import re
from typing import Any, Dict, Iterable, Optional

from .store import Contact

_EMPTY: Dict[str, Any] = {}
_NON_PHONE = re.compile(r"[^\d+]")
# contact_tags and contact_companies: "Up to 10 will be displayed here. Use the url to get more."
EMBEDDED_MAX = 10


def _list_ref(contact_id: str, what: str, ids: Iterable[str] = (), kind: str = "") -> Dict[str, Any]:
    """A contact's addressable list; ``ids`` (tags or companies) fill its data with {type, id, url} entries."""
    url = "/contacts/%s/%s" % (contact_id, what)
    if not ids:  # most contacts: no tags, no companies
        return {"type": "list", "data": [], "url": url, "total_count": 0, "has_more": False}
    ids = list(ids)
    data = [{"type": kind, "id": i, "url": "/%s/%s" % (what, i)} for i in ids[:EMBEDDED_MAX]]
    return {"type": "list", "data": data, "url": url, "total_count": len(ids), "has_more": len(ids) > EMBEDDED_MAX}


def email_domain(email: Optional[str]) -> Optional[str]:
    if not email or "@" not in email:
        return None
    return email.rsplit("@", 1)[1].lower()


def render_contact(c: Contact, workspace_id: str, *, owner_as_string: bool = False, preview: bool = False,
                   push: bool = False, companies: Iterable[str] = (), tags: Iterable[str] = ()) -> Dict[str, Any]:
    """All fields of Intercom's ``contact`` schema, in the order of its examples.

    ``owner_as_string`` follows 2.16+ (string owner ids); ``preview`` adds Preview-only fields; ``push`` adds
    ``enabled_push_messaging`` as the single-contact endpoints do. ``companies`` and ``tags`` are the ids of the
    contact's companies and tags, in the order they were attached.
    """
    e = c.extra or _EMPTY
    cid = c.id
    owner: Any = c.owner_id
    if owner is not None and owner_as_string:
        owner = str(owner)
    loc = e.get("location") or _EMPTY
    out: Dict[str, Any] = {
        "type": "contact",
        "id": cid,
        "workspace_id": workspace_id,
        "external_id": c.external_id,
        "role": c.role,
        # The schema types email and email_domain as non-nullable strings, so an absent email renders as "".
        "email": c.email or "",
        "email_domain": email_domain(c.email) or "",
        "phone": c.phone,
        "name": c.name,
        "avatar": {"type": "avatar", "image_url": c.avatar} if c.avatar else None,
        "owner_id": owner,
        "social_profiles": {"type": "list", "data": list(e.get("social_profiles") or ())},
        "has_hard_bounced": bool(e.get("has_hard_bounced", False)),
        "marked_email_as_spam": bool(e.get("marked_email_as_spam", False)),
        "unsubscribed_from_emails": c.unsubscribed,
        "created_at": c.created_at,
        "updated_at": c.updated_at,
        "signed_up_at": c.signed_up_at,
        "last_seen_at": c.last_seen_at,
        "last_replied_at": e.get("last_replied_at"),
        "last_contacted_at": e.get("last_contacted_at"),
        "last_email_opened_at": e.get("last_email_opened_at"),
        "last_email_clicked_at": e.get("last_email_clicked_at"),
        "language_override": e.get("language_override"),
        "browser": e.get("browser"),
        "browser_version": e.get("browser_version"),
        "browser_language": e.get("browser_language"),
        "os": e.get("os"),
        "location": {"type": "location", "country": loc.get("country"), "region": loc.get("region"),
                     "city": loc.get("city"), "country_code": loc.get("country_code"),
                     "continent_code": loc.get("continent_code")},
        "android_app_name": e.get("android_app_name"),
        "android_app_version": e.get("android_app_version"),
        "android_device": e.get("android_device"),
        "android_os_version": e.get("android_os_version"),
        "android_sdk_version": e.get("android_sdk_version"),
        "android_last_seen_at": e.get("android_last_seen_at"),
        "ios_app_name": e.get("ios_app_name"),
        "ios_app_version": e.get("ios_app_version"),
        "ios_device": e.get("ios_device"),
        "ios_os_version": e.get("ios_os_version"),
        "ios_sdk_version": e.get("ios_sdk_version"),
        "ios_last_seen_at": e.get("ios_last_seen_at"),
        "custom_attributes": c.custom if c.custom is not None else {},
        "tags": _list_ref(cid, "tags", tags, "tag"),
        "notes": _list_ref(cid, "notes"),
        "companies": _list_ref(cid, "companies", companies, "company"),
        # Not in the contact schema, but present in every example response Intercom documents.
        "opted_out_subscription_types": _list_ref(cid, "subscriptions"),
        "opted_in_subscription_types": _list_ref(cid, "subscriptions"),
        "utm_campaign": None,
        "utm_content": None,
        "utm_medium": None,
        "utm_source": None,
        "utm_term": None,
        "referrer": None,
    }
    if preview:
        out["formatted_phone"] = _e164(c.phone)
    if push:
        out["enabled_push_messaging"] = None
    return out


def _e164(phone: Optional[str]) -> Optional[str]:
    if not phone:
        return None
    digits = _NON_PHONE.sub("", phone)
    return digits if digits.startswith("+") and len(digits) > 4 else None


def contact_reference(c: Contact, **extra: Any) -> Dict[str, Any]:
    out: Dict[str, Any] = {"type": "contact", "id": c.id, "external_id": c.external_id}
    out.update(extra)
    return out
