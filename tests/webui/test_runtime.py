"""Sessions (queue lock + shared.state), progress in the WebUI's terms, and the Interrupt button."""

from __future__ import annotations

import threading
import time

from modules import call_queue, progress, sd_models

from alien_filters.core.contracts import ProgressEvent
from alien_filters.webui import runtime


def test_session_holds_the_lock_begins_and_ends_state(webui_state):
    webui_state.interrupted = True  # left over from an earlier job
    with runtime.session("task(alien-TEST)"):
        assert not call_queue.queue_lock.acquire(blocking=False)
        assert webui_state.job == "task(alien-TEST)" and webui_state.job_count == -1
        assert progress.current_task == "task(alien-TEST)"
        assert not runtime.interrupted()
    assert progress.current_task is None and "task(alien-TEST)" in progress.finished_tasks
    assert webui_state.job == "" and webui_state.job_count == 0
    assert call_queue.queue_lock.acquire(blocking=False)
    call_queue.queue_lock.release()


def test_session_waits_for_other_webui_work():
    order = []
    call_queue.queue_lock.acquire()

    def ours():
        with runtime.session():
            order.append("ours")

    worker = threading.Thread(target=ours)
    worker.start()
    time.sleep(0.2)
    order.append("webui")
    call_queue.queue_lock.release()
    worker.join(10)
    assert order == ["webui", "ours"]


def test_sessions_nest_in_one_thread(webui_state):
    with runtime.session("task(outer)"):
        with runtime.session("task(inner)"):
            assert runtime.in_session()
        assert runtime.in_session() and webui_state.job == "task(outer)"
    assert not runtime.in_session()


def test_progress_events_drive_job_counts_and_text(webui_state):
    with runtime.session():
        runtime.report_progress(ProgressEvent("image", 1, 3, "rooms/b.jpg"))
        assert (webui_state.job_no, webui_state.job_count) == (1, 3)
        runtime.report_progress(ProgressEvent("stage", 2, 5, "segment"))
        assert webui_state.textinfo == "Alien Filters: image 2/3: segment"
        runtime.report_progress(ProgressEvent("job", 0, 4, "sofa"))
        assert webui_state.textinfo == "Alien Filters: image 2/3: sofa (1/4)"


def test_interrupt_latches_for_the_rest_of_the_session(webui_state):
    with runtime.session():
        assert not runtime.interrupted()
        webui_state.interrupt()
        assert runtime.interrupted()
        webui_state.begin("something else")  # other WebUI code resetting the flags
        assert runtime.interrupted()
    with runtime.session():
        assert not runtime.interrupted()


def test_task_ids_look_like_the_webuis():
    assert runtime.new_task_id().startswith("task(alien-")


def test_waits_while_the_webui_loads_a_checkpoint_and_never_loads_one():
    loading = threading.Event()

    def webui_loads_checkpoint():
        with sd_models.model_data.lock:
            loading.set()
            time.sleep(0.3)

    loader = threading.Thread(target=webui_loads_checkpoint)
    loader.start()
    loading.wait()
    start = time.monotonic()
    runtime.wait_for_checkpoint_load()
    assert time.monotonic() - start >= 0.2, "returned while the checkpoint was still loading"
    loader.join()
    runtime.wait_for_checkpoint_load()  # nothing loading: returns at once
    assert sd_models.model_data.sd_model is None and not sd_models.model_data.lock.locked()
