"""Folder jobs: each runs in its own thread; id, state, progress, per-image results and cancel."""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import asdict, dataclass, field
from typing import Any, Callable

from ..batch.outcomes import ItemOutcome
from ..core.errors import AlienFiltersError
from ..core.states import FINISHED_JOB_STATES, JobState
from . import console


@dataclass
class Job:
    id: str
    folder: str
    out_dir: str
    state: JobState = JobState.QUEUED
    progress: float = 0.0
    text: str = ""
    total: int = 0
    results: list[ItemOutcome] = field(default_factory=list)
    error: str | None = None
    stopped_at: str | None = None
    cancel_requested: bool = False
    created: float = field(default_factory=time.time)
    finished: float | None = None

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["results"] = [asdict(r) for r in self.results]
        return data


class JobHandle:
    """What a job's work function sees: progress and results to report, and whether to stop."""

    def __init__(self, registry: JobRegistry, job_id: str) -> None:
        self._registry = registry
        self.id = job_id

    def started(self) -> None:
        self._registry._update(self.id, state=JobState.RUNNING)

    def cancelled(self) -> bool:
        job = self._registry.get(self.id)
        return job is None or job.cancel_requested

    def progress(self, fraction: float, text: str = "", total: int | None = None) -> None:
        changes: dict[str, Any] = {"progress": min(max(float(fraction), 0.0), 1.0), "text": text}
        if total is not None:
            changes["total"] = int(total)
        self._registry._update(self.id, **changes)

    def add_result(self, entry: ItemOutcome) -> None:
        with self._registry._lock:
            self._registry._jobs[self.id].results.append(entry)

    def stopped(self, where: str) -> None:
        """Record that the work stopped early (Interrupt button or cancel) and where."""
        self._registry._update(self.id, stopped_at=where)


Work = Callable[[JobHandle], None]


class JobRegistry:
    """Thread-safe registry of folder jobs; keeps the ``keep`` most recent finished jobs."""

    def __init__(self, keep: int = 100) -> None:
        self.keep = keep
        self._jobs: dict[str, Job] = {}
        self._threads: dict[str, threading.Thread] = {}
        self._lock = threading.Lock()
        self.on_cancel: Callable[[Job], None] | None = None
        """Called (outside the lock) when a running job is cancelled, e.g. to interrupt the WebUI's sampler."""

    def submit(self, folder: str, out_dir: str, work: Work) -> Job:
        """Create a job and start ``work`` in a daemon thread; returns a snapshot of the new job."""
        job = Job(id=uuid.uuid4().hex[:12], folder=folder, out_dir=out_dir)
        with self._lock:
            self._jobs[job.id] = job
            self._prune()
        thread = threading.Thread(target=self._run, args=(job.id, work), name=f"alien-job-{job.id}", daemon=True)
        self._threads[job.id] = thread
        thread.start()
        return self.get(job.id)

    def get(self, job_id: str) -> Job | None:
        """A copy of the job (None if unknown)."""
        with self._lock:
            job = self._jobs.get(job_id)
            if job is None:
                return None
            copy = Job(**{**job.__dict__, "results": list(job.results)})
        return copy

    def list(self) -> list[Job]:
        with self._lock:
            ids = list(self._jobs)
        return [job for job in (self.get(i) for i in ids) if job is not None]

    def cancel(self, job_id: str) -> Job | None:
        """Ask a job to stop after its current step; a finished job is left as it is."""
        with self._lock:
            job = self._jobs.get(job_id)
            if job is None:
                return None
            running = job.state is JobState.RUNNING
            if job.state not in FINISHED_JOB_STATES:
                job.cancel_requested = True
        if running and self.on_cancel is not None:
            self.on_cancel(self.get(job_id))
        return self.get(job_id)

    def wait(self, job_id: str, timeout: float | None = None) -> Job | None:
        """Block until the job's thread ends (tests and scripts); returns the final job."""
        thread = self._threads.get(job_id)
        if thread is not None:
            thread.join(timeout)
        return self.get(job_id)

    def _update(self, job_id: str, **changes: Any) -> None:
        with self._lock:
            job = self._jobs.get(job_id)
            if job is not None:
                for key, value in changes.items():
                    setattr(job, key, value)

    def _run(self, job_id: str, work: Work) -> None:
        handle = JobHandle(self, job_id)
        try:
            if not handle.cancelled():
                work(handle)
        except AlienFiltersError as exc:  # in words (a missing model names its file, URL and folder)
            console.failed(f"job {job_id}", str(exc))
            self._finish(job_id, JobState.FAILED, str(exc))
            return
        except Exception as exc:  # the job records the failure; the server goes on
            console.unexpected(f"job {job_id} failed")  # the traceback, on the WebUI's console
            self._finish(job_id, JobState.FAILED, f"{type(exc).__name__}: {exc}")
            return
        job = self.get(job_id)
        if job is None:
            return
        if job.cancel_requested:
            self._finish(job_id, JobState.CANCELLED)
        elif job.stopped_at:
            self._finish(job_id, JobState.INTERRUPTED)
        else:
            self._finish(job_id, JobState.DONE)

    def _finish(self, job_id: str, state: JobState, error: str | None = None) -> None:
        changes: dict[str, Any] = {"state": state, "finished": time.time()}
        if state is JobState.DONE:
            changes["progress"] = 1.0
        if error is not None:
            changes["error"] = error
        self._update(job_id, **changes)
        self._threads.pop(job_id, None)

    def _prune(self) -> None:
        finished = [j for j in self._jobs.values() if j.state in FINISHED_JOB_STATES]
        for job in sorted(finished, key=lambda j: j.created)[: max(0, len(finished) - self.keep)]:
            del self._jobs[job.id]
