"""The `long_text` setting: text longer than Intercom's 255 characters is cut or refused.

Intercom stores at most 255 characters in a text custom attribute and in an
event metadata value; what it does with a longer one is not documented.
`truncate` (the default) cuts the text to 255 characters, with one warning
per field; `reject` refuses it, and the caller rejects the record. Characters
are counted as Python counts them, in code points, so a cut never splits a
surrogate pair (an emoji counts as one); it may separate a combining accent
from its letter.
"""

from __future__ import annotations

import logging
import threading
from typing import Set

from target_intercom.values import MAX_STRING_ATTRIBUTE_LENGTH, ValueRejected

logger = logging.getLogger(__name__)

TRUNCATE, REJECT = "truncate", "reject"


class LongText:
    """One policy for every field that holds text of at most 255 characters; each owner holds its own."""

    def __init__(self, mode: str) -> None:
        self.truncates = mode == TRUNCATE
        self._lock = threading.Lock()
        self._warned: Set[str] = set()

    def fit(self, field: str, text: str) -> str:
        """`text` as Intercom may hold it; `field` ("custom attribute 'bio'") names it in the one warning.

        Raises ValueRejected for a long text when the setting is `reject`.
        """
        if len(text) <= MAX_STRING_ATTRIBUTE_LENGTH:
            return text
        if not self.truncates:
            raise ValueRejected(
                f"is {len(text)} characters long; Intercom stores at most {MAX_STRING_ATTRIBUTE_LENGTH}"
            )
        with self._lock:
            first = field not in self._warned
            self._warned.add(field)
        if first:
            logger.warning(
                "%s: values longer than Intercom's %d characters are cut to %d "
                "(long_text is truncate; set it to reject to reject such records instead)",
                field,
                MAX_STRING_ATTRIBUTE_LENGTH,
                MAX_STRING_ATTRIBUTE_LENGTH,
            )
        return text[:MAX_STRING_ATTRIBUTE_LENGTH]
