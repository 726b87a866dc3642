"""Preview bulk jobs (contacts and companies): jobs made of tasks that a background worker runs after a delay.

Tasks of one job run one after another; different jobs run side by side. Per-item outcomes are kept for
tests only: Intercom's API reports nothing finer than a task's ``completed_with_errors`` state.

Each job belongs to one object ("contacts" or "companies"): it is rendered as ``<object>.bulk.job`` and is
unknown to the other object's endpoints. Job and task ids share one sequence (a guess).
"""
from __future__ import annotations

import itertools
import threading
import time
from typing import Any, Callable, Dict, List, Optional, Tuple

from .errors import ApiError
from .versions import PREVIEW

BULK_MAX_ITEMS = 100

PENDING, RUNNING, COMPLETED, COMPLETED_WITH_ERRORS = "pending", "running", "completed", "completed_with_errors"
_FINISHED = (COMPLETED, COMPLETED_WITH_ERRORS)

ApplyItem = Callable[[str, Dict[str, Any]], Dict[str, Any]]


class BulkTask:
    __slots__ = ("id", "kind", "items", "state", "created_at", "started_at", "completed_at", "outcomes", "due")

    def __init__(self, task_id: str, kind: str, items: List[Dict[str, Any]], now: int) -> None:
        self.id = task_id
        self.kind = kind
        self.items = items
        self.state = PENDING
        self.created_at = now
        self.started_at: Optional[int] = None
        self.completed_at: Optional[int] = None
        self.outcomes: List[Dict[str, Any]] = []
        self.due = 0.0

    def render(self) -> Dict[str, Any]:
        return {"id": self.id, "item_count": len(self.items), "state": self.state, "created_at": self.created_at,
                "started_at": self.started_at, "completed_at": self.completed_at}


class BulkJob:
    __slots__ = ("id", "object", "tasks", "created_at", "updated_at")

    def __init__(self, job_id: str, now: int, obj: str = "contacts") -> None:
        self.id = job_id
        self.object = obj
        self.tasks: List[BulkTask] = []
        self.created_at = now
        self.updated_at = now

    def state(self) -> str:
        states = [t.state for t in self.tasks]
        if all(s == PENDING for s in states):
            return PENDING
        if all(s in _FINISHED for s in states):
            return COMPLETED_WITH_ERRORS if COMPLETED_WITH_ERRORS in states else COMPLETED
        return RUNNING

    def closed(self) -> bool:
        return bool(self.tasks) and all(t.state in _FINISHED for t in self.tasks)

    def render(self, base_url: str) -> Dict[str, Any]:
        finished = self.closed()
        return {"id": self.id, "type": "%s.bulk.job" % self.object, "state": self.state(),
                "created_at": self.created_at, "updated_at": self.updated_at,
                "completed_at": max(t.completed_at or 0 for t in self.tasks) if finished else None,
                "tasks": [t.render() for t in self.tasks], "url": "%s/%s/bulk/%s" % (base_url, self.object, self.id)}


class BulkManager:
    """Holds jobs and runs their tasks. Callers hold ``lock`` (the emulator's state lock) around every call."""

    def __init__(self, lock: "threading.RLock", apply_item: ApplyItem, delay: Callable[[], float]) -> None:
        self._cond = threading.Condition(lock)
        # Per object, the function that applies one item of a task (see register()).
        self._appliers: Dict[str, ApplyItem] = {"contacts": apply_item}
        self._delay = delay
        self._thread: Optional[threading.Thread] = None
        self._stopped = False
        self.reset()

    def reset(self) -> None:
        self._jobs: Dict[str, BulkJob] = {}
        self._active: Dict[str, BulkJob] = {}  # jobs with unfinished tasks
        self._job_ids = itertools.count(1)
        self._task_ids = itertools.count(1)

    def register(self, obj: str, apply_item: ApplyItem) -> None:
        """Let jobs of another object ("companies") run through the same jobs, tasks and worker."""
        self._appliers[obj] = apply_item

    # ---- API operations -----------------------------------------------------------------------------
    def submit(self, kind: str, items: List[Dict[str, Any]], job_id: Optional[str],
               obj: str = "contacts") -> BulkJob:
        now = int(time.time())
        if job_id is not None:
            job = self.get(job_id, obj)
            if job.closed():
                raise ApiError(403, "forbidden", "job %s is closed for new task updates" % job_id)
        else:
            job = BulkJob("job_v2_%d" % next(self._job_ids), now, obj)
            self._jobs[job.id] = job
        job.tasks.append(BulkTask("task_v2_%d" % next(self._task_ids), kind, items, now))
        job.updated_at = now
        self._active[job.id] = job
        self._cond.notify()
        return job

    def get(self, job_id: str, obj: str = "contacts") -> BulkJob:
        job = self._jobs.get(job_id)
        if job is None or job.object != obj:
            raise ApiError(404, "job_not_found", "job %s not found" % job_id)
        return job

    def job_count(self) -> int:
        return len(self._jobs)

    def details(self, base_url: str) -> List[Dict[str, Any]]:
        out = []
        for job in self._jobs.values():
            data = job.render(base_url)
            data["object"] = job.object
            for task, rendered in zip(job.tasks, data["tasks"]):
                rendered["kind"] = task.kind
                rendered["items"] = [dict(o) for o in task.outcomes]
            out.append(data)
        return out

    # ---- the worker -----------------------------------------------------------------------------------
    def start(self) -> None:
        with self._cond:
            self._stopped = False
        self._thread = threading.Thread(target=self._run, name="intercom-emulator-bulk", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        with self._cond:
            self._stopped = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def _run(self) -> None:
        with self._cond:
            while not self._stopped:
                next_due = self._step(time.monotonic())
                timeout = None if next_due is None else max(0.0, next_due - time.monotonic())
                self._cond.wait(timeout)

    def _step(self, now: float) -> Optional[float]:
        """Finish due tasks and start the next task of idle jobs; returns when to look again."""
        next_due: Optional[float] = None
        for job_id in list(self._active):
            job = self._active[job_id]
            while True:
                running = next((t for t in job.tasks if t.state == RUNNING), None)
                if running is not None:
                    if running.due <= now:
                        self._finish(job, running)
                        continue
                    break
                pending = next((t for t in job.tasks if t.state == PENDING), None)
                if pending is None:
                    del self._active[job_id]
                    break
                pending.state = RUNNING
                pending.started_at = job.updated_at = int(time.time())
                pending.due = now + self._delay()
            if running is not None and (next_due is None or running.due < next_due):
                next_due = running.due
        return next_due

    def _finish(self, job: BulkJob, task: BulkTask) -> None:
        errors = False
        apply_item = self._appliers[job.object]
        for index, item in enumerate(task.items):
            outcome = apply_item(task.kind, item)
            outcome["index"] = index
            task.outcomes.append(outcome)
            errors = errors or outcome["outcome"] == "rejected"
        task.state = COMPLETED_WITH_ERRORS if errors else COMPLETED
        task.completed_at = job.updated_at = int(time.time())


# ---- checking bulk requests (shared by the contact and company endpoints) ------------------------------

def check_bulk_access(version: str, enabled: bool) -> None:
    """The bulk endpoints exist only in the Preview version, and not at all when bulk is switched off."""
    if version != PREVIEW or not enabled:
        raise ApiError(404, "not_found", "Resource Not Found")


def bulk_items(body: Dict[str, Any], need_id: bool, key: str, noun: str) -> Tuple[List[Dict[str, Any]], Optional[str]]:
    """The items of a bulk write (``body[key]``) and the job to append them to, with the documented 422s."""
    if key not in body:
        raise ApiError(422, "field_not_found", "%s field must be supplied" % key)
    items = body[key]
    if not isinstance(items, list):
        raise ApiError(422, "type_mismatch", "%s must be an array" % key)
    if len(items) > BULK_MAX_ITEMS:
        raise ApiError(422, "parameter_invalid", "maximum number of %s per request is %d" % (key, BULK_MAX_ITEMS))
    if not all(isinstance(item, dict) for item in items):
        raise ApiError(422, "type_mismatch", "each %s must be an object" % noun)
    if need_id and not all(isinstance(item.get("id"), str) and item["id"] for item in items):
        raise ApiError(422, "field_not_found", "%s must be identified by id" % key)
    job = body.get("job")
    job_id = job.get("id") if isinstance(job, dict) else None
    return items, (str(job_id) if job_id is not None else None)
