"""Structure guidance: the ControlNet and finish specs, their theme blocks, canny edges, and the pipeline's wiring
(control images made once per image and shared, units that cannot run dropped and recorded, the finishing pass)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from alien_filters.core.control import ControlSpec, FinishSpec, InvalidControlError
from alien_filters.core.edges import canny, canny_image
from alien_filters.core.pipeline import Pipeline, Stages
from alien_filters.themes.catalog import get_theme
from alien_filters.themes.parsing import ThemeError, parse_theme
from tests.support.control_doubles import CaptioningTagger, CountingImager, GuidedInpainter
from tests.support.doubles import ColourSegmenter, PaintInpainter, ResizeRestorer
from tests.support.rooms import room_image


def test_control_spec_bounds_defaults_and_merge():
    spec = ControlSpec("canny", weight=0.5)
    assert spec.model == "control_v11p_sd15_canny"
    assert spec.merged({"kind": "depth"}).model == "control_v11f1p_sd15_depth"
    assert spec.merged({"kind": "depth", "model": "mine"}).model == "mine"
    for bad in ({"weight": 2.5}, {"guidance_start": 0.6, "guidance_end": 0.5}, {"canny_low": 0},
                {"canny_low": 201}, {"weight": True}, {"canny_high": 1.5}):
        with pytest.raises(InvalidControlError):
            ControlSpec("canny", **bad)
    with pytest.raises(InvalidControlError, match="kind"):
        ControlSpec("lineart")


def test_finish_spec_bounds_and_prompt():
    spec = FinishSpec(prompt_suffix="{caption}, one green light")
    assert spec.prompt("dungeon") == "dungeon, {caption}, one green light"
    assert not spec.use_control and FinishSpec(control=ControlSpec("canny")).use_control
    with pytest.raises(InvalidControlError, match="denoising_strength"):
        FinishSpec(denoising_strength=1.5)


THEME = """\
name: guided
style_prompt: dungeon
control: {kind: canny, weight: 0.8}
finish: {denoising_strength: 0.3, steps: 4, prompt_suffix: "{caption}, one light", use_control: true}
rules:
  - {classes: [bed], prompt: a bed}
  - {classes: [window], prompt: a window, control: {guidance_end: 0.6}}
  - {classes: [table], prompt: a table, control: {kind: depth}}
  - {classes: [lamp], prompt: a lamp, control: off}
"""


def test_theme_control_blocks_inherit_override_and_switch_off():
    theme = parse_theme(THEME)
    rules = {r.name: r.control for r in theme.rules}
    assert rules["bed"] == ControlSpec("canny", weight=0.8)
    assert rules["window"] == ControlSpec("canny", weight=0.8, guidance_end=0.6)
    assert rules["table"] == ControlSpec("depth", weight=0.8)
    assert rules["lamp"] is None
    assert theme.finish == FinishSpec(0.3, 4, "{caption}, one light", ControlSpec("canny", weight=0.8))
    assert theme.hash() != parse_theme(THEME.replace("weight: 0.8", "weight: 0.9")).hash()


@pytest.mark.parametrize(("line", "message"), [
    ("control: {kind: edges}", "3: control.kind: must be one of canny, depth"),
    ("control: {kind: canny, weight: 9}", "3: control.weight: must be between 0 and 2, got 9"),
    ("control: {weight: 1}", "3: control.kind: required field is missing"),
    ("control: {kind: canny, canny_low: 250, canny_high: 10}", "3: control: canny_low (250) must not exceed"),
    ("finish: {use_control: maybe}", "3: finish.use_control: must be true or false"),
    ("finish: {steps: 0}", "3: finish.steps: must be between 1 and 150"),
])
def test_bad_control_blocks_name_line_and_field(line, message):
    with pytest.raises(ThemeError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_theme(f"name: t\n# comment\n{line}\nrules:\n  - {{classes: [bed], prompt: x}}\n")
    with pytest.raises(ThemeError, match="rules\\[0\\].control: true means the theme's control"):
        parse_theme("name: t\nrules:\n  - {classes: [bed], prompt: x, control: true}\n")


def test_alien_theme_guides_the_structural_classes_only():
    theme = get_theme("alien")
    guided = {c: r.control.kind for r in theme.rules if r.control for c in r.classes}
    for name in ("window", "door", "bed", "wardrobe"):
        assert guided[name] == "canny"
    for name in ("wall", "floor", "ceiling"):
        assert guided[name] == "depth"
    assert not {"clock", "book", "lamp", "pillow", "vase"} & set(guided)
    assert theme.finish is None  # off: keeps pixels outside the masks unchanged (see the theme's comment)


def test_canny_outlines_a_square_and_follows_the_thresholds():
    pixels = np.zeros((32, 32, 3), dtype=np.uint8)
    pixels[8:24, 8:24] = (200, 40, 40)
    edges = canny(Image.fromarray(pixels), 100, 200)
    ys, xs = np.nonzero(edges)
    assert edges.any() and ys.min() >= 7 and ys.max() <= 24 and xs.min() >= 7 and xs.max() <= 24
    assert not edges[11:21, 11:21].any()  # inside and outside are flat
    # every side of the square is one pixel thick after non-maximum suppression
    assert edges[16, :].sum() == 2 and edges[:, 16].sum() == 2
    faint = np.zeros((32, 32), dtype=np.uint8)
    faint[:, 16:] = 20  # a step of 20: Sobel gives 80
    assert canny(faint, 50, 70)[:, 15:17].any() and not canny(faint, 50, 90).any()


def test_hysteresis_keeps_weak_edges_joined_to_strong_ones():
    img = np.zeros((20, 40), dtype=np.uint8)
    img[:, 20:] = 10  # weak step, Sobel 40
    img[:10, 20:] = 60  # strong step in the top half, Sobel 240
    joined = canny(img, 30, 200)
    assert joined[2:8, 19:21].any() and joined[12:18, 19:21].any()  # the weak half is kept through the strong
    img[:10, 20:] = 10
    img[:, :3] = 0
    alone = canny(img, 30, 200)
    assert not alone.any()  # no strong pixel anywhere: weak edges alone are dropped


def test_canny_image_is_rgb_white_on_black():
    image, _ = room_image(1)
    control = canny_image(image, 100, 200)
    arr = np.asarray(control)
    assert control.mode == "RGB" and control.size == image.size
    assert set(np.unique(arr)) <= {0, 255} and (arr[..., 0] == arr[..., 2]).all() and arr.any()


def _guided_run(theme_text: str, imager=None, inpainter=None, caption=None):
    tagger = CaptioningTagger(caption=caption)
    stages = Stages(ResizeRestorer(), tagger, ColourSegmenter(), inpainter or GuidedInpainter(), imager)
    image, _ = room_image(25, n_objects=6)  # bed, window, table, lamp among them
    return stages, Pipeline(stages, parse_theme(theme_text)).run(image, "sha", seed=3)


def test_control_images_are_made_once_per_image_and_shared():
    imager = CountingImager()
    stages, result = _guided_run(THEME.replace("finish:", "# finish:"), imager)
    jobs = {job.rule: job for job in stages.inpainter.jobs}
    assert {"bed", "window"} <= set(jobs)
    assert imager.calls == [("canny", 100, 200)]  # bed and window share one canny image
    assert jobs["bed"].control_image is jobs["window"].control_image
    expected = canny_image(result.working, 100, 200)
    assert np.array_equal(np.asarray(jobs["bed"].control_image), np.asarray(expected))  # of the restored photo
    records = {job.rule: rec for job, rec in zip(result.plan.jobs, result.control.records, strict=True)}
    assert records["bed"] == {**ControlSpec("canny", weight=0.8).to_dict(), "applied": True}
    assert records["table"]["applied"] is False and records["table"]["reason"] == "no depth ControlNet here"
    assert jobs["table"].control is None and result.control.notes == ["no depth ControlNet here"]
    assert records.get("lamp") is None and result.finish is None


def test_the_control_imager_is_released_once_its_images_are_made_before_diffusion():
    imager = CountingImager()
    inpainter = GuidedInpainter()
    paint = inpainter.inpaint
    inpainter.inpaint = lambda image, job: (imager.events.append("inpaint"), paint(image, job))[1]
    _guided_run(THEME.replace("finish:", "# finish:"), imager, inpainter)
    assert imager.events[:2] == ["control image", "release"] and imager.events.count("release") == 1
    assert imager.events[2:] and set(imager.events[2:]) == {"inpaint"}


def test_units_are_dropped_and_recorded_when_the_inpainter_takes_none():
    plain = PaintInpainter()
    stages, result = _guided_run(THEME, inpainter=plain)
    assert all(job.control is None for job in plain.jobs)
    assert result.control.notes == [f"inpainter {plain.name} does not take ControlNet units"]
    assert result.finish["applied"] is False and "has no finishing pass" in result.finish["reason"]
    changed = np.any(np.asarray(result.final) != np.asarray(result.working), axis=2)
    union = np.logical_or.reduce([job.mask for job in result.plan.jobs])
    assert not (changed & ~union).any()  # no finishing pass ran: pixels outside the masks unchanged


def test_finishing_pass_runs_over_the_whole_image_with_canny_of_the_restyled_one():
    stages, result = _guided_run(THEME)
    (job,) = stages.inpainter.finished
    assert job.prompt == "dungeon, one light" and job.spec.steps == 4
    assert job.control == ControlSpec("canny", weight=0.8)
    assert result.finish["applied"] is True and result.finish["infotext"] == "finish\nSteps: 4"
    union = np.logical_or.reduce([j.mask for j in result.plan.jobs])
    changed = np.any(np.asarray(result.final) != np.asarray(result.working), axis=2)
    assert changed[~union].any()  # the finish changes pixels outside the masks too
    assert "finish" in result.timings
    stages, result = _guided_run(THEME, caption="a hotel room  with a bed")
    assert stages.inpainter.finished[0].prompt == "dungeon, a hotel room with a bed, one light"
