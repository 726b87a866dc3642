"""Data attributes: the standard ones Intercom defines, custom ones a workspace adds, and value checks."""
from __future__ import annotations

import math
import time
import unicodedata
from typing import Any, Dict, List, Optional, Tuple

from .errors import ApiError, bad_param

MAX_CUSTOM_ATTRIBUTES = 250
MAX_STRING_LENGTH = 255
INT64_MIN = -(2 ** 63)
INT64_MAX = 2 ** 63 - 1
CREATE_TYPES = ("string", "integer", "float", "boolean", "date", "datetime", "options")
ADMIN_ID = "991267001"
MODELS = ("contact", "company")
_MODEL_WORD = {"contact": "people", "company": "company"}

# (name, full_name, label, description, data_type, api_writable)
_STANDARD_CONTACT = [
    ("id", "id", "ID", "The Intercom defined id representing the contact", "string", False),
    ("external_id", "external_id", "User ID", "A unique identifier for the contact which you have defined", "string", True),
    ("name", "name", "Name", "The contact's name", "string", True),
    ("email", "email", "Email", "The contact's email address", "string", True),
    ("email_domain", "email_domain", "Email domain", "The domain of the contact's email address", "string", False),
    ("phone", "phone", "Phone", "The contact's phone number", "string", True),
    ("role", "role", "Role", "The role of the contact: user or lead", "string", True),
    ("avatar", "avatar", "Avatar", "An image URL containing the avatar of the contact", "string", True),
    ("owner_id", "owner_id", "Owner", "The id of the admin that has been assigned ownership of the contact", "integer", True),
    ("signed_up_at", "signed_up_at", "Signed up", "The time the contact signed up", "date", True),
    ("last_seen_at", "last_seen_at", "Last seen", "The last time the contact was seen", "date", True),
    ("created_at", "created_at", "First seen", "The time the contact was added to Intercom", "date", False),
    ("updated_at", "updated_at", "Updated at", "The last time the contact was updated", "date", False),
    ("last_replied_at", "last_replied_at", "Last contacted", "The last time the contact messaged in", "date", False),
    ("last_contacted_at", "last_contacted_at", "Last messaged", "The last time the contact was messaged", "date", False),
    ("last_email_opened_at", "last_email_opened_at", "Last opened email", "The last time the contact opened an email", "date", False),
    ("last_email_clicked_at", "last_email_clicked_at", "Last clicked on link in email", "The last time the contact clicked a link in an email", "date", False),
    ("unsubscribed_from_emails", "unsubscribed_from_emails", "Unsubscribed from emails", "Whether the contact is unsubscribed from emails", "boolean", True),
    ("has_hard_bounced", "has_hard_bounced", "Has hard bounced", "Whether an email sent to the contact has hard bounced", "boolean", False),
    ("marked_email_as_spam", "marked_email_as_spam", "Marked email as spam", "Whether the contact has marked an email as spam", "boolean", False),
    ("language_override", "language_override", "Language override", "The language the Messenger uses for the contact", "string", False),
    ("browser", "browser", "Browser", "The browser the contact last used", "string", False),
    ("browser_version", "browser_version", "Browser version", "The version of the browser the contact last used", "string", False),
    ("browser_language", "browser_language", "Browser language", "The language of the browser the contact last used", "string", False),
    ("os", "os", "OS", "The operating system the contact last used", "string", False),
    ("country", "location.country", "Country", "The country the contact is located in", "string", False),
    ("region", "location.region", "Region", "The region the contact is located in", "string", False),
    ("city", "location.city", "City", "The city the contact is located in", "string", False),
]

_STANDARD_COMPANY = [
    ("name", "name", "Company name", "The name of a company", "string", True),
    ("company_id", "company_id", "Company ID", "A number identifying a company", "string", False),
    ("last_request_at", "last_request_at", "Company last seen", "The last day anyone from a company visited your site or app", "date", False),
    ("remote_created_at", "remote_created_at", "Company created at", "The day a company was added to Intercom", "date", True),
    ("user_count", "user_count", "People", "The number of people in a company", "integer", False),
    ("session_count", "session_count", "Company web sessions", "All visits from anyone in a company to your product's site or app", "integer", False),
    ("monthly_spend", "monthly_spend", "Monthly Spend", "The monthly revenue you receive from a company", "float", True),
    ("size", "size", "Company size", "The number of people employed in this company, expressed as a single number", "integer", True),
    ("industry", "industry", "Company industry", "The category or domain this company belongs to e.g. 'ecommerce' or 'SaaS'", "string", True),
    ("website", "website", "Company website", "The web address for the company's primary marketing site", "string", True),
    ("id", "id", "ID", "The Intercom defined id representing the company", "string", False),
    ("created_at", "created_at", "Created at", "The time the company was added to Intercom", "date", False),
    ("updated_at", "updated_at", "Updated at", "The last time the company was updated", "date", False),
]

_STANDARD = {"contact": _STANDARD_CONTACT, "company": _STANDARD_COMPANY}
# Names taken by standard attributes, which a custom attribute may not reuse (compared case-insensitively).
_STANDARD_NAMES = {model: {row[0].lower() for row in rows} for model, rows in _STANDARD.items()}


class CustomAttribute:
    __slots__ = ("id", "name", "model", "data_type", "options", "description", "messenger_writable",
                 "archived", "created_at", "updated_at")

    def __init__(self, id: int, name: str, model: str, data_type: str, options: Optional[List[str]],
                 description: Optional[str], messenger_writable: bool, now: int) -> None:
        self.id = id
        self.name = name
        self.model = model
        self.data_type = data_type
        self.options = options
        self.description = description
        self.messenger_writable = messenger_writable
        self.archived = False
        self.created_at = now
        self.updated_at = now

    def render(self) -> Dict[str, Any]:
        out: Dict[str, Any] = {"id": self.id, "type": "data_attribute", "name": self.name,
                               "full_name": "custom_attributes." + self.name, "label": self.name}
        if self.description is not None:
            out["description"] = self.description
        out["data_type"] = self.data_type
        if self.options is not None:
            out["options"] = list(self.options)
        out.update({"api_writable": True, "ui_writable": False, "messenger_writable": self.messenger_writable,
                    "custom": True, "archived": self.archived, "admin_id": ADMIN_ID,
                    "created_at": self.created_at, "updated_at": self.updated_at, "model": self.model})
        return out


def _render_standard(row: Tuple[Any, ...], model: str, datetime_dates: bool) -> Dict[str, Any]:
    name, full_name, label, description, data_type, api_writable = row
    if datetime_dates and data_type == "date":
        # Preview reports standard timestamps as "datetime" (they are matched to the second there).
        data_type = "datetime"
    return {"type": "data_attribute", "name": name, "full_name": full_name, "label": label,
            "description": description, "data_type": data_type, "api_writable": api_writable,
            "ui_writable": False, "messenger_writable": True, "custom": False, "archived": False, "model": model}


def valid_attribute_name(name: str) -> bool:
    if not name.strip():
        return False
    for ch in name:
        if ch.isalnum() or ch in " _-" or unicodedata.category(ch) == "Sc":
            continue
        return False
    return True


class AttributeRegistry:
    def __init__(self) -> None:
        self._by_name: Dict[Tuple[str, str], CustomAttribute] = {}
        self._by_lower: Dict[str, CustomAttribute] = {}
        self._by_id: Dict[int, CustomAttribute] = {}
        self._next_id = 1

    def reset(self) -> None:
        self.__init__()  # type: ignore[misc]

    # ---- reads -------------------------------------------------------------------------------
    def get(self, name: str, model: str = "contact") -> Optional[CustomAttribute]:
        attr = self._by_name.get((model, name))
        if attr is None or attr.archived:
            return None
        return attr

    def list(self, model: Optional[str] = None, include_archived: bool = False,
             datetime_dates: bool = False) -> List[Dict[str, Any]]:
        models = MODELS if model is None else (model,)
        out: List[Dict[str, Any]] = []
        for m in models:
            out.extend(_render_standard(row, m, datetime_dates) for row in _STANDARD.get(m, ()))
            out.extend(a.render() for a in self._by_id.values()
                       if a.model == m and (include_archived or not a.archived))
        return out

    def custom_count(self, model: Optional[str] = None) -> int:
        return sum(1 for a in self._by_id.values() if model is None or a.model == model)

    # ---- writes ------------------------------------------------------------------------------
    def create(self, body: Any) -> CustomAttribute:
        if not isinstance(body, dict):
            raise bad_param("Request body must be a JSON object")
        name = body.get("name")
        model = body.get("model")
        data_type = body.get("data_type")
        if model not in MODELS:
            raise bad_param("The Data Attribute model field must be either contact or company")
        if not isinstance(name, str) or not name.strip():
            raise ApiError(400, "parameter_not_found", "Name can't be blank")
        if not valid_attribute_name(name):
            raise bad_param("Your name for this attribute must only contain alphanumeric characters, "
                            "currency symbols, and hyphens")
        if data_type not in CREATE_TYPES:
            raise bad_param("Data Type isn't an option")
        self._check_name_free(name, model)
        options: Optional[List[str]] = None
        if data_type == "options":
            raw = body.get("options")
            if not isinstance(raw, list) or len(raw) < 2:
                raise bad_param("At least two options are required for a list attribute")
            options = []
            for item in raw:
                value = item.get("value") if isinstance(item, dict) else None
                if not isinstance(value, str) or not value:
                    raise bad_param("Each option must be an object with a string value")
                options.append(value)
        description = body.get("description")
        if description is not None and not isinstance(description, str):
            raise bad_param("description must be a string")
        messenger_writable = body.get("messenger_writable", False)
        if not isinstance(messenger_writable, bool):
            raise bad_param("messenger_writable must be a boolean")
        live = sum(1 for a in self._by_id.values() if a.model == model and not a.archived)
        if live >= MAX_CUSTOM_ATTRIBUTES:
            raise bad_param("You have reached the limit of %d custom attributes for your %s data. "
                            "Archive an attribute to create a new one." % (MAX_CUSTOM_ATTRIBUTES, _MODEL_WORD[model]))
        # Dates and datetimes are one type once stored; lists are strings restricted to their options.
        stored_type = {"datetime": "date", "options": "string"}.get(data_type, str(data_type))
        return self._add(name, model, stored_type, options, description, messenger_writable)

    def _check_name_free(self, name: str, model: str) -> None:
        lower = name.lower()
        existing = self._by_lower.get(lower)
        taken_in = existing.model if existing is not None else None
        if taken_in is None and lower in _STANDARD_NAMES[model]:
            # Standard names clash within their own model only (contacts commonly have a "monthly_spend");
            # custom names clash across models, as Intercom's documented example shows.
            taken_in = model
        if taken_in is not None:
            raise bad_param("You already have '%s' in your %s data. To save this as new %s data, use a different name."
                            % (name, _MODEL_WORD[taken_in], _MODEL_WORD[model]))

    def _add(self, name: str, model: str, data_type: str, options: Optional[List[str]],
             description: Optional[str], messenger_writable: bool) -> CustomAttribute:
        attr = CustomAttribute(self._next_id, name, model, data_type, options, description, messenger_writable,
                               int(time.time()))
        self._next_id += 1
        self._by_name[(model, name)] = attr
        self._by_lower[name.lower()] = attr
        self._by_id[attr.id] = attr
        return attr

    def seed(self, name: str, data_type: str, model: str = "contact", **extra: Any) -> CustomAttribute:
        body = dict(extra)
        body.update({"name": name, "data_type": data_type, "model": model})
        try:
            return self.create(body)
        except ApiError as exc:
            raise ValueError(exc.message) from None

    def update(self, attr_id: Any, body: Any) -> CustomAttribute:
        try:
            attr = self._by_id.get(int(attr_id))
        except (TypeError, ValueError):
            attr = None
        if attr is None:
            raise ApiError(404, "field_not_found", "We couldn't find that data attribute to update")
        if not isinstance(body, dict):
            raise bad_param("Request body must be a JSON object")
        changes: Dict[str, Any] = {}
        if "archived" in body:
            if not isinstance(body["archived"], bool):
                raise bad_param("archived must be a boolean")
            changes["archived"] = body["archived"]
        if "description" in body:
            if body["description"] is not None and not isinstance(body["description"], str):
                raise bad_param("description must be a string")
            changes["description"] = body["description"]
        if "messenger_writable" in body:
            if not isinstance(body["messenger_writable"], bool):
                raise bad_param("messenger_writable must be a boolean")
            changes["messenger_writable"] = body["messenger_writable"]
        if "options" in body:
            raw = body["options"]
            if not isinstance(raw, list):
                raise bad_param("Options isn't an array")
            values = [o.get("value") if isinstance(o, dict) else None for o in raw]
            if len(values) < 2 or not all(isinstance(v, str) and v for v in values):
                raise bad_param("At least two options are required for a list attribute")
            if attr.options is None:
                raise bad_param("Options can only be set on a list attribute")
            changes["options"] = values
        for key, value in changes.items():
            setattr(attr, key, value)
        attr.updated_at = int(time.time())
        return attr

    # ---- values on contacts ------------------------------------------------------------------
    def check_values(self, values: Any, model: str = "contact", long_text: str = "reject") -> Dict[str, Any]:
        """Validate a ``custom_attributes`` write; returns the values to store or raises a 400.

        ``long_text`` says what a string over 255 characters does, which is unknown live: "reject" (a 400),
        "truncate" (the first 255 characters are stored) or "store" (kept whole).
        """
        if not isinstance(values, dict):
            raise bad_param("custom_attributes must be an object")
        out: Dict[str, Any] = {}
        for name, value in values.items():
            attr = self.get(name, model)
            if attr is None:
                raise bad_param("Custom attribute '%s' does not exist" % name)
            if value is not None:
                value = check_value(attr, value, long_text)
            out[name] = value
        return out


def check_value(attr: CustomAttribute, value: Any, long_text: str = "reject") -> Any:
    """The value to store for ``attr``, or a 400 when Intercom would refuse it."""
    t = attr.data_type
    ok: bool
    if t == "string":
        ok = isinstance(value, str)
        if ok and len(value) > MAX_STRING_LENGTH and long_text != "store":
            if long_text == "truncate":
                value = value[:MAX_STRING_LENGTH]
            else:
                raise bad_param("Custom attribute '%s' is too long: the maximum length is %d characters"
                                % (attr.name, MAX_STRING_LENGTH))
        if ok and attr.options is not None and value not in attr.options:
            raise bad_param("Custom attribute '%s' must be one of: %s" % (attr.name, ", ".join(attr.options)))
    elif t == "integer" or t == "date":
        ok = isinstance(value, int) and not isinstance(value, bool) and INT64_MIN <= value <= INT64_MAX
    elif t == "float":
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    elif t == "boolean":
        ok = isinstance(value, bool)
    else:  # pragma: no cover - registry only stores the types above
        ok = False
    if not ok:
        expected = "date (an integer Unix timestamp in seconds)" if t == "date" else t
        raise bad_param("Custom attribute '%s' must be of type %s" % (attr.name, expected))
    return value

