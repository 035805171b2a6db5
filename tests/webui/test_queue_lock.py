"""Parallel API requests and a tab run share the WebUI's queue lock; cancel stops a folder job.

The real /alien routes and the tab's Run action run over the WebUI stand-in, whose img2img goes through
``modules.processing.process_images``. A watch on that function records, for every sampling call, whether the
calling thread holds a session (the queue lock) and how many calls overlap: the lock must make it one at a time.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from modules import call_queue, processing, script_callbacks

from alien_filters.webui import runtime
from alien_filters.webui.ui import TabActions
from tests.support.rooms import room_image, write_rooms
from tests.webui.api_fixtures import b64_png, decode, make_app

REQUESTS = 8
TIMEOUT = 120


class SamplingWatch:
    """Wraps processing.process_images: counts overlapping calls and checks the caller holds the queue lock."""

    def __init__(self, original) -> None:
        self.original = original
        self.active = 0
        self.most = 0
        self.calls = 0
        self.unlocked: list[str] = []
        self._lock = threading.Lock()

    def __call__(self, p):
        with self._lock:
            self.active += 1
            self.calls += 1
            self.most = max(self.most, self.active)
        if not (runtime.in_session() and call_queue.queue_lock._lock.locked()):
            self.unlocked.append(threading.current_thread().name)
        try:
            time.sleep(0.005)  # widen the window in which an unserialised call would overlap
            return self.original(p)
        finally:
            with self._lock:
                self.active -= 1


@pytest.fixture
def root(tmp_path: Path) -> Path:
    (tmp_path / "allowed").mkdir()
    return tmp_path


@pytest.fixture
def app_service(root: Path):
    return make_app(root)


@pytest.fixture
def client(app_service) -> TestClient:
    return TestClient(app_service[0])


@pytest.fixture
def watch(monkeypatch: pytest.MonkeyPatch) -> SamplingWatch:
    watcher = SamplingWatch(processing.process_images)
    monkeypatch.setattr(processing, "process_images", watcher)
    return watcher


def image_request(i: int) -> dict:
    image, _ = room_image(100 + i, size=(96, 80), n_objects=2)
    return {"images": [b64_png(image)], "names": [f"room_{i}.png"], "seed": 1000 + i, "overrides": {"steps": 2}}


def run_threads(targets: list) -> None:
    threads = [threading.Thread(target=t, name=f"worker-{i}") for i, t in enumerate(targets)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(TIMEOUT)
    stuck = [t.name for t in threads if t.is_alive()]
    assert not stuck, f"deadlock: {stuck} still waiting after {TIMEOUT}s"


def test_eight_requests_and_a_tab_run_are_serialised_with_their_own_results(client, root, app_service, watch):
    photos = root / "allowed" / "uploads"
    write_rooms(photos, 2, nested=False)
    tab_out = root / "allowed" / "tab-out"
    answers: dict[int, object] = {}
    tab: dict[str, object] = {}

    def request(i: int):
        return lambda: answers.__setitem__(i, client.post("/alien/process", json=image_request(i)))

    def tab_run() -> None:
        tab["result"] = TabActions(app_service[1]).run(
            "task(tab-1)", "Upload", sorted(map(str, photos.iterdir())), "", str(tab_out), "alien", "",
            ["restore", "tag", "segment", "inpaint"], "auto", "sam_vit_b", 7)

    run_threads([request(i) for i in range(REQUESTS)] + [tab_run])

    assert watch.calls >= REQUESTS + 2, "every request and tab image samples at least once"
    assert watch.unlocked == [] and watch.most == 1, (watch.unlocked, watch.most)
    for i in range(REQUESTS):
        response = answers[i]
        assert response.status_code == 200, response.text
        (entry,) = response.json()["images"]
        assert entry["status"] == "done" and entry["name"] == f"room_{i}.png"
        assert entry["manifest"]["seed"] == 1000 + i
    gallery, selection, status = tab["result"]
    assert status.startswith("done 2, skipped 0, failed 0"), status
    assert {Path(item["input"]).name for item in selection.items} == {"room_000.jpg", "room_001.jpg"}
    assert sorted(p.name for p in tab_out.glob("*.png")) == ["room_000.png", "room_001.png"]

    # each answer is its own: the same request alone gives the same pixels
    for i in (0, REQUESTS - 1):
        alone = client.post("/alien/process", json=image_request(i)).json()["images"][0]
        assert np.array_equal(decode(alone["image"]), decode(answers[i].json()["images"][0]["image"]))
    assert not call_queue.queue_lock._lock.locked()


def wait_for(client: TestClient, job_id: str) -> dict:
    deadline = time.time() + TIMEOUT
    while time.time() < deadline:
        job = client.get(f"/alien/jobs/{job_id}").json()
        if job["state"] in ("done", "failed", "cancelled", "interrupted"):
            return job
        time.sleep(0.02)
    raise AssertionError(f"job {job_id} did not finish: {job}")


def test_cancel_mid_folder_stops_cleanly_reports_where_and_resumes(client, root, watch):
    photos = root / "allowed" / "photos"
    write_rooms(photos, 4, nested=False)
    job: dict[str, str] = {}
    job_known = threading.Event()
    samplings = {"n": 0}

    def cancel_in_the_second_image(params) -> None:
        samplings["n"] += 1
        if samplings["n"] == 6:  # two sampling steps a job: inside the second image's inpainting
            assert job_known.wait(10)
            client.post(f"/alien/jobs/{job['id']}/cancel")

    script_callbacks.on_cfg_denoiser(cancel_in_the_second_image)
    response = client.post("/alien/process", json={"folder": "photos", "overrides": {"steps": 2}})
    job["id"] = response.json()["job_id"]
    job_known.set()
    final = wait_for(client, job["id"])

    assert final["state"] == "cancelled"
    statuses = [r["status"] for r in final["results"]]
    assert statuses == ["done", "interrupted"], final["results"]
    stopped = final["results"][1]
    assert stopped["input"].endswith("room_001.jpg") and "inpaint job" in stopped["message"]
    assert final["stopped_at"] == f"{stopped['input']}: {stopped['message']}"
    out = Path(final["output_folder"])
    assert sorted(p.name for p in out.glob("room_*")) == sorted(
        f"room_000{s}" for s in (".json", ".png", ".preview.jpg", ".txt"))
    assert not list(out.rglob(".alientmp-*"))
    assert not call_queue.queue_lock._lock.locked()

    script_callbacks.clear_callbacks()
    again = wait_for(client, client.post("/alien/process", json={"folder": "photos", "overrides": {"steps": 2}})
                     .json()["job_id"])
    assert again["state"] == "done"
    assert sorted(r["status"] for r in again["results"]) == ["done", "done", "done", "skipped"]
    assert watch.most == 1


def test_cancel_while_queued_behind_another_run_stops_before_any_work(client, root, watch):
    photos = root / "allowed" / "photos"
    write_rooms(photos, 2, nested=False)
    with runtime.session("task(holder)"):  # another run holds the queue lock
        response = client.post("/alien/process", json={"folder": "photos"})
        job_id = response.json()["job_id"]
        time.sleep(0.2)
        queued = client.get(f"/alien/jobs/{job_id}").json()
        assert queued["state"] == "queued"
        client.post(f"/alien/jobs/{job_id}/cancel")
    final = wait_for(client, job_id)
    assert final["state"] == "cancelled"
    assert len(final["results"]) <= 1 and all(r["status"] == "interrupted" for r in final["results"])
    assert watch.calls == 0
    assert not list(Path(final["output_folder"]).glob("room_*"))
