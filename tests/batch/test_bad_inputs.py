"""Bad inputs: the batch over a corpus of bad inputs, hostile file-system states and broken themes.

Each bad file gets a message naming it and its problem, the batch goes on, originals stay byte-identical and no
partial output remains. Cases that need another user (root reads chmod-000 files and writes read-only folders)
run the command line in a forked child that drops to ``nobody``; ENOSPC comes from a real 1 MiB tmpfs when the
test may mount one, else from an injected os.replace error.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
import sys
import tempfile
import traceback
from pathlib import Path
from typing import Iterator

import numpy as np
import pytest

from alien_filters import cli
from alien_filters.batch.atomic import TMP_PREFIX
from alien_filters.batch.lock import LOCK_NAME
from alien_filters.batch.outcomes import BatchReport, ItemOutcome
from alien_filters.batch.runner import REPORT_NAME, BatchRunner, BatchSettings
from alien_filters.core.masks import rle_decode
from alien_filters.core.pipeline import PipelineOptions, Stages
from alien_filters.core.sizing import WorkingSize
from alien_filters.themes import get_theme, parse_theme
from tests.support import cli_with_doubles
from tests.support.bad_inputs import (
    CASES,
    LOOP_LINK,
    THEME_CASES,
    UNKNOWN_CLASSES_THEME,
    Case,
    checked_manifests,
    snapshot,
    write_broken_links,
    write_corpus,
    write_theme_corpus,
)
from tests.support.doubles import ColourSegmenter, ColourTagger, PaintInpainter, ResizeRestorer
from tests.support.rooms import write_rooms

SMALL = PipelineOptions(working_size=WorkingSize(short_side=64, max_long_side=128))
NOBODY = 65534
SMALL_ARGS = ["--short-side", "64", "--max-long-side", "128"]
OUTPUT_KINDS = ("result", "preview", "tags", "manifest")


def stages() -> Stages:
    return Stages(ResizeRestorer(), ColourTagger(), ColourSegmenter(), PaintInpainter())


def run_batch(inputs: list[Path], out: Path, theme_name: str = "alien", **settings: object) -> BatchReport:
    batch = BatchSettings(out_dir=out, seed=7, options=SMALL, **settings)
    return BatchRunner(stages(), get_theme(theme_name), batch).run(inputs)


def outcome_for(report: BatchReport, path: Path) -> ItemOutcome:
    matches = [o for o in report.outcomes if o.input == str(path)]
    assert len(matches) == 1, f"{path} appears {len(matches)} times in {[o.input for o in report.outcomes]}"
    return matches[0]


def user_outputs(out: Path) -> list[Path]:
    """Every file the batch wrote for images (not its cache, lock or report)."""
    return sorted(p for p in out.rglob("*") if p.is_file() and ".alien-cache" not in p.relative_to(out).parts
                  and p.name not in (REPORT_NAME, LOCK_NAME))


def assert_no_partial_output(out: Path) -> None:
    """No temporary file anywhere; every manifest is valid JSON whose outputs all exist; no output without one."""
    assert not [p for p in out.rglob(TMP_PREFIX + "*")], "temporary files left behind"
    claimed = {path for outputs in checked_manifests(out).values() for path in outputs}
    orphans = [p for p in user_outputs(out) if p not in claimed]
    assert not orphans, f"outputs without a manifest (partial output): {orphans}"


# -- the corpus ---------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def corpus_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, BatchReport, dict, dict]:
    src = tmp_path_factory.mktemp("corpus")
    write_corpus(src)
    before = snapshot(src)
    out = tmp_path_factory.mktemp("corpus-out")
    report = run_batch([src], out)
    return src, out, report, before, snapshot(src)


@pytest.mark.parametrize("case", CASES, ids=[c.rel for c in CASES])
def test_each_corpus_file_is_done_or_named_with_its_problem(corpus_run, case: Case) -> None:
    src, out, report, _, _ = corpus_run
    path = src / case.rel
    outcome = outcome_for(report, path)
    if case.expect == "failed":
        assert outcome.status == "failed" and not outcome.outputs
        message = outcome.message.lower()
        assert all(word in message for word in case.words), outcome.message
        assert f"failed: {path}: {outcome.message}" in report.summary()
        stem = Path(case.rel).with_suffix("")
        assert not [p for p in user_outputs(out) if p.relative_to(out).as_posix().startswith(stem.as_posix() + ".")]
        return
    assert outcome.status == "done", outcome.message
    assert set(outcome.outputs) == set(OUTPUT_KINDS)
    manifest = json.loads((out / outcome.outputs["manifest"]).read_text(encoding="utf-8"))
    assert manifest["input"]["path"] == str(path) and manifest["status"] == "done"
    if case.label is not None:
        assert case.label in manifest["masks"], manifest["tags"]


def test_the_batch_goes_on_and_originals_stay_byte_identical(corpus_run) -> None:
    src, _, report, before, after = corpus_run
    assert after == before
    good = [c for c in CASES if c.expect == "done"]
    done = {o.input for o in report.by_status("done")}
    assert {str(src / c.rel) for c in good} <= done
    assert report.counts()["failed"] >= len([c for c in CASES if c.expect == "failed"])


def test_corpus_leaves_no_partial_output(corpus_run) -> None:
    assert_no_partial_output(corpus_run[1])


def test_symlink_loop_inside_the_input_is_not_walked(corpus_run) -> None:
    src, _, report, _, _ = corpus_run
    assert not [o.input for o in report.outcomes if LOOP_LINK in o.input]
    assert len({o.input for o in report.outcomes}) == len(report.outcomes)
    assert (src / LOOP_LINK).is_symlink()


def test_exif_orientation_and_first_frames(corpus_run) -> None:
    src, out, report, _, _ = corpus_run
    rotated = json.loads((out / outcome_for(report, src / "exif_rotated.jpg").outputs["manifest"]).read_text())
    assert rotated["input"]["size"] == [64, 96]  # stored 96x64 sideways, turned upright
    bed = rle_decode(rotated["masks"]["bed"])
    rows = np.nonzero(bed.any(axis=1))[0]
    assert rows.max() < bed.shape[0] * 0.6  # the stored left half (bed) is the top half once upright
    webp = json.loads((out / outcome_for(report, src / "animated_webp.webp").outputs["manifest"]).read_text())
    assert "bed" in webp["masks"] and "window" not in webp["masks"]


def test_strip_and_one_pixel_keep_the_working_size_rules(corpus_run) -> None:
    src, out, report, _, _ = corpus_run
    one = json.loads((out / outcome_for(report, src / "one_pixel.png").outputs["manifest"]).read_text())
    assert one["input"]["size"] == [1, 1] and one["working_size"] == [64, 64]


def test_output_path_taken_by_a_folder_fails_that_image_without_partial_output(tmp_path) -> None:
    src = tmp_path / "src"
    write_rooms(src, 2, nested=False)
    out = tmp_path / "out"
    (out / "room_000.preview.jpg").mkdir(parents=True)  # the preview cannot land: written after the result
    report = run_batch([src], out)
    failed = outcome_for(report, src / "room_000.jpg")
    assert failed.status == "failed" and "cannot write outputs" in failed.message
    assert outcome_for(report, src / "room_001.jpg").status == "done"
    assert not [p for p in out.rglob(TMP_PREFIX + "*")]
    assert (out / "room_001.json").is_file() and not (out / "room_000.json").exists()


def test_failed_write_removes_the_images_earlier_outputs(tmp_path) -> None:
    src = tmp_path / "src"
    write_rooms(src, 1, nested=False)
    out = tmp_path / "out"
    (out / "room_000.preview.jpg").mkdir(parents=True)
    run_batch([src], out)
    assert not (out / "room_000.png").exists()


# -- broken links, unreadable files, read-only output -------------------------------------------------------------


def test_broken_symlinks_are_named_and_the_batch_goes_on(tmp_path) -> None:
    src = tmp_path / "src"
    write_rooms(src, 1, nested=False)
    cases = write_broken_links(src)
    report = run_batch([src], tmp_path / "out")
    assert outcome_for(report, src / "room_000.jpg").status == "done"
    for case in cases:
        outcome = outcome_for(report, src / case.rel)
        assert outcome.status == "failed" and all(w in outcome.message.lower() for w in case.words)


@pytest.fixture
def shared_dir() -> Iterator[Path]:
    """A folder another user can enter (pytest's tmp_path is private to its owner)."""
    folder = Path(tempfile.mkdtemp(prefix="alien-hardening-"))
    folder.chmod(0o755)
    yield folder
    for path in [folder, *folder.rglob("*")]:
        if not path.is_symlink():
            path.chmod(0o755 if path.is_dir() else 0o644)
    shutil.rmtree(folder)


def cli_as_unprivileged(args: list[str]) -> tuple[int, str]:
    """Run the command line (stage doubles) in a forked child, as nobody when we are root (root ignores file
    permissions); returns its exit code and its output. An exception escaping the command line shows up as a
    traceback in the output, as it would for a user."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        code = 70
        try:
            os.dup2(write_end, 1)
            os.dup2(write_end, 2)
            sys.stdout = open(1, "w", closefd=False)  # noqa: SIM115 - the child exits right after
            sys.stderr = open(2, "w", closefd=False)  # noqa: SIM115
            if os.geteuid() == 0:
                os.setgroups([])
                os.setgid(NOBODY)
                os.setuid(NOBODY)
            code = cli_with_doubles.main(args)
        except BaseException:  # noqa: BLE001 - reported like an uncaught exception
            traceback.print_exc()
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
    os.close(write_end)
    with open(read_end, "rb") as pipe:
        output = pipe.read().decode("utf-8", "replace")
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), output


def give_away(path: Path) -> None:
    if os.geteuid() == 0:
        os.chown(path, NOBODY, NOBODY)


def test_unreadable_file_is_named_and_the_batch_goes_on(shared_dir) -> None:
    src, out = shared_dir / "src", shared_dir / "out"
    write_rooms(src, 2, nested=False)
    (src / "room_001.jpg").chmod(0o000)
    out.mkdir()
    give_away(out)
    code, output = cli_as_unprivileged(["process", str(src), "--out", str(out), *SMALL_ARGS])
    assert "Traceback" not in output, output
    assert code == cli.EXIT_FAILURES
    assert f"failed: {src / 'room_001.jpg'}: permission denied" in output
    assert (out / "room_000.png").is_file() and not (out / "room_001.png").exists()


@pytest.mark.parametrize("locked_before", [False, True], ids=["fresh", "lock-file-left"])
def test_read_only_output_folder_is_a_clear_error(shared_dir, locked_before: bool) -> None:
    src, out = shared_dir / "src", shared_dir / "out"
    write_rooms(src, 1, nested=False)
    out.mkdir()
    if locked_before:
        (out / LOCK_NAME).touch()
        give_away(out / LOCK_NAME)
    out.chmod(0o555)
    before = snapshot(src)
    code, output = cli_as_unprivileged(["process", str(src), "--out", str(out), *SMALL_ARGS])
    assert "Traceback" not in output, output
    assert code == cli.EXIT_USAGE
    assert str(out) in output and "permission denied" in output.lower()
    assert snapshot(src) == before and user_outputs(out) == []


# -- a full disk ---------------------------------------------------------------------------------------------------


@pytest.fixture
def small_disk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Path, bool]]:
    """A 1 MiB tmpfs when we may mount one (root with CAP_SYS_ADMIN); else a folder where os.replace starts
    failing with ENOSPC after 6 renames (an injected error, reported as such)."""
    folder = tmp_path / "disk"
    folder.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(folder)],
                             capture_output=True).returncode == 0 if os.geteuid() == 0 else False
    if not mounted:
        real_replace, calls = os.replace, []

        def replace(src: object, dst: object, **kwargs: object) -> None:
            calls.append(dst)
            if str(dst).startswith(str(folder)) and len(calls) > 6:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(dst))
            real_replace(src, dst, **kwargs)

        monkeypatch.setattr(os, "replace", replace)
    try:
        yield folder, mounted
    finally:
        if mounted:
            subprocess.run(["umount", "-l", str(folder)], check=False)


def fill(folder: Path, leave: int) -> Path:
    """Fill the tmpfs until about ``leave`` bytes are free; returns the filler file."""
    filler = folder / "filler.bin"
    free = shutil.disk_usage(folder).free
    filler.write_bytes(b"\0" * max(0, free - leave))
    return filler


def test_full_output_disk_fails_images_cleanly_and_resumes(tmp_path, small_disk) -> None:
    disk, mounted = small_disk
    src = tmp_path / "src"
    write_rooms(src, 4, nested=False)
    before = snapshot(src)
    out = disk / "out"
    if mounted:
        fill(disk, leave=48 * 1024)
    report = run_batch([src], out)
    full = report.by_status("failed")
    assert full, "the disk never filled up"
    assert all("no space left on device" in o.message.lower() for o in full), [o.message for o in full]
    assert len(report.outcomes) == 4 and snapshot(src) == before
    assert_no_partial_output(out)
    if mounted:
        (disk / "filler.bin").unlink()
        resumed = run_batch([src], out)
        assert sorted(o.status for o in resumed.outcomes).count("failed") == 0
        assert_no_partial_output(out)


# -- themes --------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("case", THEME_CASES, ids=[c.kind for c in THEME_CASES])
def test_check_theme_names_file_line_and_field(tmp_path, capsys, case) -> None:
    (path,) = [tmp_path / c.file for c in write_theme_corpus(tmp_path) if c == case]
    code = cli.main(["check-theme", str(path)])
    err = capsys.readouterr().err
    assert code == cli.EXIT_USAGE
    where = f"{path}:{case.line}: " if case.line is not None else f"{path}: "
    assert err.startswith("error: " + where + (f"{case.field}: " if case.field else "")), err
    assert all(word in err.lower() for word in case.words), err


def test_process_with_a_broken_theme_names_the_file_and_writes_nothing(tmp_path, capsys, rooms_dir) -> None:
    themes = tmp_path / "themes"
    themes.mkdir()
    (themes / "wrong_type.yaml").write_text("name: mine\nrules:\n  - classes: [bed]\n    prompt: p\n"
                                            "    priority: high\n")
    out = tmp_path / "out"
    code = cli_with_doubles.main(["process", str(rooms_dir), "--out", str(out), "--theme", "mine",
                                  "--themes-dir", str(themes)])
    err = capsys.readouterr().err
    assert code == cli.EXIT_USAGE
    assert f"{themes / 'wrong_type.yaml'}:5: rules[0].priority: must be an integer" in err
    assert not out.exists()


def test_catalog_skips_broken_themes_and_the_good_ones_still_run(tmp_path, rooms_dir) -> None:
    themes = tmp_path / "themes"
    write_theme_corpus(themes)
    (themes / "strange.yaml").write_text(UNKNOWN_CLASSES_THEME)
    theme = get_theme("strange", themes)
    report = BatchRunner(stages(), theme, BatchSettings(out_dir=tmp_path / "out", options=SMALL)).run([rooms_dir])
    assert report.counts()["done"] == 4


def test_theme_naming_unknown_classes_warns_and_its_rule_never_matches(tmp_path, capsys, rooms_dir) -> None:
    path = tmp_path / "strange.yaml"
    path.write_text(UNKNOWN_CLASSES_THEME)
    assert cli.main(["check-theme", str(path)]) == cli.EXIT_OK
    err = capsys.readouterr().err
    assert "warning:" in err and "'flux capacitor'" in err and "not in the vocabulary" in err
    theme = parse_theme(UNKNOWN_CLASSES_THEME, str(path))
    out = tmp_path / "out"
    report = BatchRunner(stages(), theme, BatchSettings(out_dir=out, options=SMALL)).run([rooms_dir])
    assert report.counts()["done"] == 4
    for outcome in report.outcomes:
        plan = json.loads((out / outcome.outputs["manifest"]).read_text())["plan"]
        assert "gizmo" in plan["unmatched_rules"]
        assert all(job["rule"] != "gizmo" for job in plan["jobs"])

