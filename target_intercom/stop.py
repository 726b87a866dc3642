"""A request to stop, made by SIGTERM or SIGINT and honoured by the loops that wait.

The signal handler only sets a flag: raising from a handler could land in the
middle of anything (a log line being written, a lock being taken). The input
reader and the loader's waits look at the flag a few times a second.
"""

from __future__ import annotations

import signal
import threading

from target_intercom.errors import Interrupted

# How often a waiting loop looks at the flag, in seconds.
POLL_SECONDS = 0.2


class StopRequest:
    def __init__(self) -> None:
        self._event = threading.Event()
        self._signal_name = ""
        self._exit_code = 0

    def install(self) -> None:
        """Make SIGTERM and SIGINT request a stop."""
        signal.signal(signal.SIGTERM, self._handle)
        signal.signal(signal.SIGINT, self._handle)

    def _handle(self, signum: int, _frame: object) -> None:
        self._signal_name = signal.Signals(signum).name
        self._exit_code = 128 + signum
        self._event.set()

    @property
    def requested(self) -> bool:
        return self._event.is_set()

    def check(self) -> None:
        """Raise `Interrupted` once a stop was requested."""
        if self._event.is_set():
            raise Interrupted(f"stopped by {self._signal_name}", exit_code=self._exit_code)
