"""The WebUI infotext of results: A1111's format, which job the ``parameters`` chunk shows, and what the pipeline
collects from inpainters."""

from __future__ import annotations

import json

from alien_filters.core.contracts import InfotextInpainter
from alien_filters.core.infotext import JOBS_CHUNK, PARAMETERS_CHUNK, create_infotext, png_text, quote, with_params
from alien_filters.core.pipeline import Pipeline
from tests.support.doubles import DescribingInpainter
from tests.support.rooms import room_image


def test_infotext_has_the_webuis_form():
    text = create_infotext("a red sofa\nvelvet", "blurry", {
        "Steps": 20, "Sampler": "Euler a", "CFG scale": 7.0, "Seed": 123, "Size": "512x384", "Model hash": None,
        "Model": "sd, v1: 5", "Denoising strength": 0.75})
    assert text == ('a red sofa\nvelvet\nNegative prompt: blurry\n'
                    'Steps: 20, Sampler: Euler a, CFG scale: 7.0, Seed: 123, Size: 512x384, '
                    'Model: "sd, v1: 5", Denoising strength: 0.75')
    assert create_infotext("x", "", {"Steps": 1}) == "x\nSteps: 1"  # no negative prompt line when there is none
    assert quote("a:b") == '"a:b"' and quote("naïve\nline") == '"naïve\\nline"' and quote(3) == "3"
    assert with_params("x\nSteps: 1", {"Rule": "a, b"}) == 'x\nSteps: 1, Rule: "a, b"'


def test_pipeline_collects_each_jobs_infotext(double_stages, alien_theme):
    image, _ = room_image(5, n_objects=3)
    plain = Pipeline(double_stages, alien_theme).run(image, "sha", seed=1)
    assert len(plain.plan.jobs) == 3 and plain.infotexts == [None, None, None]
    assert isinstance(DescribingInpainter(), InfotextInpainter)
    silent = plain.plan.jobs[1].rule
    double_stages.inpainter = DescribingInpainter(silent_rule=silent)
    result = Pipeline(double_stages, alien_theme).run(image, "sha", seed=1)
    assert result.infotexts == [None if j.rule == silent else f"{j.rule}\nSteps: 1, Seed: 2" for j in result.plan.jobs]


def test_png_text_shows_the_largest_described_job_and_lists_every_job(double_stages, alien_theme):
    image, _ = room_image(5, n_objects=3)
    result = Pipeline(double_stages, alien_theme).run(image, "sha", seed=1)
    jobs = result.plan.jobs
    by_area = sorted(range(3), key=lambda i: -jobs[i].mask.mean())
    result.infotexts = [f"job {i}\nSteps: {i}, Seed: 7" if i != by_area[0] else None for i in range(3)]
    chunks = png_text(result)
    shown = jobs[by_area[1]]  # the largest one generated nothing: the next largest is shown
    assert chunks[PARAMETERS_CHUNK] == (f"job {by_area[1]}\nSteps: {by_area[1]}, Seed: 7, Alien Filters job: "
                                        f"{shown.index + 1}, Alien Filters jobs: 3, Alien Filters rule: {shown.rule}")
    record = json.loads(chunks[JOBS_CHUNK])
    assert record["format"] == "alien-filters/jobs@1" and record["parameters_job"] == shown.index
    assert [j["infotext"] for j in record["jobs"]] == result.infotexts
    assert [(j["rule"], j["seed"], j["prompt"]) for j in record["jobs"]] == [(j.rule, j.seed, j.prompt) for j in jobs]
    assert "mask" not in record["jobs"][0] and record["jobs"][0]["settings"] == jobs[0].settings.to_dict()


def test_nothing_generated_gives_no_parameters_chunk(double_stages, alien_theme):
    image, _ = room_image(5, n_objects=3)
    result = Pipeline(double_stages, alien_theme).run(image, "sha", seed=1)
    chunks = png_text(result)
    assert PARAMETERS_CHUNK not in chunks
    assert json.loads(chunks[JOBS_CHUNK])["parameters_job"] is None
