"""Faults on a local Ray instance: an actor SIGKILLed in the middle of an image, a driver SIGKILLed mid-run, bad
images among good ones. Each ends as the local batch would: every output once, no temporary file, whole manifests,
originals byte-identical, bad images failed alone with the local batch's reasons."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("ray")

from alien_filters.batch.atomic import TMP_PREFIX  # noqa: E402
from alien_filters.batch.lock import LOCK_NAME  # noqa: E402
from alien_filters.batch.output_names import CACHE_DIR_NAME, REPORT_NAME  # noqa: E402
from alien_filters.batch.runner import BatchRunner, BatchSettings  # noqa: E402
from alien_filters.cluster.actors import RETRIED  # noqa: E402
from alien_filters.cluster.options import RayOptions  # noqa: E402
from alien_filters.cluster.ray_pipeline import RayBatch  # noqa: E402
from alien_filters.themes import get_theme  # noqa: E402
from tests.support.bad_inputs import CASES, checked_manifests, snapshot  # noqa: E402
from tests.support.ray_driver import SEED  # noqa: E402
from tests.support.ray_stages import DoubleStages, OtherStages  # noqa: E402
from tests.support.rooms import room_image  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
IMAGES = 6


def write_small_rooms(folder: Path, count: int) -> None:
    for i in range(count):
        path = folder / ("sub" if i % 2 else "") / f"room_{i:02d}.jpg"
        path.parent.mkdir(parents=True, exist_ok=True)
        room_image(i, size=(48, 64), n_objects=2)[0].save(path, quality=85)


def image_outputs(out: Path) -> list[str]:
    return sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()
                  and CACHE_DIR_NAME not in p.relative_to(out).parts and p.name not in (REPORT_NAME, LOCK_NAME))


def same_files(out: Path, reference: Path) -> None:
    """The same outputs as the reference, nothing extra, results and tags byte-identical, no temporary file."""
    assert image_outputs(out) == image_outputs(reference)
    assert not list(out.rglob(TMP_PREFIX + "*"))
    for rel in image_outputs(out):
        if rel.endswith((".png", ".txt", ".jpg")):
            assert (out / rel).read_bytes() == (reference / rel).read_bytes(), f"{rel} differs from the local batch"


@pytest.fixture(scope="module")
def rooms(tmp_path_factory) -> Path:
    src = tmp_path_factory.mktemp("rooms")
    write_small_rooms(src, IMAGES)
    return src


@pytest.fixture(scope="module")
def reference(rooms, tmp_path_factory) -> Path:
    """The local batch on the same rooms, stages, theme and seed."""
    out = tmp_path_factory.mktemp("reference")
    BatchRunner(DoubleStages()(), get_theme("alien"), BatchSettings(out_dir=out, seed=SEED)).run([rooms])
    return out


def test_an_actor_killed_mid_image_is_restarted_and_its_image_retried(tmp_path, rooms, reference, ray_address):
    before = snapshot(rooms)
    marker = tmp_path / "killed.pid"
    builder = DoubleStages(delay=0.05, marker=marker, kill_at=2)
    out = tmp_path / "out"
    report = RayBatch(builder(), builder, get_theme("alien"), BatchSettings(out_dir=out, seed=SEED),
                      RayOptions(address=ray_address, actors=2), show_progress=False).run([rooms])

    assert marker.exists(), "no actor was killed: the test proves nothing"
    killed = int(marker.read_text())
    assert report.counts()["done"] == IMAGES and not report.failures(), report.summary()
    pids = {p.pid for p in report.placements}
    assert len(pids) == 3, f"expected 2 actors and 1 restarted one, images ran in {pids}"
    assert sum(p.pid == killed for p in report.placements) == 1  # its first image; its second was retried
    assert len(checked_manifests(out)) == IMAGES
    same_files(out, reference)
    assert snapshot(rooms) == before
    assert json.loads((out / REPORT_NAME).read_text())["counts"]["done"] == IMAGES


def test_a_killed_driver_leaves_a_folder_the_next_run_resumes(tmp_path, rooms, reference, ray_address):
    before = snapshot(rooms)
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-m", "tests.support.ray_driver", str(rooms), str(out), ray_address, "0.4"]
    driver = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 120
    while driver.poll() is None and time.monotonic() < deadline and not (out.exists() and checked_manifests(out)):
        time.sleep(0.05)
    assert driver.poll() is None, f"the driver ended before it could be killed: {driver.communicate()[0]}"
    driver.send_signal(signal.SIGKILL)
    driver.wait()
    time.sleep(2)  # its job's actors are ended by Ray; an image they were writing stays atomic
    finished = len(checked_manifests(out))
    assert 1 <= finished < IMAGES, f"{finished} images finished before the kill: no mid-run kill"

    builder = DoubleStages()
    report = RayBatch(builder(), builder, get_theme("alien"), BatchSettings(out_dir=out, seed=SEED),
                      RayOptions(address=ray_address, actors=2), show_progress=False).run([rooms])
    counts = report.counts()
    assert counts["skipped"] >= finished and counts["done"] + counts["skipped"] == IMAGES, report.summary()
    assert not report.failures()
    same_files(out, reference)
    assert snapshot(rooms) == before
    local = BatchRunner(builder(), get_theme("alien"), BatchSettings(out_dir=out, seed=SEED)).run([rooms])
    assert local.counts()["skipped"] == IMAGES  # the local batch takes the Ray run's outputs as done


def test_bad_images_fail_alone_with_the_local_batch_reasons(tmp_path, ray_address):
    src = tmp_path / "in"
    for case in CASES:
        if case.rel in ("good/room.jpg", "truncated.jpg", "zero.png", "text.png", "bomb.png"):
            (src / case.rel).parent.mkdir(parents=True, exist_ok=True)
            (src / case.rel).write_bytes(case.make())
    before = snapshot(src)
    builder = DoubleStages()
    settings = {"seed": SEED}
    local = BatchRunner(builder(), get_theme("alien"), BatchSettings(out_dir=tmp_path / "local", **settings)).run(
        [src])
    ray_run = RayBatch(builder(), builder, get_theme("alien"), BatchSettings(out_dir=tmp_path / "ray", **settings),
                       RayOptions(address=ray_address, actors=2), show_progress=False).run([src])
    assert ray_run.counts() == local.counts() == {**local.counts(), "done": 1, "failed": 4}
    assert sorted(ray_run.failures()) == sorted(local.failures())
    same_files(tmp_path / "ray", tmp_path / "local")
    assert snapshot(src) == before
    assert RETRIED not in {o.message for o in ray_run.outcomes}


def test_a_stop_on_the_driver_ends_the_run_there_and_the_next_resumes(tmp_path, rooms, reference, ray_address):
    """Ctrl-C's first press: the driver stops after the next finished image and its actors stop with it (on a Ray
    that stays up), the report says what was left, and the next run finishes the rest."""
    out = tmp_path / "out"
    builder = DoubleStages(delay=0.3)
    stopped = RayBatch(builder(), builder, get_theme("alien"), BatchSettings(out_dir=out, seed=SEED),
                       RayOptions(address=ray_address, actors=2), stop_after_image=lambda: True,
                       show_progress=False).run([rooms])
    assert stopped.interrupted and "not finished" in stopped.stopped_at, stopped.summary()
    finished = len(checked_manifests(out))
    time.sleep(3)  # actors still running would finish more images meanwhile
    assert len(checked_manifests(out)) == finished < IMAGES
    assert json.loads((out / REPORT_NAME).read_text())["interrupted"] is True

    again = RayBatch(builder(), builder, get_theme("alien"), BatchSettings(out_dir=out, seed=SEED),
                     RayOptions(address=ray_address, actors=2), show_progress=False).run([rooms])
    assert again.counts()["skipped"] == finished and again.counts()["done"] == IMAGES - finished
    same_files(out, reference)


def test_a_pool_that_cannot_start_fails_its_images_with_the_reason(tmp_path, rooms, ray_address):
    """An actor whose stages are named otherwise than the driver's refuses to start; the run ends with every image
    failed with that reason, and the report is written."""
    out = tmp_path / "out"
    report = RayBatch(DoubleStages()(), OtherStages(), get_theme("alien"), BatchSettings(out_dir=out, seed=SEED),
                      RayOptions(address=ray_address, actors=1), show_progress=False).run([rooms])
    assert report.counts()["failed"] == IMAGES and report.counts()["done"] == 0
    reasons = {reason for _, reason in report.failures()}
    assert len(reasons) == 1 and "another-tagger" in reasons.pop()
    assert json.loads((out / REPORT_NAME).read_text())["counts"]["failed"] == IMAGES
    assert not checked_manifests(out)
