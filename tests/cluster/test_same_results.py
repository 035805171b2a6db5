"""``process --ray`` writes the same files as the local batch: the real command line and stage factory, with real
architectures at random weights saved where users keep them (SwinIR x2/x4, OWL-ViT + CLIP, an SD inpainting
checkpoint; boxes as masks to keep it small), tiny rooms, 2 diffusion steps. Results, previews and tags are
byte-identical; manifests differ only in timings; the report has the local batch's counts plus where each image ran.
"""

from __future__ import annotations

import json
import signal
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

pytest.importorskip("ray")

from alien_filters import cli  # noqa: E402
from alien_filters.batch.output_names import REPORT_NAME  # noqa: E402
from alien_filters.core.vocabulary import load_vocabulary  # noqa: E402
from tests.cluster.test_faults import image_outputs, same_files, write_small_rooms  # noqa: E402
from tests.support.bad_inputs import snapshot  # noqa: E402
from tests.support.builders_detectors import CLIP_DIR, OWLVIT_DIR, write_clip, write_owlvit  # noqa: E402
from tests.support.builders_diffusion import write_tiny_inpaint_checkpoint  # noqa: E402
from tests.support.builders_swinir import write_swinir  # noqa: E402


def quick_theme() -> str:
    """Every vocabulary class in one rule (random-weight detectors find random classes), 2 diffusion steps."""
    classes = ", ".join(load_vocabulary().class_names())
    return ("name: quick\ndescription: one rule and few steps, to keep the test fast\nstyle_prompt: emerald dungeon\n"
            "defaults: {steps: 2, denoising_strength: 1.0, mask_grow: 2, crop_padding: 4}\n"
            f"rules:\n  - {{classes: [{classes}], prompt: oak with ripe red apples and black notebooks}}\n")


def without_timings(manifest: dict) -> dict:
    return {key: value for key, value in manifest.items() if key not in ("timings", "created")}


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("models")
    write_owlvit(root / OWLVIT_DIR)
    write_clip(root / CLIP_DIR)
    write_swinir(root, 2)
    write_swinir(root, 4)
    return root


def command_line(tmp_path: Path, models: Path) -> list[str]:
    """Four small rooms in ``tmp_path/rooms`` and the ``process`` arguments that run the quick theme on them."""
    src = tmp_path / "rooms"
    write_small_rooms(src, 4)
    (tmp_path / "themes").mkdir()
    (tmp_path / "themes" / "quick.yaml").write_text(quick_theme())
    checkpoint = write_tiny_inpaint_checkpoint(tmp_path / "sd")
    return [str(src), "--theme", "quick", "--themes-dir", str(tmp_path / "themes"), "--models-dir", str(models),
            "--offline", "--device", "cpu", "--detector", "owlvit", "--segmenter", "boxes", "--seed", "5",
            "--short-side", "64", "--max-long-side", "96", "--checkpoint", str(checkpoint)]


def test_ray_writes_the_files_the_local_batch_writes(tmp_path, models, ray_address):
    common = command_line(tmp_path, models)
    src = tmp_path / "rooms"
    before = snapshot(src)
    previous, threads = signal.getsignal(signal.SIGINT), torch.get_num_threads()
    try:
        torch.set_num_threads(1)  # as each actor (1 CPU): CPU kernels sum floats in an order set by the threads
        assert cli.main(["process", *common, "--out", str(tmp_path / "local")]) == cli.EXIT_OK
        torch.set_num_threads(threads)
        assert cli.main(["process", *common, "--out", str(tmp_path / "ray"), "--ray", ray_address,
                         "--ray-actors", "2", "--ray-batch-size", "2"]) == cli.EXIT_OK
    finally:
        signal.signal(signal.SIGINT, previous)
        torch.set_num_threads(threads)

    local, ray_out = tmp_path / "local", tmp_path / "ray"
    same_files(ray_out, local)
    manifests = [rel for rel in image_outputs(local) if rel.endswith(".json")]
    assert len(manifests) == 4
    jobs = 0
    for rel in manifests:
        ours, theirs = (json.loads((folder / rel).read_text()) for folder in (ray_out, local))
        assert without_timings(ours) == without_timings(theirs), rel
        jobs += len(ours["plan"]["jobs"])
        assert ours["status"] == "done" and ours["models"]["inpaint"].startswith("diffusers:")
    assert jobs > 0, "no inpaint job ran: the comparison would not cover diffusion"
    report, local_report = (json.loads((folder / REPORT_NAME).read_text()) for folder in (ray_out, local))
    assert report["counts"] == local_report["counts"] == {**local_report["counts"], "done": 4}
    assert len(report["ray"]["placements"]) == 4 and report["ray"]["actors"] == 2
    assert all(p["actor_init_s"] > 0 and p["actor_ready_at"] > 0 for p in report["ray"]["placements"])
    assert snapshot(src) == before

    again = cli.main(["process", *common, "--out", str(ray_out), "--ray", ray_address])
    signal.signal(signal.SIGINT, previous)
    assert again == cli.EXIT_OK
    assert json.loads((ray_out / REPORT_NAME).read_text())["counts"]["skipped"] == 4


def test_an_actor_hands_its_images_to_the_inpainter_together(tmp_path, models, ray_address):
    """``--inpaint-images 2`` with two rows per actor call: the actor inpaints both images in shared batches, and
    each result equals the local batch's (one image at a time) up to float rounding."""
    common = [*command_line(tmp_path, models), "--inpaint-batch-size", "2"]
    previous, threads = signal.getsignal(signal.SIGINT), torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        assert cli.main(["process", *common, "--out", str(tmp_path / "local"), "--inpaint-images", "1"]) == 0
        torch.set_num_threads(threads)
        assert cli.main(["process", *common, "--out", str(tmp_path / "ray"), "--inpaint-images", "2", "--ray",
                         ray_address, "--ray-actors", "1", "--ray-batch-size", "2"]) == cli.EXIT_OK
    finally:
        signal.signal(signal.SIGINT, previous)
        torch.set_num_threads(threads)
    local, ray_out = tmp_path / "local", tmp_path / "ray"
    assert image_outputs(ray_out) == image_outputs(local)
    together = []
    for rel in image_outputs(local):
        if rel.endswith(".png"):
            ours, theirs = (np.asarray(Image.open(folder / rel), dtype=np.int16) for folder in (ray_out, local))
            assert np.abs(ours - theirs).max() <= 2, rel
        if rel.endswith(".json"):
            ours, theirs = (json.loads((folder / rel).read_text()) for folder in (ray_out, local))
            assert ours["calls"]["calls"] == theirs["calls"]["calls"] and ours["plan"] == theirs["plan"], rel
            together.append(ours["calls"]["images_together"])
    assert len(together) == 4 and 2 in together  # an actor call of two rows went to the inpainter as one group
