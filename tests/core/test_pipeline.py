"""The one-image pipeline: stage order, fallbacks, caching, interrupts, errors."""

from __future__ import annotations

import numpy as np
import pytest

from alien_filters.batch.cache import StageCache
from alien_filters.core.contracts import ProgressEvent
from alien_filters.core.pipeline import Interrupted, Pipeline, PipelineOptions, StageFailed, StageMissing, Stages
from tests.support.rooms import room_image


def test_full_run_changes_only_masked_pixels(double_stages, alien_theme):
    image, objects = room_image(1)
    result = Pipeline(double_stages, alien_theme).run(image, "sha-1", seed=5)
    assert result.working.size == (512, 704)  # short side 512, multiple of 8
    assert set(result.masks) == {o.label for o in objects}
    assert result.final is not None and result.final.size == result.working.size
    changed = np.any(np.asarray(result.final) != np.asarray(result.working), axis=2)
    union = np.zeros_like(changed)
    for job in result.plan.jobs:
        union |= job.mask
    assert changed.any()
    assert not (changed & ~union).any()
    assert list(result.timings) == ["restore", "tag", "segment", "plan", "inpaint"]


def test_dry_run_plans_without_inpainting(double_stages, alien_theme):
    image, _ = room_image(2)
    options = PipelineOptions(inpaint=False)
    result = Pipeline(double_stages, alien_theme, options).run(image, "sha-2", seed=5)
    assert result.final is None and result.plan.jobs
    assert double_stages.inpainter.jobs == []


def test_missing_stage_is_named(alien_theme):
    with pytest.raises(StageMissing, match="inpaint"):
        Pipeline(Stages(None, None, None, None), alien_theme, PipelineOptions(restore=False, tag=False, segment=False))


def test_switched_off_stages_use_fallbacks(alien_theme):
    image, objects = room_image(3)
    from tests.support.doubles import ColourTagger, PaintInpainter

    stages = Stages(tagger=ColourTagger(), inpainter=PaintInpainter())
    result = Pipeline(stages, alien_theme, PipelineOptions(restore=False, segment=False)).run(image, "s", 1)
    assert result.working.size == (512, 704)
    for det in result.tags.objects:  # box masks
        x0, y0, x1, y1 = (int(round(v)) for v in det.box)
        assert result.masks[det.label][y0:y1, x0:x1].all()


def test_cache_reuses_restore_tags_and_masks(tmp_path, double_stages, alien_theme):
    image, _ = room_image(4)
    cache = StageCache(tmp_path / "cache")
    first = Pipeline(double_stages, alien_theme, cache=cache).run(image, "sha-4", seed=1)
    second = Pipeline(double_stages, alien_theme, cache=cache).run(image, "sha-4", seed=1)
    assert first.cached == [] and second.cached == ["restore", "tag", "segment"]
    assert double_stages.restorer.calls == 1 and double_stages.tagger.calls == 1
    assert double_stages.segmenter.calls == 1
    assert np.array_equal(np.asarray(first.final), np.asarray(second.final))
    other = Pipeline(double_stages, alien_theme, cache=cache).run(image, "sha-other", seed=1)
    assert other.cached == []


def test_interrupt_between_jobs(double_stages, alien_theme):
    image, _ = room_image(5)
    events: list[ProgressEvent] = []
    pipeline = Pipeline(double_stages, alien_theme, progress=events.append,
                        interrupted=lambda: any(e.kind == "job" for e in events))
    with pytest.raises(Interrupted, match="inpaint job 2/"):
        pipeline.run(image, "sha-5", seed=1)
    assert len(double_stages.inpainter.jobs) == 1


def test_stage_exception_becomes_stage_failed(double_stages, alien_theme):
    class Broken:
        name = "broken"

        def tag(self, image):
            raise RuntimeError("model exploded")

    double_stages.tagger = Broken()
    with pytest.raises(StageFailed, match="tag failed: RuntimeError: model exploded"):
        Pipeline(double_stages, alien_theme).run(room_image(6)[0], "sha-6", seed=1)


def test_wrong_sized_restore_is_an_error(double_stages, alien_theme):
    class Wrong:
        name = "wrong"

        def restore(self, image, size):
            return image

    double_stages.restorer = Wrong()
    with pytest.raises(StageFailed, match="restore failed.*expected \\(512, 704\\)"):
        Pipeline(double_stages, alien_theme).run(room_image(7)[0], "sha-7", seed=1)


def test_theme_synonyms_match_canonical_classes(double_stages):
    from alien_filters.themes import parse_theme

    theme = parse_theme("name: syn\nrules:\n  - classes: [tv]\n    prompt: crystal ball\n", "syn.yaml")
    image, objects = room_image(2, n_objects=6)
    assert "television" in {o.label for o in objects}
    result = Pipeline(double_stages, theme).run(image, "sha-8", seed=1)
    assert [job.classes for job in result.plan.jobs] == [("television",)]


def test_detection_models_are_released_before_diffusion(double_stages, alien_theme):
    order: list[str] = []

    class ReleasingTagger(type(double_stages.tagger)):
        def release(self) -> None:
            order.append("release tagger")

    class RecordingInpainter(type(double_stages.inpainter)):
        def inpaint(self, image, job):
            order.append("inpaint")
            return super().inpaint(image, job)

    stages = Stages(double_stages.restorer, ReleasingTagger(), double_stages.segmenter, RecordingInpainter())
    Pipeline(stages, alien_theme).run(room_image(9)[0], "sha-9", seed=1)
    assert order[0] == "release tagger" and order.count("release tagger") == 1 and "inpaint" in order
    order.clear()
    Pipeline(stages, alien_theme, offload_before_inpaint=False).run(room_image(9)[0], "sha-9", seed=1)
    assert "release tagger" not in order
