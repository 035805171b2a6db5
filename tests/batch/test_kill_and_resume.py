"""Kill and resume: a batch killed with SIGKILL at 10 random moments, then resumed.

Each run is ``tests/support/batch_worker.py`` in its own process (a short sleep per inpaint job widens the windows in
which a kill lands mid-image); the kill comes at a random moment after the worker took the output-folder lock.
Between kills the output folder must already be consistent (a manifest is written last, so every manifest is
whole and its outputs exist); after the final run every output exists exactly once, no temporary file is left,
originals are byte-identical and the results equal those of a batch never killed.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from alien_filters.batch.atomic import TMP_PREFIX
from alien_filters.batch.lock import LOCK_NAME
from alien_filters.batch.runner import REPORT_NAME, BatchRunner, BatchSettings
from alien_filters.core.pipeline import Stages
from alien_filters.themes import get_theme
from tests.support.bad_inputs import checked_manifests, snapshot
from tests.support.doubles import ColourSegmenter, ColourTagger, PaintInpainter, ResizeRestorer
from tests.support.rooms import write_rooms

ROOT = Path(__file__).resolve().parents[2]
IMAGES = 8
KILLS = 10
JOB_DELAY = "0.1"
WORKER_SEED = 11  # tests/support/batch_worker.py runs the alien theme with seed 11


def image_outputs(out: Path) -> list[str]:
    return sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()
                  and ".alien-cache" not in p.relative_to(out).parts and p.name not in (REPORT_NAME, LOCK_NAME))


def holds_a_lock(pid: int) -> bool:
    """True once process ``pid`` holds an flock (the output-folder lock: its batch has begun). Read from
    /proc/locks, so that looking never takes the lock away from the worker."""
    try:
        lines = Path("/proc/locks").read_text().splitlines()
    except OSError:
        return True  # no /proc: fall back to the timed wait alone
    return any(len(f) > 4 and f[1] == "FLOCK" and f[4] == str(pid) for f in (line.split() for line in lines))


def wait_for_batch(proc: subprocess.Popen, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while proc.poll() is None and not holds_a_lock(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.02)


def check_consistent(out: Path) -> int:
    """Every manifest is valid JSON naming outputs that exist; returns how many images are complete."""
    return len(checked_manifests(out))


@pytest.fixture(scope="module")
def rooms(tmp_path_factory: pytest.TempPathFactory) -> Path:
    src = tmp_path_factory.mktemp("kill-rooms")
    write_rooms(src, IMAGES)
    return src


@pytest.fixture(scope="module")
def reference(rooms: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same batch, never killed."""
    out = tmp_path_factory.mktemp("reference")
    stages = Stages(ResizeRestorer(), ColourTagger(), ColourSegmenter(), PaintInpainter())
    BatchRunner(stages, get_theme("alien"), BatchSettings(out_dir=out, seed=WORKER_SEED)).run([rooms])
    return out


def test_ten_random_kills_then_resume(tmp_path, rooms, reference) -> None:
    before = snapshot(rooms)
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-m", "tests.support.batch_worker", str(rooms), str(out), JOB_DELAY]
    rng = random.Random(2024)
    killed_while_running, progress = 0, []
    for _ in range(KILLS):
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        wait_for_batch(proc)
        time.sleep(rng.uniform(0.0, 1.5))  # a random moment inside the batch
        if proc.poll() is None:
            killed_while_running += 1
        proc.send_signal(signal.SIGKILL)
        _, err = proc.communicate()
        assert proc.returncode in (-signal.SIGKILL, 0), err.decode(errors="replace")
        progress.append(check_consistent(out) if out.exists() else 0)
    assert killed_while_running >= KILLS - 2, f"only {killed_while_running} kills landed in a running batch"
    assert progress == sorted(progress), f"finished images went missing between kills: {progress}"

    final = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert final.returncode == 0, final.stdout + final.stderr
    counts = json.loads((out / REPORT_NAME).read_text())["counts"]
    assert counts["done"] + counts["skipped"] == IMAGES and counts["failed"] == 0
    assert counts["skipped"] == progress[-1]  # images finished before the last kill are not redone
    assert image_outputs(out) == image_outputs(reference)  # each output exactly once, nothing extra
    assert check_consistent(out) == IMAGES
    assert not list(out.rglob(TMP_PREFIX + "*"))
    assert snapshot(rooms) == before
    for rel in image_outputs(out):
        if rel.endswith((".png", ".txt")):
            assert (out / rel).read_bytes() == (reference / rel).read_bytes(), f"{rel} differs from a clean run"
