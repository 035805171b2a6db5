"""Result PNGs carry their text chunks (the WebUI infotext and our jobs record), written by the atomic writer."""

from __future__ import annotations

import json

import pytest
from PIL import Image

from alien_filters.batch import atomic
from alien_filters.batch.runner import BatchRunner, BatchSettings
from tests.support.doubles import DescribingInpainter


def test_write_image_writes_text_chunks_and_only_into_pngs(tmp_path):
    image = Image.new("RGB", (8, 8), "red")
    text = {"parameters": "a sofa\nSteps: 20, Seed: 1", "alien_filters": json.dumps({"prompt": "Zürich 東京"})}
    atomic.write_image(tmp_path / "out.png", image, text=text)
    with Image.open(tmp_path / "out.png") as back:
        assert {k: back.info[k] for k in text} == text  # tEXt, and iTXt for what latin-1 cannot hold
    with pytest.raises(ValueError, match=r"out\.jpg: text chunks need a PNG"):
        atomic.write_image(tmp_path / "out.jpg", image, text=text)
    assert not (tmp_path / "out.jpg").exists()


def test_batch_results_carry_the_infotext_of_their_jobs(tmp_path, rooms_dir, double_stages, alien_theme):
    double_stages.inpainter = DescribingInpainter()
    report = BatchRunner(double_stages, alien_theme, BatchSettings(out_dir=tmp_path / "out", seed=3)).run([rooms_dir])
    assert report.counts()["done"] == 4
    for outcome in report.outcomes:
        manifest = json.loads((tmp_path / "out" / outcome.outputs["manifest"]).read_text())
        with Image.open(tmp_path / "out" / outcome.outputs["result"]) as result:
            record = json.loads(result.info["alien_filters"])
            assert result.info["parameters"].startswith(record["jobs"][record["parameters_job"]]["infotext"])
        assert [job["infotext"] for job in record["jobs"]] == manifest["infotexts"]
        assert [job["rule"] for job in record["jobs"]] == [job["rule"] for job in manifest["plan"]["jobs"]]
