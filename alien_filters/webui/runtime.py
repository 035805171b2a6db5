"""Running inside the WebUI: its queue lock, shared.state progress and the Interrupt button.

A *session* is one unit of our work as the WebUI sees it: it holds ``call_queue.queue_lock`` (so no WebUI
generation or other extension runs on the GPU at the same time), calls ``shared.state.begin()/end()`` and,
with a task id, registers the task so ``/internal/progress`` and ``/sdapi/v1/progress`` report it. Sessions
nest within one thread (the FIFO lock is not re-entrant, so inner ones only reuse the outer one).
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import Iterator

from modules import call_queue, progress, sd_models, shared
from tqdm import tqdm

from ..core.contracts import ProgressEvent

JOB_NAME = "alien_filters"
_local = threading.local()


def wait_for_checkpoint_load() -> None:
    """Return once the WebUI is not loading a checkpoint. A1111 loads one in a thread after startup, holding
    ``sd_models.model_data.lock``, and its loader patches torch and transformers process-wide meanwhile: a model we
    load then comes out broken. Never starts a load itself (Forge has no such lock and loads inside generation)."""
    lock = getattr(sd_models.model_data, "lock", None)
    if lock is not None:
        with lock:
            pass


def in_session() -> bool:
    """True when this thread already holds the queue lock through :func:`session`."""
    return getattr(_local, "depth", 0) > 0


@contextmanager
def session(task_id: str | None = None, job: str = JOB_NAME) -> Iterator[None]:
    """Hold the WebUI's queue lock with shared.state begun (re-entrant within one thread)."""
    if in_session():
        _local.depth += 1
        try:
            yield
        finally:
            _local.depth -= 1
        return
    if task_id:
        progress.add_task_to_queue(task_id)
    with call_queue.queue_lock:
        shared.state.begin(job=task_id or job)
        if task_id:
            progress.start_task(task_id)
        _local.depth = 1
        _local.stop_seen = False
        try:
            yield
        finally:
            _local.depth = 0
            if task_id:
                progress.finish_task(task_id)
            shared.state.end()
            shared.total_tqdm.clear()  # the console's "Total progress" bar, reset per job as the WebUI's API does


def new_task_id(kind: str = "alien") -> str:
    """A task id in the WebUI's own format, ``task(alien-XXXXXXX)``."""
    return progress.create_task_id(kind)


def interrupted() -> bool:
    """True once the WebUI's Interrupt (or Stop generating) was pressed during the current session.

    The answer latches for the rest of the session: ``state.begin()`` calls made by other WebUI code cannot
    make us forget that the user asked to stop.
    """
    state = shared.state
    if state.interrupted or state.stopping_generation:
        _local.stop_seen = True
    return bool(getattr(_local, "stop_seen", False))


def report_progress(event: ProgressEvent) -> None:
    """A ProgressSink that shows our progress in the WebUI's progress bar and ``/sdapi/v1/progress``.

    Images are the WebUI's "jobs" (job_no of job_count); stages and inpaint jobs become the text line.
    """
    state = shared.state
    if event.kind == "image":
        state.job_count = max(int(event.total), 1)
        state.job_no = int(event.index)
        state.sampling_step = 0
        _local.image_text = f"image {event.index + 1}/{event.total}"
        state.textinfo = f"Alien Filters: {_local.image_text}"
        return
    prefix = getattr(_local, "image_text", "")
    what = f"{event.text} ({event.index + 1}/{event.total})" if event.kind == "job" else event.text
    state.textinfo = f"Alien Filters: {prefix}{': ' if prefix else ''}{what}"
    if event.kind == "stage" and state.job_count <= 0:
        state.job_count = 1


def report_download(name: str, done: int, total: int | None) -> None:
    """Show a model download in the WebUI's progress text (and ``/sdapi/v1/progress``): bytes so far, of how many."""
    size = tqdm.format_sizeof(done, "B", 1024)
    if total:
        size += f" of {tqdm.format_sizeof(total, 'B', 1024)} ({min(done * 100 // total, 100)}%)"
    shared.state.textinfo = f"Alien Filters: downloading {name}: {size}"
