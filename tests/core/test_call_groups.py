"""Grouping jobs into diffusion calls: the detail rule D, work, schedules and batches."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from alien_filters.core.call_groups import (
    batches,
    group_calls,
    image_batches,
    merged_call,
    own_call,
    schedule_key,
    work_vs_full_pass,
)
from alien_filters.core.contracts import InpaintJob, ProgressEvent
from alien_filters.core.control import ControlSpec
from alien_filters.core.pipeline import Pipeline, PipelineOptions, Stages
from alien_filters.core.settings import InpaintSettings, InvalidSettingError
from tests.support.doubles import CallingPainter, ColourSegmenter, ColourTagger, ResizeRestorer
from tests.support.rooms import room_image

SIZE = (704, 512)
SIDE = 512


def _job(index: int, box: tuple[int, int, int, int], d: float = 0.8, **settings: object) -> InpaintJob:
    mask = np.zeros((SIZE[1], SIZE[0]), dtype=bool)
    x0, y0, x1, y1 = box
    mask[y0 + 4:y1 - 4, x0 + 4:x1 - 4] = True
    return InpaintJob(index=index, rule=f"rule{index}", classes=(f"c{index}",), mask=mask, prompt=f"prompt {index}",
                      negative_prompt="blurry", settings=InpaintSettings(regional_min_scale=d).merged(settings),
                      seed=index + 10, box=box)


def test_off_gives_todays_call_per_job():
    jobs = [_job(0, (0, 0, 300, 200)), _job(1, (20, 10, 310, 220))]
    calls = group_calls(jobs, SIZE, SIDE, regional=False)
    assert [(c.jobs, c.box, c.size) for c in calls] == [((j,), j.box, own_call(j, SIZE, SIDE).size) for j in jobs]
    assert calls[0].size == (512, 344)  # long side 512, multiples of 8


def test_heavily_overlapping_crops_share_one_call_over_their_union():
    jobs = [_job(0, (100, 100, 400, 300)), _job(1, (120, 90, 410, 310))]
    [call] = group_calls(jobs, SIZE, SIDE, regional=True)
    assert call.jobs == tuple(jobs) and call.box == (100, 90, 410, 310) and call.seed == jobs[0].seed
    assert call.work() < sum(own_call(j, SIZE, SIDE).work() for j in jobs)


@pytest.mark.parametrize("d", [0.5, 0.8, 1.0])
def test_no_job_is_rendered_below_d_times_its_own_scale(d: float):
    rng = np.random.default_rng(int(d * 10))
    jobs = []
    for i in range(8):
        x0, y0 = int(rng.integers(0, 500)), int(rng.integers(0, 350))
        w, h = int(rng.integers(40, 300)), int(rng.integers(40, 250))
        jobs.append(_job(i, (x0, y0, min(SIZE[0], x0 + w), min(SIZE[1], y0 + h)), d=d))
    calls = group_calls(jobs, SIZE, SIDE, regional=True)
    assert sorted(j.index for c in calls for j in c.jobs) == list(range(8))
    for call in calls:
        for job in call.jobs:
            assert call.scale >= d * own_call(job, SIZE, SIDE).scale - 1e-9
    assert sum(c.work() for c in calls) <= sum(own_call(j, SIZE, SIDE).work() for j in jobs)


def test_a_small_object_keeps_its_own_crop_unless_d_lets_it_lose_detail():
    big = _job(0, (0, 0, 704, 512), d=1.0)
    small = _job(1, (300, 200, 380, 280), d=1.0)  # own crop: 80 px -> 512, scale 6.4
    assert len(group_calls([big, small], SIZE, SIDE, regional=True)) == 2
    # at scale 6.4 x 0.5 = 3.2 the whole image would be 2253 px wide: beyond the largest call, so still apart
    assert merged_call([own_call(big, SIZE, SIDE), own_call(small, SIZE, SIDE)], SIZE, SIDE,
                       {0: 512 / 704, 1: 6.4}) is None
    near_a, near_b = _job(0, (0, 0, 400, 300), d=1.0), _job(1, (150, 100, 420, 320), d=1.0)
    loose_a, loose_b = _job(0, (0, 0, 400, 300), d=0.5), _job(1, (150, 100, 420, 320), d=0.5)
    strict = group_calls([near_a, near_b], SIZE, SIDE, regional=True)
    loose = group_calls([loose_a, loose_b], SIZE, SIDE, regional=True)
    assert len(loose) == 1 and sum(c.work() for c in loose) <= sum(c.work() for c in strict)


def test_only_jobs_with_the_same_schedule_merge():
    a, b = _job(0, (100, 100, 400, 300)), _job(1, (120, 90, 410, 310), steps=25)
    assert len(group_calls([a, b], SIZE, SIDE, regional=True)) == 2
    # strengths that run the same steps from the same timestep are one schedule (diffusers' rule)
    c, d = _job(0, (100, 100, 400, 300), steps=4, denoising_strength=0.8), \
        _job(1, (120, 90, 410, 310), steps=4, denoising_strength=0.9)
    assert schedule_key(c) == schedule_key(d) and len(group_calls([c, d], SIZE, SIDE, regional=True)) == 1
    e = InpaintJob(**{**vars(_job(1, (120, 90, 410, 310))), "negative_prompt": "other"})  # each region keeps its own
    assert len(group_calls([_job(0, (100, 100, 400, 300)), e], SIZE, SIDE, regional=True)) == 1
    f = _job(1, (120, 90, 410, 310), cfg_scale=5.0)
    assert len(group_calls([_job(0, (100, 100, 400, 300)), f], SIZE, SIDE, regional=True)) == 2


def test_a_call_runs_at_most_one_controlnet_unit():
    canny, depth = ControlSpec("canny"), ControlSpec("depth")
    a, b = _job(0, (100, 100, 400, 300)), _job(1, (120, 90, 410, 310))

    def calls(unit_a: ControlSpec | None, unit_b: ControlSpec | None) -> int:
        jobs = [dataclasses.replace(a, control=unit_a), dataclasses.replace(b, control=unit_b)]
        return len(group_calls(jobs, SIZE, SIDE, regional=True))

    assert calls(canny, canny) == calls(canny, None) == calls(None, None) == 1
    assert calls(canny, depth) == calls(canny, ControlSpec("canny", weight=0.5)) == 2


def test_batches_hold_calls_of_one_size_and_schedule_in_order():
    jobs = [_job(0, (0, 0, 200, 200)), _job(1, (300, 0, 500, 200)), _job(2, (0, 300, 300, 500)),
            _job(3, (400, 300, 600, 500)), _job(4, (500, 0, 700, 200), steps=10)]
    calls = group_calls(jobs, SIZE, SIDE, regional=False)
    grouped = batches(calls, 2)
    assert [[c.jobs[0].index for c in b] for b in grouped] == [[0, 1], [2], [3], [4]]
    assert [[c.jobs[0].index for c in b] for b in batches(calls, 1)] == [[0], [1], [2], [3], [4]]
    with pytest.raises(ValueError):
        batches(calls, 0)


def test_images_share_batches_but_each_keeps_its_own_batches_in_order():
    first = group_calls([_job(0, (0, 0, 200, 200)), _job(1, (300, 0, 500, 200)), _job(2, (0, 300, 300, 500))],
                        SIZE, SIDE, regional=False)
    second = group_calls([_job(0, (400, 0, 600, 200))], SIZE, SIDE, regional=False)  # first's jobs 0 and 1's size
    third = group_calls([_job(0, (300, 300, 600, 500))], SIZE, SIDE, regional=False)  # first's job 2's size

    def handed(batch_size: int) -> list[list[tuple[int, int]]]:
        return [[(number, call.jobs[0].index) for number, call in batch]
                for batch in image_batches([first, second, third], batch_size)]

    assert handed(3) == [[(0, 0), (0, 1), (1, 0)], [(0, 2), (2, 0)]]
    assert handed(2) == [[(0, 0), (0, 1)], [(0, 2), (2, 0)], [(1, 0)]]  # a full batch takes no one along
    assert handed(1) == [[(0, 0)], [(0, 1)], [(0, 2)], [(1, 0)], [(2, 0)]]
    for batch_size in (1, 2, 3):  # every image gets exactly the batches it gets alone, in the same order
        for number, calls in enumerate((first, second, third)):
            own = [[call for n, call in batch if n == number] for batch in image_batches([first, second, third],
                                                                                          batch_size)]
            assert [b for b in own if b] == batches(calls, batch_size)
    guided = [dataclasses.replace(call, jobs=(dataclasses.replace(call.jobs[0], control=ControlSpec("canny")),))
              for call in second]
    assert [[n for n, _ in batch] for batch in image_batches([first, guided], 3)] == [[0, 0], [0], [1]]


def test_work_in_full_image_equivalents():
    whole = _job(0, (0, 0, 704, 512), steps=20, denoising_strength=0.75)
    call = own_call(whole, SIZE, SIDE)  # 704x512 -> 512x376: 64 x 47 latents over 88 x 64, same steps
    assert call.size == (512, 376) and work_vs_full_pass([call], SIZE) == pytest.approx(64 * 47 / (88 * 64))
    assert work_vs_full_pass([], SIZE) == 0.0


def test_d_is_a_bounded_setting():
    with pytest.raises(InvalidSettingError, match="regional_min_scale"):
        InpaintSettings(regional_min_scale=0.4)
    assert InpaintSettings().regional_min_scale == 0.5


@pytest.mark.parametrize(("theme_regional", "option", "merged"), [
    (True, None, True), (False, None, False), (True, False, False), (False, True, True)])
def test_the_pipeline_groups_jobs_as_the_theme_or_the_run_says(alien_theme, theme_regional, option, merged):
    image = room_image(4, size=(320, 240), n_objects=6)[0]
    theme = dataclasses.replace(alien_theme, regional=theme_regional)
    painter = CallingPainter()
    events: list[ProgressEvent] = []
    options = PipelineOptions(regional=option, inpaint_batch_size=0 if option is None else 2)
    result = Pipeline(Stages(ResizeRestorer(), ColourTagger(), ColourSegmenter(), painter), theme, options,
                      progress=events.append).run(image, "sha", seed=1)
    [(grouping, batch_size)] = painter.handed
    jobs = [job.index for job in result.plan.jobs]
    assert sorted(i for call in grouping for i in call) == jobs and len(jobs) >= 3
    assert batch_size == (3 if option is None else 2)
    assert (len(grouping) < len(jobs)) is merged and result.calls["regional"] is merged
    assert [call["jobs"] for call in result.calls["calls"]] == grouping
    assert result.infotexts == [f"{job.rule}\nSteps: 1" for job in result.plan.jobs]
    assert sorted(e.index for e in events if e.kind == "job") == jobs
