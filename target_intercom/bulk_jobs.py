"""Preview bulk jobs: tasks appended to a job the run shares, and one poller that watches them all.

Intercom's Preview bulk endpoints (contacts, companies) take at most 100 items
a task, run tasks asynchronously, and report for each task only whether it
`completed` or `completed_with_errors`. The writers of each object decide
what to do with that; this module only sends tasks and waits for them.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Protocol, Set

from target_intercom.errors import IntercomUnavailable, Interrupted, TargetError
from target_intercom.intercom import AccessDenied, Refused

logger = logging.getLogger(__name__)

MAX_ITEMS_PER_TASK = 100
FINISHED = ("completed", "completed_with_errors")


class BulkApi(Protocol):
    def bulk_create(self, items: List[Dict[str, Any]], job_id: Optional[str]) -> Dict[str, Any]: ...

    def bulk_update(self, items: List[Dict[str, Any]], job_id: Optional[str]) -> Dict[str, Any]: ...

    def bulk_delete(self, items: List[Dict[str, Any]], job_id: Optional[str]) -> Dict[str, Any]: ...

    def bulk_job(self, job_id: str) -> Dict[str, Any]: ...


class BulkUnavailable(Exception):
    """The workspace does not offer the Preview bulk contacts endpoints."""


@dataclass
class _Task:
    job_id: str
    state: Optional[str] = None
    error: Optional[BaseException] = None


class BulkJobs:
    """Tasks appended to a job shared by the run, and one poller that watches them all."""

    def __init__(self, api: BulkApi, timeout: float, first_poll: float = 0.25, max_poll: float = 5.0) -> None:
        self._api = api
        self._timeout = timeout
        self._first_poll = first_poll
        self._max_poll = max_poll
        self._submit_lock = threading.Lock()
        self._cond = threading.Condition()
        self._tasks: Dict[str, _Task] = {}
        self._job_id: Optional[str] = None
        self._job_tasks: Set[str] = set()
        self._poll_soon = False
        self._closed = False
        self._poller: Optional[threading.Thread] = None

    def submit(self, kind: str, items: List[Dict[str, Any]]) -> str:
        """Send one task ("create", "update" or "delete"); returns its id."""
        send = {"create": self._api.bulk_create, "update": self._api.bulk_update, "delete": self._api.bulk_delete}[kind]
        with self._submit_lock:
            job_id = self._job_id if self._job_has_unfinished_tasks() else None
            try:
                job = send(items, job_id)
            except AccessDenied as exc:
                # A workspace without access to the Preview endpoints (or a token without their scope).
                raise BulkUnavailable(f"403 {exc.code or 'error'}: {exc.message}") from None
            except Refused as exc:
                if job_id and exc.code in ("forbidden", "job_not_found"):
                    job = send(items, None)  # the shared job closed meanwhile: start another
                elif exc.status in (400, 404, 405) and exc.code != "job_not_found":
                    raise BulkUnavailable(f"{exc.status} {exc.code or 'error'}: {exc.message}") from None
                else:
                    raise TargetError(f"Intercom refused a bulk {kind} task ({exc.status} {exc.code}: {exc.message})")
            if job["id"] != self._job_id:
                self._job_id, self._job_tasks = job["id"], set()
            new = [task["id"] for task in job.get("tasks") or [] if task["id"] not in self._job_tasks]
            if not new:
                raise TargetError(f"Intercom's answer to a bulk {kind} task names no new task in job {job['id']}")
            self._job_tasks.update(new)
            with self._cond:
                self._tasks[new[-1]] = _Task(job_id=job["id"])
                self._poll_soon = True
                self._start_poller()
                self._cond.notify_all()
            return new[-1]

    def wait(self, task_id: str) -> str:
        """Block until the task finishes; returns its final state."""
        deadline = time.monotonic() + self._timeout
        with self._cond:
            task = self._tasks[task_id]
            while task.state is None and task.error is None:
                left = deadline - time.monotonic()
                if left <= 0:
                    del self._tasks[task_id]
                    raise IntercomUnavailable(
                        f"Intercom's bulk job {task.job_id} did not finish task {task_id} "
                        f"within {self._timeout:g} s"
                    )
                self._cond.wait(left)
            del self._tasks[task_id]
            if task.error is not None:
                raise task.error
            return task.state  # type: ignore[return-value]

    def close(self) -> None:
        """Stop polling; batches still waiting for a task give up."""
        with self._cond:
            self._closed = True
            for task in self._tasks.values():
                if task.state is None and task.error is None:
                    task.error = Interrupted(f"stopped before bulk task of job {task.job_id} finished")
            self._cond.notify_all()

    def _job_has_unfinished_tasks(self) -> bool:
        with self._cond:
            return any(t.job_id == self._job_id and t.state is None for t in self._tasks.values())

    def _start_poller(self) -> None:
        if self._poller is None:
            self._poller = threading.Thread(target=self._poll_loop, name="bulk-poller", daemon=True)
            self._poller.start()

    def _poll_loop(self) -> None:
        delay = self._first_poll
        while True:
            with self._cond:
                while not self._closed and not any(t.state is None for t in self._tasks.values()):
                    self._cond.wait()
                if self._closed:
                    return
                # Wait before polling: a task just sent is still running. A new
                # task restarts the wait at its shortest.
                deadline = time.monotonic() + delay
                while not self._closed and time.monotonic() < deadline:
                    if self._poll_soon:
                        self._poll_soon, delay = False, self._first_poll
                        deadline = time.monotonic() + delay
                    self._cond.wait(max(0.0, deadline - time.monotonic()))
                jobs = {t.job_id for t in self._tasks.values() if t.state is None}
            progressed = any([self._poll(job_id) for job_id in jobs])
            delay = self._first_poll if progressed else min(self._max_poll, delay * 2)

    def _poll(self, job_id: str) -> bool:
        try:
            try:
                job = self._api.bulk_job(job_id)
            except Refused as exc:
                raise TargetError(
                    f"Intercom refused to report on bulk job {job_id} ({exc.status} {exc.code}: {exc.message})"
                ) from None
        except BaseException as exc:  # noqa: BLE001 - handed to the waiting batches
            with self._cond:
                for task in self._tasks.values():
                    if task.job_id == job_id and task.state is None:
                        task.error = exc
                self._cond.notify_all()
            return True
        finished = False
        with self._cond:
            for reported in job.get("tasks") or []:
                waiting = self._tasks.get(reported["id"])
                if waiting is not None and waiting.state is None and reported.get("state") in FINISHED:
                    waiting.state = reported["state"]
                    finished = True
            self._cond.notify_all()
        return finished
