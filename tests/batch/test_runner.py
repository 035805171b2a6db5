"""The batch runner: mirrored outputs, manifests, resume, caching across themes, bad inputs, kill safety."""

from __future__ import annotations

import hashlib
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from alien_filters.batch.atomic import TMP_PREFIX
from alien_filters.batch.lock import OutputFolderBusy, OutputFolderLock
from alien_filters.batch.runner import REPORT_NAME, BatchRunner, BatchSettings
from alien_filters.core.masks import rle_decode
from alien_filters.core.pipeline import PipelineOptions
from alien_filters.themes import get_theme

ROOT = Path(__file__).resolve().parents[2]


def digests(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def output_files(out: Path) -> list[str]:
    skipped = (REPORT_NAME, ".alien-filters.lock")
    return sorted(str(p.relative_to(out)) for p in out.rglob("*")
                  if p.is_file() and ".alien-cache" not in p.parts and p.name not in skipped)


def expected_outputs(stems: list[str], dry_run: bool = False) -> list[str]:
    suffixes = [".json", ".preview.jpg", ".txt"] + ([] if dry_run else [".png"])
    return sorted(stem + s for stem in stems for s in suffixes)


STEMS = ["room_000", "room_002", "floor2/room_001", "floor2/room_003"]


def test_batch_mirrors_tree_and_writes_manifests(tmp_path, rooms_dir, double_stages, alien_theme):
    before = digests(rooms_dir)
    out = tmp_path / "out"
    report = BatchRunner(double_stages, alien_theme, BatchSettings(out_dir=out, seed=3)).run([rooms_dir])
    assert report.counts()["done"] == 4 and not report.failures()
    assert output_files(out) == expected_outputs(STEMS)
    assert digests(rooms_dir) == before
    manifest = json.loads((out / "floor2/room_001.json").read_text())
    assert manifest["status"] == "done"
    assert manifest["input"]["sha256"] == hashlib.sha256((rooms_dir / "floor2/room_001.jpg").read_bytes()).hexdigest()
    assert manifest["theme"]["name"] == "alien" and manifest["theme"]["hash"] == alien_theme.hash()
    assert manifest["models"]["inpaint"] == "paint-inpainter-double"
    assert manifest["versions"]["numpy"] and manifest["seed"] == 3
    jobs = manifest["plan"]["jobs"]
    assert jobs and all("seed" in j and j["prompt"] for j in jobs)
    result = np.asarray(Image.open(out / "floor2/room_001.png"))
    assert result.shape[:2] == tuple(reversed(manifest["working_size"]))
    for rle in manifest["masks"].values():
        assert rle_decode(rle).shape == result.shape[:2]
    tags = (out / "floor2/room_001.txt").read_text().strip().split(", ")
    assert set(tags) >= set(manifest["masks"]) and tags[-1] == "modern"
    assert Image.open(out / "room_000.preview.jpg").height > 300
    assert json.loads((out / REPORT_NAME).read_text())["counts"]["done"] == 4


def test_rerun_skips_finished_images_and_new_theme_reuses_stage_cache(tmp_path, rooms_dir, double_stages, alien_theme):
    out = tmp_path / "out"
    BatchRunner(double_stages, alien_theme, BatchSettings(out_dir=out)).run([rooms_dir])
    again = BatchRunner(double_stages, alien_theme, BatchSettings(out_dir=out)).run([rooms_dir])
    assert again.counts()["skipped"] == 4
    assert double_stages.tagger.calls == 4
    winter = get_theme("winter_holiday")
    third = BatchRunner(double_stages, winter, BatchSettings(out_dir=out)).run([rooms_dir])
    assert third.counts()["done"] == 4
    assert double_stages.tagger.calls == 4 and double_stages.segmenter.calls == 4 and double_stages.restorer.calls == 4
    assert json.loads((out / "room_000.json").read_text())["cached_stages"] == ["restore", "tag", "segment"]


def test_changed_input_or_seed_is_processed_again(tmp_path, rooms_dir, double_stages, alien_theme):
    out = tmp_path / "out"
    BatchRunner(double_stages, alien_theme, BatchSettings(out_dir=out)).run([rooms_dir])
    Image.new("RGB", (300, 200), (200, 30, 30)).save(rooms_dir / "room_000.jpg")
    report = BatchRunner(double_stages, alien_theme, BatchSettings(out_dir=out)).run([rooms_dir])
    assert [o.status for o in report.outcomes].count("done") == 1
    reseeded = BatchRunner(double_stages, alien_theme, BatchSettings(out_dir=out, seed=9)).run([rooms_dir])
    assert reseeded.counts()["done"] == 4


def test_same_seed_reproduces_results(tmp_path, rooms_dir, double_stages, alien_theme):
    for name in ("a", "b"):
        settings = BatchSettings(out_dir=tmp_path / name, seed=5, use_cache=False)
        BatchRunner(double_stages, alien_theme, settings).run([rooms_dir])
    assert (tmp_path / "a/room_000.png").read_bytes() == (tmp_path / "b/room_000.png").read_bytes()


def test_dry_run_writes_previews_and_manifests_only(tmp_path, rooms_dir, double_stages, alien_theme):
    out = tmp_path / "out"
    settings = BatchSettings(out_dir=out, options=PipelineOptions(inpaint=False))
    report = BatchRunner(double_stages, alien_theme, settings).run([rooms_dir])
    assert report.counts()["planned"] == 4
    assert output_files(out) == expected_outputs(STEMS, dry_run=True)
    assert json.loads((out / "room_000.json").read_text())["status"] == "planned"
    full = BatchRunner(double_stages, alien_theme, BatchSettings(out_dir=out)).run([rooms_dir])
    assert full.counts()["done"] == 4


def test_bad_images_are_reported_and_the_batch_goes_on(tmp_path, rooms_dir, double_stages, alien_theme):
    (rooms_dir / "broken.jpg").write_bytes(b"<html>not a photo</html>")
    (rooms_dir / "empty.png").write_bytes(b"")
    (rooms_dir / "notes.txt").write_text("ignored: not an image name")
    out = tmp_path / "out"
    report = BatchRunner(double_stages, alien_theme, BatchSettings(out_dir=out)).run([rooms_dir, tmp_path / "missing"])
    failures = dict(report.failures())
    assert report.counts()["done"] == 4
    assert str(rooms_dir / "broken.jpg") in failures and str(rooms_dir / "empty.png") in failures
    assert failures[str(tmp_path / "missing")] == "no such file or folder"
    assert not (out / "broken.json").exists() and not (out / "empty.png").exists()
    assert "broken.jpg" in report.summary()


def test_limit_and_name_clashes(tmp_path, double_stages, alien_theme):
    src = tmp_path / "src"
    src.mkdir()
    for ext in ("jpg", "png"):
        Image.new("RGB", (64, 48), (200, 30, 30)).save(src / f"a.{ext}")
    out = tmp_path / "out"
    report = BatchRunner(double_stages, alien_theme, BatchSettings(out_dir=out)).run([src])
    assert {Path(o.outputs["result"]).name for o in report.outcomes} == {"a_jpg.png", "a_png.png"}
    limited = BatchRunner(double_stages, alien_theme, BatchSettings(out_dir=tmp_path / "o2", limit=1)).run([src])
    assert len(limited.outcomes) == 1


def test_output_folder_inside_input_is_not_processed(tmp_path, rooms_dir, double_stages, alien_theme):
    out = rooms_dir / "themed"
    BatchRunner(double_stages, alien_theme, BatchSettings(out_dir=out)).run([rooms_dir])
    again = BatchRunner(double_stages, alien_theme, BatchSettings(out_dir=out)).run([rooms_dir])
    assert len(again.outcomes) == 4 and again.counts()["skipped"] == 4


def test_stop_after_image_then_resume(tmp_path, rooms_dir, double_stages, alien_theme):
    out = tmp_path / "out"
    done: list[object] = []
    runner = BatchRunner(double_stages, alien_theme, BatchSettings(out_dir=out),
                         progress=lambda e: done.append(e) if e.kind == "image" else None,
                         stop_after_image=lambda: len(done) >= 2)
    report = runner.run([rooms_dir])
    assert report.interrupted and len(report.outcomes) == 2
    assert report.stopped_at == f"before {rooms_dir / 'room_000.jpg'}"  # inputs run in output-path order
    resumed = BatchRunner(double_stages, alien_theme, BatchSettings(out_dir=out)).run([rooms_dir])
    assert sorted(o.status for o in resumed.outcomes) == ["done", "done", "skipped", "skipped"]


def test_second_batch_on_the_same_output_folder_is_refused(tmp_path, rooms_dir, double_stages, alien_theme):
    out = tmp_path / "out"
    with OutputFolderLock(out):
        with pytest.raises(OutputFolderBusy, match="another batch"):
            BatchRunner(double_stages, alien_theme, BatchSettings(out_dir=out)).run([rooms_dir])


def test_killed_batch_resumes_with_each_output_exactly_once(tmp_path, rooms_dir):
    before = digests(rooms_dir)
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-m", "tests.support.batch_worker", str(rooms_dir), str(out), "0.05"]
    rng = random.Random(1)
    for _ in range(3):
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        time.sleep(rng.uniform(1.5, 4.0))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    final = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert final.returncode == 0, final.stderr
    assert output_files(out) == expected_outputs(STEMS)
    assert not [p for p in out.rglob(TMP_PREFIX + "*")]
    for manifest in out.rglob("*.json"):
        json.loads(manifest.read_text())
    assert digests(rooms_dir) == before


def test_names_that_would_take_other_outputs_keep_their_extension(tmp_path, double_stages, alien_theme):
    src = tmp_path / "src"
    src.mkdir()
    for name in ("x.jpg", "x.masks.jpg", "alien-filters-report.png"):
        Image.new("RGB", (64, 48), (200, 30, 30)).save(src / name)
    settings = BatchSettings(out_dir=tmp_path / "out", save_masks=True)
    report = BatchRunner(double_stages, alien_theme, settings).run([src])
    results = sorted(o.outputs["result"] for o in report.outcomes)
    assert results == ["alien-filters-report_png.png", "x.masks_jpg.png", "x.png"]
    assert json.loads((tmp_path / "out" / REPORT_NAME).read_text())["counts"]["done"] == 3


def test_a_failed_write_leaves_no_result_without_its_manifest(tmp_path, rooms_dir, double_stages, alien_theme):
    out = tmp_path / "out"
    BatchRunner(double_stages, alien_theme, BatchSettings(out_dir=out, seed=1)).run([rooms_dir])
    (out / "room_000.txt").unlink()
    (out / "room_000.txt").mkdir()  # the tags file cannot be written any more
    report = BatchRunner(double_stages, alien_theme, BatchSettings(out_dir=out, seed=2)).run([rooms_dir])
    failed = [o for o in report.outcomes if o.status == "failed"]
    assert [Path(o.input).name for o in failed] == ["room_000.jpg"]
    assert "cannot write outputs" in failed[0].message
    assert not (out / "room_000.json").exists() and not (out / "room_000.png").exists()
    assert (out / "room_002.json").exists()


def test_outputs_are_never_written_through_a_symlink_out_of_the_output_folder(tmp_path, rooms_dir, double_stages,
                                                                            alien_theme):
    out, elsewhere = tmp_path / "out", tmp_path / "elsewhere"
    elsewhere.mkdir()
    out.mkdir()
    (out / "floor2").symlink_to(elsewhere, target_is_directory=True)
    report = BatchRunner(double_stages, alien_theme, BatchSettings(out_dir=out)).run([rooms_dir])
    failed = {Path(o.input).name: o.message for o in report.outcomes if o.status == "failed"}
    assert set(failed) == {"room_001.jpg", "room_003.jpg"}
    assert "symlink leads out of the output folder" in failed["room_001.jpg"]
    assert list(elsewhere.iterdir()) == []


def test_outputs_get_the_usual_file_mode(tmp_path, rooms_dir, double_stages, alien_theme):
    out = tmp_path / "out"
    BatchRunner(double_stages, alien_theme, BatchSettings(out_dir=out)).run([rooms_dir])
    umask = os.umask(0)
    os.umask(umask)
    assert (out / "room_000.png").stat().st_mode & 0o777 == 0o666 & ~umask
