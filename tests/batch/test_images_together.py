"""Several images handed to the inpainter together (their diffusion calls share batches): same outputs as one at a
time, failures and stops that stay with their own image, and the group size the runner chooses."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from alien_filters.batch.runner import BatchRunner, BatchSettings
from alien_filters.core.contracts import ProgressEvent
from alien_filters.core.pipeline import PipelineOptions, Stages
from alien_filters.core.states import ImageStatus
from tests.support.doubles import CallingPainter, ColourSegmenter, ColourTagger, PaintInpainter, ResizeRestorer
from tests.support.rooms import room_image, write_rooms


def _stages(painter: PaintInpainter) -> Stages:
    return Stages(ResizeRestorer(), ColourTagger(), ColourSegmenter(), painter)


def _results(out: Path) -> dict[str, np.ndarray]:
    return {str(p.relative_to(out)): np.asarray(Image.open(p)) for p in sorted(out.rglob("*.png"))
            if ".alien-cache" not in p.parts}


def _run(rooms: Path, out: Path, painter: PaintInpainter, together: int = 0, **kwargs):
    options = PipelineOptions(inpaint_batch_size=4)
    settings = BatchSettings(out_dir=out, seed=3, inpaint_images=together, options=options)
    return BatchRunner(_stages(painter), kwargs.pop("theme"), settings, **kwargs).run([rooms])


def test_images_go_to_the_inpainter_together_and_come_out_as_each_alone(tmp_path, alien_theme):
    rooms = tmp_path / "rooms"
    write_rooms(rooms, 5)
    grouped, single = CallingPainter(), CallingPainter()
    events: list[ProgressEvent] = []
    report = _run(rooms, tmp_path / "grouped", grouped, together=2, theme=alien_theme, progress=events.append)
    assert report.counts()["done"] == 5 and grouped.groups == [2, 2, 1]
    _run(rooms, tmp_path / "single", single, together=1, theme=alien_theme)
    assert single.groups == [1] * 5 and grouped.handed == single.handed  # the same calls and batch size per image
    assert _results(tmp_path / "grouped").keys() == _results(tmp_path / "single").keys() != set()
    for name, pixels in _results(tmp_path / "grouped").items():
        assert np.array_equal(pixels, _results(tmp_path / "single")[name]), name
    manifest = json.loads(next((tmp_path / "grouped").glob("room_000.json")).read_text())
    assert manifest["calls"]["images_together"] == 2 and manifest["timings"]["inpaint"] > 0
    kinds = [(e.kind, e.index) for e in events if e.kind in ("image", "stage")]
    for image in range(5):  # each image is announced before its own stages run
        start = kinds.index(("image", image))
        assert kinds[start + 1:start + 5] == [("stage", 0), ("stage", 1), ("stage", 2), ("stage", 3)]


def test_a_failure_of_the_shared_inpaint_fails_only_its_own_image(tmp_path, alien_theme):
    rooms = tmp_path / "rooms"
    write_rooms(rooms, 3, nested=False)
    room_image(9, size=(352, 256))[0].save(rooms / "room_001b_wide.jpg")  # working image 704 px wide
    (rooms / "room_000b_broken.jpg").write_bytes(b"not a jpeg")
    painter = CallingPainter(refuse_width=704)
    report = _run(rooms, tmp_path / "out", painter, together=5, theme=alien_theme)
    failed = dict(report.failures())
    assert set(failed) == {str(rooms / "room_000b_broken.jpg"), str(rooms / "room_001b_wide.jpg")}
    assert "cannot paint an image 704 px wide" in failed[str(rooms / "room_001b_wide.jpg")]
    assert report.counts()["done"] == 3 and painter.groups == [1, 1, 1]  # the group failed; retried one by one
    assert not list((tmp_path / "out").glob("room_001b_wide.*"))


def test_a_stop_inside_a_group_writes_none_of_it_and_the_next_run_resumes(tmp_path, alien_theme):
    rooms = tmp_path / "rooms"
    write_rooms(rooms, 4, nested=False)
    events: list[tuple[str, int]] = []

    def inside_the_second_groups_inpaint() -> bool:  # a job of the second group (images 2 and 3) has begun
        return ("image", 3) in events and events[-1][0] == "job"

    out = tmp_path / "out"
    report = _run(rooms, out, CallingPainter(), together=2, theme=alien_theme,
                  progress=lambda event: events.append((event.kind, event.index)),
                  interrupted=inside_the_second_groups_inpaint)
    assert report.interrupted and [o.status for o in report.outcomes] == [ImageStatus.DONE] * 2 + \
        [ImageStatus.INTERRUPTED] * 2
    assert sorted(p.name for p in out.glob("*.png")) == ["room_000.png", "room_001.png"]
    assert not list(out.glob("room_002.*")) and not list(out.glob("room_003.*"))
    again = _run(rooms, out, CallingPainter(), together=2, theme=alien_theme)
    assert again.counts()["skipped"] == 2 and again.counts()["done"] == 2


@pytest.mark.parametrize(("painter", "dry_run", "asked", "expected"), [
    (CallingPainter(), False, 0, 4),  # the run's inpaint batch size
    (CallingPainter(), True, 0, 1),  # nothing to inpaint
    (PaintInpainter(), False, 0, 1),  # one call per job: nothing to batch
    (PaintInpainter(), False, 3, 3)])  # as asked
def test_how_many_images_go_together(tmp_path, alien_theme, painter, dry_run, asked, expected):
    options = PipelineOptions(inpaint=not dry_run, inpaint_batch_size=4)
    settings = BatchSettings(out_dir=tmp_path, inpaint_images=asked, options=options)
    assert BatchRunner(_stages(painter), alien_theme, settings).images_together() == expected
    default = BatchSettings(out_dir=tmp_path, options=PipelineOptions())
    assert BatchRunner(_stages(CallingPainter()), alien_theme, default).images_together() == 3  # its default
