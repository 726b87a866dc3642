"""owner_id must name an admin of the workspace: Intercom answers 400 for any other.

The admins are read once (`GET /admins`), when the first record carrying an
owner_id is written, and a record naming anyone else is rejected before
anything of it is sent.
"""

from __future__ import annotations

import threading
from typing import Any, Optional, Set

from target_intercom.intercom import IntercomClient
from target_intercom.rejects import RecordRejected


class Owners:
    def __init__(self, client: IntercomClient) -> None:
        self._client = client
        self._lock = threading.Lock()
        self._admins: Optional[Set[str]] = None

    def check(self, owner_id: Any) -> None:
        """Raise RecordRejected unless the owner_id is an admin's id."""
        if str(owner_id) not in self._ids():
            raise RecordRejected(
                f"owner_id {owner_id} is not an admin of the Intercom workspace "
                "(Intercom answers 'The owner specified is not a member of the workspace')",
                "unknown_owner",
            )

    def _ids(self) -> Set[str]:
        with self._lock:
            if self._admins is None:
                self._admins = set(self._client.admins.ids())
            return self._admins
