"""Tags: the workspace's tags, tagging many users or companies at once, untagging one contact."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Sequence
from urllib.parse import quote

from target_intercom.intercom.http import IntercomHttp, Refused


@dataclass(frozen=True)
class Tag:
    id: str
    name: str


@dataclass(frozen=True)
class Tagged:
    """What `POST /tags` did: the tag, and the ids it says it (un)tagged (None: the answer does not say)."""

    tag: Tag
    ids: Optional[List[str]]


class TagsApi:
    def __init__(self, http: IntercomHttp) -> None:
        self._http = http

    def all(self) -> List[Tag]:
        """Every tag of the workspace: one request (read once a run, through the SDK's typed method)."""
        listing = self._http.call("GET /tags", lambda: self._http.sdk.tags.list())
        return [Tag(str(tag.id), str(tag.name)) for tag in listing.data or []]

    def of_contact(self, contact_id: str) -> List[str]:
        """The ids of every tag the contact carries (its object lists ten at most)."""
        listing = self._http.call(
            "GET /contacts/{id}/tags", lambda: self._http.sdk.contacts.list_attached_tags(_quoted(contact_id))
        )
        return [str(tag.id) for tag in listing.data or []]

    def tag_contacts(self, name: str, contact_ids: Sequence[str]) -> Tagged:
        """Tag the contacts (Intercom ids), creating the tag if no tag has this name (compared without case)."""
        return self._tag(name, {"users": [{"id": i} for i in contact_ids]}, "users")

    def tag_companies(self, name: str, company_ids: Sequence[str], untag: bool = False) -> Tagged:
        """Tag the companies (Intercom ids), or untag them."""
        directive: Dict[str, Any] = {"untag": True} if untag else {}
        return self._tag(name, {"companies": [{"id": i, **directive} for i in company_ids]}, "companies")

    def untag_contact(self, contact_id: str, tag_id: str) -> None:
        """Remove the tag from the contact; one the contact does not carry is no error."""
        path = f"/contacts/{_quoted(contact_id)}/tags/{_quoted(tag_id)}"
        try:
            self._http.send_json("DELETE", path, None, "DELETE /contacts/{id}/tags/{id}")
        except Refused as exc:
            if exc.status != 404:
                raise

    def _tag(self, name: str, entities: Dict[str, Any], kind: str) -> Tagged:
        answer = self._http.send_json("POST", "/tags", {"name": name, **entities}, "POST /tags")
        tag = Tag(str(answer["id"]), str(answer.get("name") or name))
        # From Intercom-Version 2.16 the answer lists each entity it tagged and
        # skips unknown ones; before, an unknown one fails the whole request.
        results = answer.get(kind)
        if not isinstance(results, list) or not results and entities[kind]:
            return Tagged(tag, None)
        return Tagged(tag, [str(item.get("id")) for item in results if isinstance(item, dict)])


def _quoted(identifier: str) -> str:
    return quote(identifier, safe="")
