"""The benchmark (``python -m benchmarks.run``) end to end in its tiny scope, and its measuring tools.

Nothing here asserts speed: the run is checked for the results it must write, not for how fast anything was.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import pytest
import torch

from benchmarks import run as bench
from benchmarks.instrument import ForwardTimer, PeakRss
from benchmarks.scenes import LAYOUT, room_scene, scale_objects

REQUIRED = ("segmentation_speedup_vs_amg", "inpaint_speedup_vs_naive", "overhead_fraction", "model_loads_per_batch",
            "seconds_per_image", "machine", "stages", "inpaint_work_vs_full_pass", "inpaint_speedup_vs_per_class_crops",
            "inpaint_speedup_vs_per_instance_crops", "inpaint_frontier")
MODELS = {"swinir_x2", "owlvit_base", "clip_vit_b32", "sam_vit_b", "sd_inpainting"}


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, str]:
    tmp = tmp_path_factory.mktemp("bench")
    out = tmp / "results" / "latest.json"
    code = bench.main(["--tiny", "--out", str(out), "--models-cache", str(tmp / "models")])
    assert code == 0
    return json.loads(out.read_text(encoding="utf-8")), bench.format_report(json.loads(out.read_text()))


def test_tiny_run_writes_every_required_key(tiny_run):
    results, _ = tiny_run
    assert all(key in results for key in REQUIRED)
    machine = results["machine"]
    assert {"cpu", "cores", "ram_gib", "torch", "device", "load_average_start", "accelerator"} <= set(machine)
    assert machine["torch"] == torch.__version__
    assert results["profile"]["name"] == "tiny" and "TINY" in results["profile"]["note"]
    for key in ("segmentation_speedup_vs_amg", "inpaint_speedup_vs_naive", "seconds_per_image"):
        assert math.isfinite(results[key]) and results[key] > 0
    assert 0.0 <= results["overhead_fraction"] < 1.0


def test_tiny_run_has_a_row_per_stage_and_one_load_per_model(tiny_run):
    results, report = tiny_run
    assert list(results["stages"]) == ["restore", "tag", "segment", "plan", "inpaint"]
    for stage, row in results["stages"].items():
        assert row["min_s"] <= row["median_s"] <= row["max_s"], stage
        assert row["peak_rss_mib"] > 0
        assert row["outside_forward_fraction"] is None or 0.0 <= row["outside_forward_fraction"] <= 1.0
        assert stage in report
    assert results["stages"]["plan"]["outside_forward_fraction"] == 1.0  # planning runs no model
    assert results["model_loads_per_batch"] == {name: 1 for name in MODELS}
    assert results["targets"]["model_loads_per_batch"]["met"] is True


def test_tiny_run_baselines_do_the_naive_work_on_the_same_images(tiny_run):
    results, report = tiny_run
    inpainting = results["baselines"]["inpainting"]["per_image"]
    assert len(inpainting) == results["profile"]["images"] == 1
    assert inpainting[0]["naive_calls"] >= inpainting[0]["cropped_calls"] >= 1  # instances >= classes
    assert inpainting[0]["naive_pixels_per_call"] == math.prod(results["profile"]["working_size"])
    segmentation = results["baselines"]["segmentation"]
    assert segmentation["points_per_side"] == 4 and segmentation["per_image"][0]["boxes"] == len(LAYOUT)
    loading = results["baselines"]["model_loading"]
    assert len(loading["per_image_seconds"]) == 1
    assert "vs SAM automatic masks" in report and "full-image per instance" in report


def test_scenes_have_repeated_instances_inside_the_image():
    scene = room_scene(3, (352, 256))
    again = room_scene(3, (352, 256))
    assert scene.objects == again.objects and scene.image.tobytes() == again.image.tobytes()
    labels = [d.label for d in scene.objects]
    assert len(labels) >= 8 and len(set(labels)) < len(labels)
    for det in scene.objects:
        x0, y0, x1, y1 = det.box
        assert 0 <= x0 < x1 <= 352 and 0 <= y0 < y1 <= 256
    scaled = scale_objects(scene.objects, (352, 256), (704, 512))
    assert scaled[0].box == tuple(2 * v for v in scene.objects[0].box)


class _Sleeper(torch.nn.Module):
    def __init__(self, seconds: float, child: torch.nn.Module | None = None) -> None:
        super().__init__()
        self.seconds, self.child = seconds, child

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        time.sleep(self.seconds)
        return self.child(x) if self.child is not None else x


def test_forward_timer_counts_nested_modules_once_and_by_bucket():
    model = _Sleeper(0.0, _Sleeper(0.1))
    with ForwardTimer() as timer:
        timer.bucket = "a"
        model(torch.zeros(1))
        timer.bucket = "b"
        timer.wrap(lambda: model(torch.zeros(1)))()
    model(torch.zeros(1))  # hooks removed: not counted
    assert 0.1 <= timer.seconds["a"] < 0.19  # counted twice it would be >= 0.2
    assert 0.1 <= timer.seconds["b"] < 0.19
    assert timer.total() == pytest.approx(timer.seconds["a"] + timer.seconds["b"])


def test_peak_rss_sees_a_large_allocation():
    rss = PeakRss()
    rss.read_and_reset()
    block = torch.ones(64 * 2**20 // 4)  # 64 MiB
    peak = rss.read_and_reset()
    del block
    assert peak >= 64


def test_bad_counts_are_refused(tmp_path: Path):
    with pytest.raises(SystemExit, match="--count must be at least 1"):
        bench.choose_profile(bench.parse_args(["--count", "0"]))


def test_tiny_run_compares_the_inpainting_modes_on_the_same_rooms(tiny_run):
    results, report = tiny_run
    modes = results["baselines"]["inpaint_modes"]
    work = {name: row["work_vs_full_pass"] for name, row in modes.items() if name != "default"}
    assert work["per_instance_crops"] > work["per_class_crops"] > 0  # 14 instances, 9 classes
    assert work["full_image_per_instance"] > work["per_instance_crops"]
    frontier = [point["work_vs_full_pass"] for point in results["inpaint_frontier"]]
    assert [point["d"] for point in results["inpaint_frontier"]] == [1.0, 0.8, 0.5]
    assert frontier == sorted(frontier, reverse=True) and frontier[0] <= work["per_class_crops"]
    assert results["inpaint_work_vs_full_pass"] == modes[f"regional_d{modes['default']['d']:g}"]["work_vs_full_pass"]
    for name in ("per_class_crops", "per_instance_crops", "regional_d0.5"):
        assert all(row["seconds"] > 0 and row["calls"] >= 1 for row in modes[name]["per_room"])
    assert "regional D=0.5" in report
