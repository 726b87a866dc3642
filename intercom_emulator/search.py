"""POST /contacts/search: checking a query against Intercom's rules, evaluating it, paging the result.

Equality and IN on id, external_id, email and role are answered from the store's indexes; every other
filter is checked against the candidates those produce, or against every contact when none apply.
"""
from __future__ import annotations

import base64
import binascii
import json
import math
import operator
import re
from operator import attrgetter
from typing import Any, Callable, Dict, Iterable, List, NamedTuple, Optional, Tuple

from .attributes import AttributeRegistry
from .errors import bad_param
from .render import email_domain
from .store import Contact, ContactStore

DAY = 86400
MAX_NESTING = 2
MAX_FILTERS_PER_GROUP = 15
DEFAULT_PER_PAGE = 50
MAX_PER_PAGE = 150

STRING, INTEGER, FLOAT, DATE, BOOLEAN, TAG = "string", "integer", "float", "date", "boolean", "tag_id"
_OPERATORS = {
    STRING: ("=", "!=", "IN", "NIN", "~", "!~", "^", "$"),
    BOOLEAN: ("=", "!=", "IN", "NIN"),
    INTEGER: ("=", "!=", "IN", "NIN", "<", ">", "<=", ">="),
    FLOAT: ("=", "!=", "IN", "NIN", "<", ">", "<=", ">="),
    DATE: ("=", "<", ">"),
    TAG: ("=", "!="),
}
ALL_OPERATORS = ("=", "!=", "IN", "NIN", "<", "<=", ">", ">=", "~", "!~", "^", "$")

Getter = Callable[[Contact], Any]
Pred = Callable[[Contact], bool]


def _extra(name: str) -> Getter:
    def get(c: Contact) -> Any:
        return c.extra.get(name) if c.extra else None
    return get


def _flag(name: str) -> Getter:
    def get(c: Contact) -> Any:
        return bool(c.extra.get(name)) if c.extra else False
    return get


def _location(name: str) -> Getter:
    def get(c: Contact) -> Any:
        loc = c.extra.get("location") if c.extra else None
        return loc.get(name) if loc else None
    return get


def _none(c: Contact) -> Any:
    return None


# field -> (type, getter, name of the store index that answers = and IN, or None)
FIELDS: Dict[str, Tuple[str, Getter, Optional[str]]] = {
    "id": (STRING, attrgetter("id"), "id"),
    "external_id": (STRING, attrgetter("external_id"), "external_id"),
    "email": (STRING, attrgetter("email"), "email"),
    "role": (STRING, attrgetter("role"), "role"),
    "name": (STRING, attrgetter("name"), None),
    "phone": (STRING, attrgetter("phone"), None),
    "avatar": (STRING, attrgetter("avatar"), None),
    "email_domain": (STRING, lambda c: email_domain(c.email), None),
    "owner_id": (INTEGER, attrgetter("owner_id"), None),
    "created_at": (DATE, attrgetter("created_at"), None),
    "updated_at": (DATE, attrgetter("updated_at"), None),
    "signed_up_at": (DATE, attrgetter("signed_up_at"), None),
    "last_seen_at": (DATE, attrgetter("last_seen_at"), None),
    "unsubscribed_from_emails": (BOOLEAN, attrgetter("unsubscribed"), None),
    "marked_email_as_spam": (BOOLEAN, _flag("marked_email_as_spam"), None),
    "has_hard_bounced": (BOOLEAN, _flag("has_hard_bounced"), None),
    "location.country": (STRING, _location("country"), None),
    "location.region": (STRING, _location("region"), None),
    "location.city": (STRING, _location("city"), None),
    "segment_id": (TAG, _none, None),
    "tag_id": (TAG, _none, None),
    "formatted_phone": (STRING, _none, None),
    "ios_app_device": (STRING, _none, None),
    # Intercom's field table spells it this way.
    "andoid_sdk_version": (STRING, _extra("android_sdk_version"), None),
}
for _name in ("last_contacted_at", "last_replied_at", "last_email_opened_at", "last_email_clicked_at",
              "ios_last_seen_at", "android_last_seen_at"):
    FIELDS[_name] = (DATE, _extra(_name), None)
for _name in ("language_override", "browser", "browser_language", "os", "ios_app_version", "ios_device",
              "ios_os_version", "ios_app_name", "ios_sdk_version", "android_app_version", "android_device",
              "android_app_name", "android_sdk_version"):
    FIELDS[_name] = (STRING, _extra(_name), None)

_CASE_INSENSITIVE = ("email", "email_domain")
_INTERCOM_ID = re.compile(r"[0-9a-f]{24}")


class SearchRules(NamedTuple):
    """Guessed limits, switchable because nothing public documents them (see the emulator's README)."""

    max_in_values: Optional[int] = None       # longest IN/NIN list accepted; None: no limit
    ids_only_in_id_filter: bool = False       # id values must look like Intercom ids (24 lowercase hex)
    email_case_sensitive: bool = False        # = / != / IN / NIN on email compare case-sensitively
_CUSTOM_KIND = {"string": STRING, "integer": INTEGER, "float": FLOAT, "boolean": BOOLEAN, "date": DATE}


class Node:
    """A compiled filter: a predicate plus, when an index can answer it, a way to list candidates."""

    __slots__ = ("pred", "estimate", "candidates")

    def __init__(self, pred: Pred, estimate: Optional[Callable[[ContactStore], int]] = None,
                 candidates: Optional[Callable[[ContactStore], Iterable[Contact]]] = None) -> None:
        self.pred = pred
        self.estimate = estimate
        self.candidates = candidates


def compile_query(query: Any, registry: AttributeRegistry, exact_dates: bool = False,
                  rules: SearchRules = SearchRules()) -> Node:
    """Check a query against Intercom's limits and turn it into a Node; raises a 400 ApiError."""
    if not isinstance(query, dict):
        raise bad_param("query must be an object with a field, operator and value, or an AND/OR group")
    return _compile(query, 0, registry, exact_dates, rules)


def _compile(node: Any, depth: int, registry: AttributeRegistry, exact_dates: bool, rules: SearchRules) -> Node:
    if not isinstance(node, dict):
        raise bad_param("each filter must be an object")
    op = node.get("operator")
    if op in ("AND", "OR"):
        if depth >= MAX_NESTING:
            raise bad_param("Nested filters are limited to 2 levels: a group may only contain groups whose "
                            "values are single filters")
        value = node.get("value")
        if not isinstance(value, list) or not value:
            raise bad_param("the value of an %s group must be a non-empty array of filters" % op)
        if len(value) > MAX_FILTERS_PER_GROUP:
            raise bad_param("There's a limit of max %d filters for each AND or OR group (got %d)"
                            % (MAX_FILTERS_PER_GROUP, len(value)))
        children = [_compile(v, depth + 1, registry, exact_dates, rules) for v in value]
        return _and(children) if op == "AND" else _or(children)
    return _single(node, registry, exact_dates, rules)


def _and(children: List[Node]) -> Node:
    preds = [c.pred for c in children]
    indexed = [c for c in children if c.estimate is not None]

    def pred(c: Contact) -> bool:
        for p in preds:
            if not p(c):
                return False
        return True

    if not indexed:
        return Node(pred)

    def best(store: ContactStore) -> Node:
        return min(indexed, key=lambda n: n.estimate(store))  # type: ignore[misc]

    return Node(pred, lambda s: best(s).estimate(s), lambda s: best(s).candidates(s))  # type: ignore[misc]


def _or(children: List[Node]) -> Node:
    preds = [c.pred for c in children]

    def pred(c: Contact) -> bool:
        for p in preds:
            if p(c):
                return True
        return False

    if any(c.estimate is None for c in children):
        return Node(pred)

    def estimate(store: ContactStore) -> int:
        return sum(c.estimate(store) for c in children)  # type: ignore[misc]

    def candidates(store: ContactStore) -> Iterable[Contact]:
        for c in children:
            yield from c.candidates(store)  # type: ignore[misc]

    return Node(pred, estimate, candidates)


def _coerce(kind: str, field: str, value: Any) -> Any:
    """One search value converted to the field's type, or a 400 when Intercom's query would fail."""
    if kind in (STRING, TAG):
        if isinstance(value, str):
            return value
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
    elif kind == BOOLEAN:
        if isinstance(value, bool):
            return value
        if value in ("true", "false"):
            return value == "true"
    elif kind in (INTEGER, DATE):
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lstrip("-").isdigit():
            return int(value)
    elif kind == FLOAT:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return value
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                pass
    label = "date (Unix timestamp)" if kind == DATE else kind
    raise bad_param("The value %s is not valid for field %s, which accepts %s values"
                    % (json.dumps(value), field, label))


def _resolve_field(field: Any, registry: AttributeRegistry) -> Tuple[str, Getter, Optional[str]]:
    if not isinstance(field, str) or not field:
        raise bad_param("each filter needs a field, an operator and a value")
    if field in FIELDS:
        return FIELDS[field]
    if field.startswith("custom_attributes."):
        name = field[len("custom_attributes."):]
        attr = registry.get(name)
        if attr is None:
            raise bad_param("Custom attribute '%s' does not exist" % name)

        def get(c: Contact) -> Any:
            return c.custom.get(name) if c.custom else None
        return _CUSTOM_KIND[attr.data_type], get, None
    raise bad_param("%s is not a searchable contact field" % field)


def _check_guessed_limits(field: Any, op: str, raw: Any, rules: SearchRules) -> None:
    """The switchable guesses: a longest IN list, and id values that must look like Intercom ids."""
    if op in ("IN", "NIN") and rules.max_in_values is not None and len(raw) > rules.max_in_values:
        raise bad_param("The %s operator accepts at most %d values (got %d)" % (op, rules.max_in_values, len(raw)))
    if field == "id" and rules.ids_only_in_id_filter and raw is not None:
        for value in raw if isinstance(raw, list) else [raw]:
            if not (isinstance(value, str) and _INTERCOM_ID.fullmatch(value)):
                raise bad_param("%s is not a valid contact id" % json.dumps(value))


def _single(node: Dict[str, Any], registry: AttributeRegistry, exact_dates: bool, rules: SearchRules) -> Node:
    field = node.get("field")
    op = node.get("operator")
    kind, get, index = _resolve_field(field, registry)
    if op not in ALL_OPERATORS:
        raise bad_param("%s is not a valid search operator" % json.dumps(op))
    if op not in _OPERATORS[kind]:
        raise bad_param("The operator %s is not supported for field %s (%s)" % (op, field, kind))
    if "value" not in node:
        raise bad_param("each filter needs a field, an operator and a value")
    raw = node["value"]
    ci = field in _CASE_INSENSITIVE and not (field == "email" and rules.email_case_sensitive)
    if op in ("IN", "NIN") and not isinstance(raw, list):
        raise bad_param("The %s operator needs an array of values" % op)
    _check_guessed_limits(field, op, raw, rules)
    if op in ("IN", "NIN"):
        values = [_coerce(kind, field, v) for v in raw]  # type: ignore[arg-type]
        if ci:
            values = [v.lower() for v in values]
        wanted = frozenset(values)
        if ci:
            def member(c: Contact) -> bool:
                x = get(c)
                return x is not None and x.lower() in wanted
        else:
            def member(c: Contact) -> bool:
                return get(c) in wanted
        if op == "IN":
            return _indexed(member, index, values)
        return Node(lambda c: not member(c))
    if raw is None:
        if op not in ("=", "!="):
            raise bad_param("null can only be compared with = or !=")
        if op == "=":
            return Node(lambda c: get(c) is None)
        return Node(lambda c: get(c) is not None)
    value = _coerce(kind, field, raw)  # type: ignore[arg-type]
    if kind == DATE:
        return Node(_date_pred(op, get, value, exact_dates))
    if op in ("=", "!="):
        if ci:
            low = value.lower()

            def eq(c: Contact) -> bool:
                x = get(c)
                return x is not None and x.lower() == low
        else:
            def eq(c: Contact) -> bool:
                return get(c) == value
        if op == "=":
            return _indexed(eq, index, [value.lower() if ci else value])
        return Node(lambda c: not eq(c))
    if op in ("~", "!~", "^", "$"):
        return Node(_text_pred(op, get, value.lower()))
    return Node(_compare(op, get, value))


def _text_pred(op: str, get: Getter, needle: str) -> Pred:
    # Text operators ignore case, like Intercom's search index.
    def text(c: Contact) -> Optional[str]:
        x = get(c)
        return x.lower() if isinstance(x, str) else None

    if op == "~":
        def contains(c: Contact) -> bool:
            t = text(c)
            return t is not None and needle in t
        return contains
    if op == "!~":
        def lacks(c: Contact) -> bool:
            t = text(c)
            return t is None or needle not in t
        return lacks
    if op == "^":
        def starts(c: Contact) -> bool:
            t = text(c)
            return t is not None and t.startswith(needle)
        return starts

    def ends(c: Contact) -> bool:
        t = text(c)
        return t is not None and t.endswith(needle)
    return ends


_CMP = {"<": operator.lt, ">": operator.gt, "<=": operator.le, ">=": operator.ge}


def _compare(op: str, get: Getter, value: Any) -> Pred:
    cmp = _CMP[op]

    def pred(c: Contact) -> bool:
        x = get(c)
        return _num(x) is not None and cmp(x, value)
    return pred


def _num(x: Any) -> Any:
    return x if isinstance(x, (int, float)) and not isinstance(x, bool) else None


def _date_pred(op: str, get: Getter, value: int, exact: bool) -> Pred:
    if exact:
        # Preview matches standard timestamps to the second.
        return _compare(op, get, value) if op != "=" else (lambda c: get(c) == value)
    # Stable versions match dates by (UTC) calendar day: "=" is the whole day, ">" starts the next day.
    start = value - value % DAY
    end = start + DAY
    if op == "=":
        lo, hi = start, end
    elif op == ">":
        lo, hi = end, None
    else:
        lo, hi = None, start

    def in_range(c: Contact) -> bool:
        x = _num(get(c))
        return x is not None and (lo is None or x >= lo) and (hi is None or x < hi)
    return in_range


def _indexed(pred: Pred, index: Optional[str], values: List[Any]) -> Node:
    if index is None:
        return Node(pred)
    if index == "id":
        return Node(pred, lambda s: len(values), lambda s: [s.by_id[v] for v in values if v in s.by_id])
    if index == "external_id":
        return Node(pred, lambda s: len(values),
                    lambda s: [s.by_external_id[v] for v in values if v in s.by_external_id])
    if index == "email":
        keys = [v.lower() for v in values]  # the index is keyed by lower-cased email; pred decides the case
        return Node(pred, lambda s: sum(len(s.by_email.get(k, ())) for k in keys),
                    lambda s: [c for k in keys for c in s.by_email.get(k, ())])
    return Node(pred, lambda s: sum(len(s.by_role.get(v, ())) for v in values),
                lambda s: [c for v in values for c in s.by_role.get(v, {}).values()])


def run_query(store: ContactStore, node: Node, now: float) -> List[Contact]:
    """Every contact search can see that matches, in creation order."""
    pred = node.pred
    if node.estimate is not None and node.estimate(store) <= max(2000, len(store) // 4):
        seen = set()
        found = []
        for c in node.candidates(store):  # type: ignore[misc]
            if c.id in seen:
                continue
            seen.add(c.id)
            if not c.archived and c.visible_at <= now and pred(c):
                found.append(c)
        found.sort(key=attrgetter("seq"))
        return found
    return [c for c in store.by_id.values() if not c.archived and c.visible_at <= now and pred(c)]


# ---- pagination ------------------------------------------------------------------------------------

def parse_pagination(pagination: Any) -> Tuple[int, Optional[str]]:
    if pagination is None:
        return DEFAULT_PER_PAGE, None
    if not isinstance(pagination, dict):
        raise bad_param("pagination must be an object")
    per_page = pagination.get("per_page", DEFAULT_PER_PAGE)
    if per_page is None:
        per_page = DEFAULT_PER_PAGE
    if isinstance(per_page, bool) or not isinstance(per_page, int):
        raise bad_param("per_page must be an integer")
    if not 1 <= per_page <= MAX_PER_PAGE:
        raise bad_param("per_page must be between 1 and %d" % MAX_PER_PAGE)
    cursor = pagination.get("starting_after")
    if cursor is not None and not isinstance(cursor, str):
        raise bad_param("starting_after must be a string")
    return per_page, cursor or None


def encode_cursor(c: Contact, page: int) -> str:
    return base64.b64encode(json.dumps([c.seq, c.id, page], separators=(",", ":")).encode()).decode()


def decode_cursor(cursor: str) -> Tuple[int, int]:
    """(sequence number of the last contact already returned, number of the page to return)."""
    try:
        seq, _cid, page = json.loads(base64.b64decode(cursor.encode(), validate=True))
        if isinstance(seq, int) and isinstance(page, int) and page >= 2:
            return seq, page
    except (ValueError, TypeError, binascii.Error):
        pass
    raise bad_param("starting_after is not a valid cursor", field="starting_after")


def page_of(results: List[Contact], per_page: int, cursor: Optional[str]) -> Tuple[List[Contact], Dict[str, Any]]:
    """One page of an ordered result and the ``pages`` object describing it."""
    start, page = 0, 1
    if cursor is not None:
        last_seq, page = decode_cursor(cursor)
        lo, hi = 0, len(results)
        while lo < hi:  # first result after the cursor (results are ordered by seq)
            mid = (lo + hi) // 2
            if results[mid].seq <= last_seq:
                lo = mid + 1
            else:
                hi = mid
        start = lo
    items = results[start:start + per_page]
    pages: Dict[str, Any] = {"type": "pages", "page": page, "per_page": per_page,
                             "total_pages": int(math.ceil(len(results) / float(per_page)))}
    if start + per_page < len(results):
        pages["next"] = {"page": page + 1, "starting_after": encode_cursor(items[-1], page + 1)}
    return items, pages
