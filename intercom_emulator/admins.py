"""The workspace's admins (teammates): ``GET /admins`` lists them and a contact's ``owner_id`` must name one.

Intercom documents (2.1 and 2.4 "Create a contact") that an owner_id which is not an admin of the workspace
answers ``400 parameter_invalid "The owner specified is not a member of the workspace"``.
"""
from __future__ import annotations

import itertools
from typing import Any, Dict, List, Optional

from .attributes import ADMIN_ID as DEFAULT_ADMIN_ID  # the admin that created the custom attributes
from .errors import ApiError, bad_param

# DEFAULT_ADMIN_ID is the only admin of a fresh workspace.
DEFAULT_ADMIN_NAME = "Emulator Admin"
DEFAULT_ADMIN_EMAIL = "admin@emulator.example"


def owner_not_member() -> ApiError:
    return bad_param("The owner specified is not a member of the workspace")


class Admin:
    __slots__ = ("id", "name", "email", "job_title", "away_mode_enabled", "has_inbox_seat")

    def __init__(self, id: str, name: str, email: str, job_title: Optional[str] = None,
                 away_mode_enabled: bool = False, has_inbox_seat: bool = True) -> None:
        self.id = id
        self.name = name
        self.email = email
        self.job_title = job_title
        self.away_mode_enabled = away_mode_enabled
        self.has_inbox_seat = has_inbox_seat

    def render(self) -> Dict[str, Any]:
        """The fields of Intercom's documented ``GET /admins`` example (job_title only when set)."""
        out: Dict[str, Any] = {"type": "admin", "email": self.email, "id": self.id, "name": self.name}
        if self.job_title is not None:
            out["job_title"] = self.job_title
        out.update({"away_mode_enabled": self.away_mode_enabled, "away_mode_reassign": False,
                    "has_inbox_seat": self.has_inbox_seat, "team_ids": []})
        return out


class AdminRegistry:
    """Not thread-safe by itself: callers hold the emulator's state lock."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self._by_id: Dict[str, Admin] = {}
        self._next = itertools.count(int(DEFAULT_ADMIN_ID) + 1)
        self._by_id[DEFAULT_ADMIN_ID] = Admin(DEFAULT_ADMIN_ID, DEFAULT_ADMIN_NAME, DEFAULT_ADMIN_EMAIL)

    def seed(self, id: Any = None, name: Optional[str] = None, email: Optional[str] = None,
             job_title: Optional[str] = None, away_mode_enabled: bool = False,
             has_inbox_seat: bool = True) -> Admin:
        """Add (or replace) an admin; ids are digit strings because owner_id is an integer up to 2.15."""
        admin_id = str(next(self._next)) if id is None else str(id).strip()
        if not admin_id.isdigit():
            raise ValueError("an admin id must be a string of digits (owner_id is an integer up to 2.15)")
        for label, value in (("name", name), ("email", email), ("job_title", job_title)):
            if value is not None and not isinstance(value, str):
                raise ValueError("admin %s must be a string" % label)
        admin = Admin(admin_id, name or "Admin %s" % admin_id, email or "admin%s@emulator.example" % admin_id,
                      job_title, bool(away_mode_enabled), bool(has_inbox_seat))
        self._by_id[admin_id] = admin
        return admin

    def is_member(self, owner_id: int) -> bool:
        return str(owner_id) in self._by_id

    def get(self, admin_id: str) -> Admin:
        admin = self._by_id.get(str(admin_id))
        if admin is None:
            raise ApiError(404, "admin_not_found", "Admin not found")
        return admin

    def list(self) -> List[Dict[str, Any]]:
        return [a.render() for a in self._by_id.values()]
