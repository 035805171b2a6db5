"""Inpainting modes side by side on the same rooms: diffusion work and seconds per room.

Modes: ``per_class_crops`` (one "only masked" crop per job, the pipeline before regional calls),
``per_instance_crops`` (ADetailer's way: one crop per detected instance, with its class's prompt and settings),
``regional_d*`` (jobs merged into regional calls under the detail rule D, see ``alien_filters.core.call_groups``),
``per_instance_batch*`` (per-instance crops with same-size calls batched) and the full-image calls per instance of the
older baseline (work only; its seconds are in ``baselines.inpainting``). Work is latent pixels x denoising steps
run, summed over a room's calls, in full-image equivalents (one call over the whole working image).

``python -m benchmarks.inpaint_modes --quick`` runs the modes alone (working images resized, not restored; no tag
or segment stage) and writes ``benchmarks/results/inpaint-modes.json``; ``benchmarks.run`` runs them too.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
import time
from pathlib import Path
from typing import Any, Sequence

from PIL import Image

from alien_filters.batch.atomic import write_json
from alien_filters.core import masks as mask_ops
from alien_filters.core.call_groups import InpaintCall, batches, group_calls, work_vs_full_pass
from alien_filters.core.contracts import InpaintJob, Tags
from alien_filters.core.guidance import attach_control
from alien_filters.core.pipeline import boxes_as_masks
from alien_filters.core.planning import derive_seed, plan_jobs
from alien_filters.core.settings import InpaintSettings
from alien_filters.core.sizing import WorkingSize
from alien_filters.core.theme import Theme
from alien_filters.core.vocabulary import load_vocabulary
from alien_filters.stages.inpaint_diffusers import DiffusersInpainter

from .baselines import instances
from .recording import ImageRecord
from .scenes import scale_objects

D_VALUES = (1.0, 0.8, 0.5)
DEFAULT_D = InpaintSettings().regional_min_scale
BATCH = 4
RESULTS = Path(__file__).resolve().parent / "results" / "inpaint-modes.json"


def instance_jobs(record: ImageRecord) -> list[InpaintJob]:
    """One job per detected instance whose class got a job: the instance's part of its class mask, grown as its
    rule grows masks, cropped with the rule's padding, with the rule's prompts, settings and a seed of its own."""
    out: list[InpaintJob] = []
    for number, mask, job in instances(record):
        box = mask_ops.bounding_box(mask, job.settings.crop_padding)
        if box is not None:
            out.append(dataclasses.replace(job, index=len(out), mask=mask, box=box,
                                           seed=derive_seed(job.seed, str(number))))
    return out


def with_d(jobs: Sequence[InpaintJob], d: float) -> list[InpaintJob]:
    return [dataclasses.replace(job, settings=job.settings.merged({"regional_min_scale": d})) for job in jobs]


def modes(record: ImageRecord, side: int) -> dict[str, tuple[list[InpaintCall], int]]:
    """Mode -> (its calls on this room, batch size)."""
    size = record.working.size  # type: ignore[union-attr]
    out = {"per_class_crops": (group_calls(record.jobs, size, side, regional=False), 1),
           "per_instance_crops": (group_calls(instance_jobs(record), size, side, regional=False), 1)}
    for d in D_VALUES:
        out[f"regional_d{d:g}"] = (group_calls(with_d(record.jobs, d), size, side, regional=True), 1)
    out[f"per_instance_batch{BATCH}"] = (out["per_instance_crops"][0], BATCH)
    return out


def full_image_work(record: ImageRecord) -> float:
    """The older baseline's work: one call over the whole working image per instance."""
    size = record.working.size  # type: ignore[union-attr]
    calls = [InpaintCall((job,), (0, 0, *size), size) for job in instance_jobs(record)]
    return work_vs_full_pass(calls, size)


def compare(inpainter: DiffusersInpainter, records: Sequence[ImageRecord], log: Any = print) -> dict[str, Any]:
    """Every mode on every room, timed; the order of the modes rotates from room to room so that load from other
    processes falls on all of them alike."""
    side = inpainter.model_size()
    rows: dict[str, list[dict[str, Any]]] = {}
    for number, record in enumerate(records):
        working = record.working
        planned = modes(record, side)
        names = list(planned)
        names = names[number % len(names):] + names[: number % len(names)]
        for name in names:
            calls, batch = planned[name]
            start, cpu_start = time.perf_counter(), time.process_time()
            inpainter.inpaint_images([working], [calls], batch, lambda _: None)
            seconds, cpu = time.perf_counter() - start, time.process_time() - cpu_start
            rows.setdefault(name, []).append({
                "seconds": round(seconds, 3), "cpu_seconds": round(cpu, 3), "calls": len(calls),
                "jobs": sum(len(c.jobs) for c in calls),
                "work_vs_full_pass": round(work_vs_full_pass(calls, working.size), 4),
                "batches": [len(b) for b in batches(calls, batch)],
                "grouping": [[job.rule for job in call.jobs] for call in calls]})
            log(f"  room {number + 1}: {name}: {len(calls)} calls, work {rows[name][-1]['work_vs_full_pass']:.2f} "
                f"full passes, {seconds:.1f}s ({cpu:.1f}s CPU)")
    summary = {name: {"seconds_per_room": round(statistics.fmean(r["seconds"] for r in got), 3),
                      "cpu_seconds_per_room": round(statistics.fmean(r["cpu_seconds"] for r in got), 3),
                      "calls_per_room": statistics.fmean(r["calls"] for r in got),
                      "work_vs_full_pass": round(statistics.fmean(r["work_vs_full_pass"] for r in got), 4),
                      "per_room": got} for name, got in rows.items()}
    summary["full_image_per_instance"] = {
        "work_vs_full_pass": round(statistics.fmean(full_image_work(r) for r in records), 4),
        "note": "work only: its seconds are the inpainting baseline's naive_seconds"}
    return {**headline(summary), "modes": summary}


def headline(summary: dict[str, Any]) -> dict[str, Any]:
    """The results' keys from the per-mode summary. Speedups are ratios of process CPU seconds of the one-thread
    run (its wall seconds on an idle core); the shared machine's wall-second ratios are kept beside them."""
    default = summary[f"regional_d{DEFAULT_D:g}"]

    def ratio(name: str, basis: str, over: dict[str, Any] = default) -> float:
        return round(summary[name][basis] / over[basis], 3)

    batched = summary[f"per_instance_batch{BATCH}"]
    return {
        "inpaint_work_vs_full_pass": default["work_vs_full_pass"],
        "inpaint_speedup_vs_per_class_crops": ratio("per_class_crops", "cpu_seconds_per_room"),
        "inpaint_speedup_vs_per_instance_crops": ratio("per_instance_crops", "cpu_seconds_per_room"),
        "inpaint_speed_basis": "process CPU seconds of a one-thread run (its wall seconds on an idle core); the shared "
                               "machine's wall seconds are in inpaint_speedups_by_wall_seconds",
        "inpaint_speedups_by_wall_seconds": {
            "vs_per_class_crops": ratio("per_class_crops", "seconds_per_room"),
            "vs_per_instance_crops": ratio("per_instance_crops", "seconds_per_room"),
            "batched_vs_unbatched": ratio("per_instance_crops", "seconds_per_room", batched)},
        "inpaint_frontier": [{"d": d, "work_vs_full_pass": summary[f"regional_d{d:g}"]["work_vs_full_pass"],
                              "seconds_per_room": summary[f"regional_d{d:g}"]["seconds_per_room"],
                              "cpu_seconds_per_room": summary[f"regional_d{d:g}"]["cpu_seconds_per_room"],
                              "calls_per_room": summary[f"regional_d{d:g}"]["calls_per_room"]} for d in D_VALUES],
        "inpaint_batched_speedup_cpu": ratio("per_instance_crops", "cpu_seconds_per_room", batched),
        "default": {"regional": True, "d": DEFAULT_D, "batch_size": 1},
    }


def resized_records(theme: Theme, count: int, image_size: tuple[int, int], working: WorkingSize) -> list[ImageRecord]:
    """Generated rooms resized to the working size, masks as the known boxes, planned with ``theme``."""
    from alien_filters.core.theme import with_canonical_classes

    from .scenes import room_scene

    rules = with_canonical_classes(theme, load_vocabulary())
    out = []
    for index in range(count):
        scene = room_scene(index, image_size)
        size = working.for_image(*image_size)
        record = ImageRecord(image_size, scene.objects, working=scene.image.resize(size, Image.LANCZOS))
        record.masks = boxes_as_masks(scale_objects(scene.objects, image_size, size), size)
        record.jobs = plan_jobs(Tags(), record.masks, rules, seed=0).jobs
        out.append(record)
    return out


def readied(records: Sequence[ImageRecord], inpainter: DiffusersInpainter) -> list[ImageRecord]:
    """``records`` with their jobs readied for ``inpainter`` as the pipeline readies them (``attach_control``:
    ControlNet units it cannot run are dropped, so those jobs group as they do in a run)."""
    return [dataclasses.replace(r, jobs=attach_control(r.working, r.jobs, inpainter, None).jobs) for r in records]


def work_with_units(records: Sequence[ImageRecord], side: int, d: float = DEFAULT_D) -> float:
    """Mean regional work per room at ``d`` when the jobs keep their ControlNet units (a run with the ControlNet
    models installed: a job with a unit keeps its own call). Computed from the grouping, not run."""
    return round(statistics.fmean(
        work_vs_full_pass(group_calls(with_d(r.jobs, d), r.working.size, side, regional=True), r.working.size)
        for r in records), 4)


def diffusion_checkpoint(cache: Path, profile: str, spec: Any) -> Path:
    """The profile's diffusion checkpoint: from its full models folder when built, else built alone (the other
    models are not needed here)."""
    from .models import ModelsSpec, ensure_models

    if (cache / profile / "benchmark-models.json").is_file():
        return ensure_models(cache, profile, spec).checkpoint
    alone = f"{profile}-diffusion"
    folder = cache / alone / "checkpoints" / f"sd-inpainting-{spec.diffusion}"
    if not (folder / "model_index.json").is_file():
        if spec.diffusion != "reduced":
            return ensure_models(cache, profile, spec).checkpoint
        from .models import build_reduced_pipeline

        build_reduced_pipeline().save_pretrained(folder, safe_serialization=True)
    assert isinstance(spec, ModelsSpec)
    return folder


def canny_inpainter() -> DiffusersInpainter:
    """The reduced checkpoint with the reduced canny ControlNet of ``benchmarks.control_cost`` (other units cannot
    be had, so ``readied`` drops them)."""
    from alien_filters.core.control import ControlSpec
    from alien_filters.stages.controlnet import ControlNets

    from .control_cost import build_models
    from .run import DEFAULT_CACHE

    checkpoint, controlnet, _ = build_models(DEFAULT_CACHE, full=False)
    canny = ControlSpec("canny").model

    def locate(name: str) -> Path:
        if name != canny:
            raise OSError(f"{name}: not built for the benchmark")
        return controlnet

    return DiffusersInpainter(checkpoint, controlnets=ControlNets(locate))


def main(argv: Sequence[str] | None = None) -> int:
    import torch

    from .run import DEFAULT_CACHE, PROFILES, benchmark_theme, log

    parser = argparse.ArgumentParser(prog="python -m benchmarks.inpaint_modes", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="the reduced diffusion model (default: full size)")
    parser.add_argument("--count", type=int, default=2, help="rooms (default 2)")
    parser.add_argument("--steps", type=int, help="diffusion steps (default: the profile's)")
    parser.add_argument("--threads", type=int, help="torch CPU threads")
    parser.add_argument("--control", action="store_true",
                        help="run the theme's canny units with the reduced ControlNet of benchmarks.control_cost "
                             "(and its reduced checkpoint; --quick only); other units are dropped as unavailable")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--merge-into", type=Path, metavar="JSON",
                        help="also add the inpaint keys to this results JSON (latest.json), marked as this run's")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    profile = PROFILES["quick" if args.quick else "full"]
    theme = benchmark_theme(args.steps or profile.steps)
    planned = resized_records(theme, args.count, profile.image_size, profile.working)
    if args.control:
        if not args.quick:
            parser.error("--control needs --quick (the ControlNet is built at the reduced model's shape)")
        inpainter = canny_inpainter()
    else:
        inpainter = DiffusersInpainter(diffusion_checkpoint(DEFAULT_CACHE, profile.name, profile.models))
    _ = inpainter.pipeline
    records = readied(planned, inpainter)
    started = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    results = compare(inpainter, records, log)
    results["inpaint_work_vs_full_pass_with_control_units"] = work_with_units(planned, inpainter.model_size())
    results.update(profile=profile.name, diffusion_steps=args.steps or profile.steps, rooms=len(records),
                   control_units=sum(job.control is not None for r in records for job in r.jobs),
                   working_size=list(records[0].working.size), threads=torch.get_num_threads(), started=started,
                   command="python -m benchmarks.inpaint_modes " + " ".join(sys.argv[1:] if argv is None else argv))
    write_json(args.out, results)
    if args.merge_into is not None:
        import json

        merged = json.loads(args.merge_into.read_text(encoding="utf-8"))
        keys = [k for k in results if k.startswith("inpaint_") and k != "inpaint_speedup_vs_naive"]
        merged.update({k: results[k] for k in keys})
        merged["inpaint_modes_run"] = {"command": results["command"], "started": started, "results": str(args.out),
                                       "note": "these inpaint_* keys come from this separate run (same generated "
                                               "rooms, resized instead of restored); the rest from the run above"}
        write_json(args.merge_into, merged)
    print({k: v for k, v in results.items() if k != "modes"})
    return 0


if __name__ == "__main__":
    sys.exit(main())
