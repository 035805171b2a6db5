"""``python -m benchmarks.control_cost``: what structure guidance costs, in one process on the same rooms.

Per inpaint job, the stand-alone inpainter's call without a ControlNet unit and with one (canny), alternating
which goes first; per image, the canny preprocessor, the depth preprocessor (DPT-Hybrid) and the finishing pass
without and with its unit. The diffusion models are the benchmark's **reduced** SD1.5-inpainting (benchmarks.models:
same block structure, fewer channels) and a ControlNet of the same reduced blocks (a ControlNet is a copy of the
UNet's encoder, so its share of a step is what matters); ``--full`` builds both at SD1.5's real sizes instead. The
DPT-Hybrid has Intel/dpt-hybrid-midas's shapes (ViT-B/16 on a BiT-R50 stem, 384 pixels). All weights are random.
Results: ``benchmarks/results/control-cost.json``.
"""

from __future__ import annotations

import argparse
import statistics
import time
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Any, Callable, Sequence

import torch
from PIL import Image

from alien_filters.batch.atomic import write_json
from alien_filters.core.contracts import FinishJob, InpaintJob, Tags
from alien_filters.core.control import ControlSpec, FinishSpec
from alien_filters.core.edges import canny_image
from alien_filters.core.pipeline import boxes_as_masks
from alien_filters.core.planning import plan_jobs
from alien_filters.core.sizing import WorkingSize
from alien_filters.stages.control_images import DepthEstimator
from alien_filters.stages.controlnet import ControlNets
from alien_filters.stages.inpaint_diffusers import DiffusersInpainter
from alien_filters.themes import get_theme

from .instrument import load_average, machine_info
from .models import REDUCED_UNET, build_reduced_pipeline
from .run import DEFAULT_CACHE
from .scenes import room_scene, scale_objects

RESULTS = Path(__file__).resolve().parent / "results" / "control-cost.json"
CANNY = ControlSpec("canny", weight=1.0)


def build_models(cache: Path, full: bool) -> tuple[Path, Path, Path]:
    """The inpainting checkpoint, a ControlNet of its blocks and a DPT-Hybrid folder under ``cache`` (built once)."""
    from diffusers import ControlNetModel
    from transformers import DPTConfig, DPTForDepthEstimation, DPTImageProcessor

    root = cache / ("control-full" if full else "control-reduced")
    checkpoint, controlnet, dpt = root / "sd-inpainting", root / "controlnet-canny", root / "dpt-hybrid"
    if not (checkpoint / "model_index.json").is_file():
        if full:
            from tests.support.builders_diffusion import build_tiny_inpaint_pipeline

            build_tiny_inpaint_pipeline(full_size=True).save_pretrained(checkpoint, safe_serialization=True)
        else:
            build_reduced_pipeline().save_pretrained(checkpoint, safe_serialization=True)
    if not (controlnet / "config.json").is_file():
        blocks = {} if full else {k: v for k, v in REDUCED_UNET.items() if k not in ("sample_size", "up_block_types")}
        ControlNetModel(in_channels=4, **blocks).save_pretrained(controlnet, safe_serialization=True)
    if not (dpt / "config.json").is_file():
        config = DPTConfig(is_hybrid=True, neck_hidden_sizes=[256, 512, 768, 768], reassemble_factors=[1, 1, 1, 0.5],
                           readout_type="project", backbone_out_indices=[2, 5, 8, 11], image_size=384)
        DPTForDepthEstimation(config).eval().save_pretrained(dpt)
        DPTImageProcessor(size={"height": 384, "width": 384}, keep_aspect_ratio=False, image_mean=[0.5] * 3,
                          image_std=[0.5] * 3).save_pretrained(dpt)
    return checkpoint, controlnet, dpt


def timed(function: Callable[[], Any]) -> tuple[Any, float]:
    start = time.perf_counter()
    out = function()
    return out, time.perf_counter() - start


def room_jobs(seed: int, steps: int) -> tuple[Image.Image, list[InpaintJob]]:
    """A generated room at its working size and the alien theme's jobs for its known boxes (``steps`` each)."""
    scene = room_scene(seed)
    size = WorkingSize().for_image(*scene.image.size)
    working = scene.image.resize(size, Image.LANCZOS)
    objects = scale_objects(scene.objects, scene.image.size, size)
    plan = plan_jobs(Tags(objects=objects, styles={"modern": 1.0}), boxes_as_masks(objects, size), get_theme("alien"),
                     seed)
    return working, [replace(job, settings=job.settings.merged({"steps": steps}), control=None) for job in plan.jobs]


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.control_cost", description=__doc__.splitlines()[0])
    parser.add_argument("--models-cache", type=Path, default=DEFAULT_CACHE)
    parser.add_argument("--rooms", type=int, default=1)
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--full", action="store_true", help="SD1.5-size UNet and ControlNet (slow on a CPU)")
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    checkpoint, controlnet, dpt = build_models(args.models_cache, args.full)
    inpainter = DiffusersInpainter(checkpoint, controlnets=ControlNets(lambda name: controlnet))
    (_, load_sd) = timed(lambda: inpainter.pipeline)
    (_, load_cn) = timed(lambda: inpainter.controlnets.pipeline(inpainter.pipeline, CANNY))
    depth, load_dpt = timed(lambda: DepthEstimator.from_pretrained(dpt))
    plain, guided, canny_s, depth_s, finish_plain, finish_guided, rows = [], [], [], [], [], [], []
    for room in range(args.rooms):
        working, jobs = room_jobs(room, args.steps)
        control, seconds = timed(partial(canny_image, working, CANNY.canny_low, CANNY.canny_high))
        canny_s.append(seconds)
        depth_s.append(timed(partial(depth, working))[1])
        if room == 0:  # warm-up: first calls of each pipeline allocate
            inpainter.inpaint(working, jobs[0])
            inpainter.inpaint(working, replace(jobs[0], control=CANNY, control_image=control))
        for i, job in enumerate(jobs):
            with_unit = replace(job, control=CANNY, control_image=control)
            order = (job, with_unit) if i % 2 == 0 else (with_unit, job)
            times = {id(j): timed(partial(inpainter.inpaint, working, j))[1] for j in order}
            plain.append(times[id(job)])
            guided.append(times[id(with_unit)])
            rows.append({"room": room, "rule": job.rule, "box": list(job.box), "plain_s": round(plain[-1], 3),
                         "canny_unit_s": round(guided[-1], 3)})
        finish = FinishJob("green light", "", FinishSpec(0.25, args.steps * 4), 7.0, room)
        finish_plain.append(timed(partial(inpainter.finish, working, finish))[1])
        finish_guided.append(timed(partial(inpainter.finish, working,
                                           replace(finish, control=CANNY, control_image=control)))[1])
    ratio = statistics.median(g / p for g, p in zip(guided, plain, strict=True))
    result = {
        "profile": "full" if args.full else "reduced",
        "note": ("SD1.5-size UNet and ControlNet" if args.full else "REDUCED UNet (64-256 channels) and a ControlNet "
                 "of the same blocks: read the ratio, not the seconds"),
        "machine": machine_info("cpu"), "load_average_end": load_average(), "steps": args.steps,
        "rooms": args.rooms, "jobs": len(plain),
        "load_seconds": {"sd_inpainting": round(load_sd, 2), "controlnet": round(load_cn, 2),
                         "dpt": round(load_dpt, 2)},
        "median_job_seconds": {"plain": round(statistics.median(plain), 3),
                               "canny_unit": round(statistics.median(guided), 3)},
        "median_job_ratio_with_unit": round(ratio, 3),
        "total_job_seconds": {"plain": round(sum(plain), 2), "canny_unit": round(sum(guided), 2)},
        "per_image_seconds": {"canny_preprocessor": round(statistics.median(canny_s), 3),
                              "depth_preprocessor_dpt_hybrid": round(statistics.median(depth_s), 3),
                              "finish_plain": round(statistics.median(finish_plain), 2),
                              "finish_canny_unit": round(statistics.median(finish_guided), 2)},
        "finish_steps_run": int(args.steps * 4 * 0.25),
        "rows": rows,
    }
    write_json(args.out, result)
    job_s, image_s = result["median_job_seconds"], result["per_image_seconds"]
    print(f"{result['profile']}: per job {job_s['plain']:.2f} s plain, {job_s['canny_unit']:.2f} s with a ControlNet "
          f"unit (x{ratio:.2f}); per image canny {image_s['canny_preprocessor']:.3f} s, depth (DPT-Hybrid) "
          f"{image_s['depth_preprocessor_dpt_hybrid']:.2f} s, finish {image_s['finish_plain']:.2f} s / "
          f"{image_s['finish_canny_unit']:.2f} s with its unit")


if __name__ == "__main__":
    main()
