"""Job registry: lifecycle, progress, results, cancel, failure."""

from __future__ import annotations

import threading

from alien_filters.batch.outcomes import ItemOutcome
from alien_filters.webui.jobs import JobRegistry


def test_lifecycle_with_progress_and_results():
    registry = JobRegistry()
    release = threading.Event()

    def work(handle):
        handle.started()
        handle.progress(0.5, "half", total=2)
        release.wait(10)
        handle.add_result(ItemOutcome("a.jpg", "done", {"result": "a.png"}))

    job = registry.submit("/in", "/out", work)
    assert job.state in ("queued", "running")
    for _ in range(100):
        if registry.get(job.id).progress == 0.5:
            break
        threading.Event().wait(0.02)
    mid = registry.get(job.id)
    assert (mid.state, mid.progress, mid.text, mid.total) == ("running", 0.5, "half", 2)
    release.set()
    final = registry.wait(job.id, 10)
    assert final.state == "done" and final.progress == 1.0
    assert final.results == [ItemOutcome("a.jpg", "done", {"result": "a.png"})]
    assert final.to_dict()["results"][0]["outputs"] == {"result": "a.png"}


def test_cancel_stops_a_running_job_and_calls_the_hook():
    registry = JobRegistry()
    cancelled = []
    registry.on_cancel = lambda job: cancelled.append(job.id)
    started = threading.Event()

    def work(handle):
        handle.started()
        started.set()
        while not handle.cancelled():
            threading.Event().wait(0.01)
        handle.stopped("image 1: inpaint")

    job = registry.submit("/in", "/out", work)
    started.wait(10)
    registry.cancel(job.id)
    final = registry.wait(job.id, 10)
    assert final.state == "cancelled" and final.stopped_at == "image 1: inpaint"
    assert cancelled == [job.id]


def test_interrupted_without_cancel_and_failures():
    registry = JobRegistry()
    stopped = registry.wait(registry.submit("/in", "/out", lambda h: h.stopped("b.jpg: inpaint")).id, 10)
    assert stopped.state == "interrupted"

    def broken(handle):
        raise OSError("disk full")

    failed = registry.wait(registry.submit("/in", "/out", broken).id, 10)
    assert failed.state == "failed" and failed.error == "OSError: disk full"


def test_unknown_jobs_and_finished_jobs():
    registry = JobRegistry()
    assert registry.get("nope") is None and registry.cancel("nope") is None
    job = registry.wait(registry.submit("/in", "/out", lambda h: None).id, 10)
    assert registry.cancel(job.id).state == "done"


def test_old_finished_jobs_are_pruned():
    registry = JobRegistry(keep=2)
    ids = [registry.wait(registry.submit("/in", "/out", lambda h: None).id, 10).id for _ in range(4)]
    registry.submit("/in", "/out", lambda h: None)
    assert registry.get(ids[0]) is None and registry.get(ids[-1]) is not None
