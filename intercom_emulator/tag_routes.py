"""The tag endpoints: /tags in all its forms and the tags of one contact."""
from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Optional, Tuple

from .companies import Company, company_not_found
from .errors import ApiError, not_found
from .tags import Tag, invalid_tag_parameters, render_tag
from .versions import at_least

if TYPE_CHECKING:  # pragma: no cover
    from .core import Core
    from .routes import ApiRequest

Reply = Tuple[int, Any]
Result = Dict[str, Any]


def list_tags(core: "Core", req: "ApiRequest") -> Reply:
    with core.lock:
        return 200, {"type": "list", "data": [render_tag(t) for t in core.tags.by_id.values()]}


def get_tag(core: "Core", req: "ApiRequest") -> Reply:
    with core.lock:
        return 200, render_tag(core.tags.find(req.params["id"]))


def delete_tag(core: "Core", req: "ApiRequest") -> Reply:
    with core.lock:
        core.tags.delete(core.tags.find(req.params["id"]))
    return 200, b""  # the spec documents a 200 without a body


def create_tag(core: "Core", req: "ApiRequest") -> Reply:
    """POST /tags: create (or find) a tag by name, rename one by id, or tag users or (un)tag companies.

    2.14 answers the tag and a 404 for an unknown user or company (nothing is changed then); from 2.16 on
    (Intercom-OpenAPI #481) unknown entities are skipped and the answer lists each tagged or untagged one.
    """
    body = req.json_object()
    name = body.get("name")
    users, companies = body.get("users"), body.get("companies")
    if not isinstance(name, str) or not name.strip():
        raise invalid_tag_parameters()
    if users is not None and companies is not None:
        raise invalid_tag_parameters()  # v1 documented that user and company directives can't be mixed
    per_entity = at_least(req.version, "2.16")
    with core.lock:
        user_results: List[Result] = []
        company_results: List[Result] = []
        if users is not None:
            tag, user_results = _tag_users(core, name, users, per_entity)
        elif companies is not None:
            tag, company_results = _tag_companies(core, name, companies, per_entity)
        elif body.get("id") is not None:
            tag = core.tags.find(body["id"])
            core.tags.rename(tag, name)
        else:
            tag, _ = core.tags.find_or_create(name)  # "created if not found ... case insensitive"
        out = render_tag(tag)
        if per_entity:
            out.update(users=user_results, companies=company_results)
        return 200, out


def _directives(items: Any) -> List[Dict[str, Any]]:
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise invalid_tag_parameters()
    return items


def _tag_users(core: "Core", name: str, users: Any, per_entity: bool) -> Tuple[Tag, List[Result]]:
    items = _directives(users)
    limit = core.settings.tag_users_max
    if limit is not None and len(items) > limit:
        # Guess: no 2.x limit is documented (v1.3 advised at most 50 users per request).
        raise ApiError(400, "parameter_invalid", "Too many users: tag at most %d users per request" % limit)
    found: List[Tuple[str, bool]] = []
    for item in items:
        contact_id = item.get("id")  # Intercom ids only in 2.x; user_id or email are not looked up
        contact = core.store.get(contact_id) if isinstance(contact_id, str) and contact_id else None
        if contact is None:
            if not per_entity:
                raise not_found("User Not Found")
            continue
        # `untag` on users is not in the 2.x schemas (v1 had it); the emulator honours it (a guess).
        found.append((contact.id, item.get("untag") is True))
    tag, _ = core.tags.find_or_create(name)
    now = int(time.time())
    for contact_id, untag in found:
        if untag:
            core.tags.untag_contact(tag, contact_id)
        else:
            core.tags.tag_contact(tag, contact_id, now)
    return tag, [{"id": contact_id, "tagged": not untag} for contact_id, untag in found]


def _tag_companies(core: "Core", name: str, companies: Any, per_entity: bool) -> Tuple[Tag, List[Result]]:
    found: List[Tuple[Company, bool]] = []
    for item in _directives(companies):
        company = _company_of(core, item)
        if company is None:
            if not per_entity:
                raise company_not_found()
            continue
        found.append((company, item.get("untag") is True))
    tag, _ = core.tags.find_or_create(name)
    now = int(time.time())
    for company, untag in found:
        if untag:
            core.tags.untag_company(tag, company.id)
        else:
            core.tags.tag_company(tag, company.id, now)
    return tag, [{"id": company.id, "tagged": not untag} for company, untag in found]


def _company_of(core: "Core", item: Dict[str, Any]) -> Optional[Company]:
    """A company named by its Intercom ``id`` or by your ``company_id``."""
    if item.get("id") is not None:
        return core.companies.get(str(item["id"]))
    if item.get("company_id") is not None:
        return core.companies.by_company_id.get(str(item["company_id"]))
    raise invalid_tag_parameters()


# ---- one contact's tags ------------------------------------------------------------------------------

# A merged contact answers these like GET /contacts/{id}: 410 contact_merged from 2.16, 404 before.

def list_contact_tags(core: "Core", req: "ApiRequest") -> Reply:
    with core.lock:
        core.find(req.params["id"], req.version)
        return 200, {"type": "list", "data": core.tags.applied_of_contact(req.params["id"])}


def tag_contact(core: "Core", req: "ApiRequest") -> Reply:
    with core.lock:
        contact = core.find(req.params["id"], req.version)
        body = {} if req.body is None and not req.body_error else req.json_object()
        tag_id = body.get("id")
        if tag_id is None or tag_id == "" or isinstance(tag_id, (bool, dict, list)):
            raise ApiError(400, "parameter_not_found", "tag not specified")  # a guess: no 400 is documented
        tag = core.tags.find(tag_id)  # the spec's example sends the id as a number, so both spellings work
        core.tags.tag_contact(tag, contact.id, int(time.time()))
        return 200, render_tag(tag, core.tags.applied_to_contact(contact.id, tag.id))


def untag_contact(core: "Core", req: "ApiRequest") -> Reply:
    """Removing a tag the contact does not carry answers the tag all the same (a guess)."""
    with core.lock:
        contact = core.find(req.params["id"], req.version)
        tag = core.tags.find(req.params["tag_id"])
        applied_at = core.tags.applied_to_contact(contact.id, tag.id)
        core.tags.untag_contact(tag, contact.id)
        return 200, render_tag(tag, applied_at if applied_at is not None else int(time.time()))


Handler = Callable[["Core", "ApiRequest"], Reply]
TAG_ROUTES: List[Tuple[str, str, Handler]] = [
    ("GET", "/tags", list_tags),
    ("POST", "/tags", create_tag),
    ("GET", "/tags/{id}", get_tag),
    ("DELETE", "/tags/{id}", delete_tag),
    ("GET", "/contacts/{id}/tags", list_contact_tags),
    ("POST", "/contacts/{id}/tags", tag_contact),
    ("DELETE", "/contacts/{id}/tags/{tag_id}", untag_contact),
]
