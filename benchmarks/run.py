"""``python -m benchmarks.run``: every stage timed on real architectures (random weights), against the naive way.

Runs the batch runner (the command line's path: outputs, previews, manifests) over generated hotel rooms, or a
folder, then, in the same process on the same images, the baselines: SAM automatic masks against one embedding
plus box prompts, one full-image inpaint per instance against one cropped inpaint per class, and every model
loaded per image against once per batch. Prints a table and ratios; writes a results JSON.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import shlex
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import torch
from PIL import Image

from alien_filters.batch.atomic import write_json
from alien_filters.batch.discovery import discover
from alien_filters.batch.runner import BatchRunner, BatchSettings
from alien_filters.core.compositing import clamp_box, model_size
from alien_filters.core.contracts import ProgressEvent
from alien_filters.core.pipeline import STAGE_NAMES, PipelineOptions, Stages
from alien_filters.core.run_options import StageChoices
from alien_filters.core.sizing import WorkingSize
from alien_filters.core.theme import Theme
from alien_filters.models.device import pick_device
from alien_filters.stages.factory import build_stages, make_manager
from alien_filters.stages.restore import choose_scale
from alien_filters.themes import get_theme

from . import baselines, inpaint_modes
from .instrument import ForwardTimer, PeakRss, load_average, machine_info
from .models import ModelsFolder, ModelsSpec, ensure_models
from .recording import BoxClippedSegmenter, ImageRecord, KnownObjectsTagger, Recorder, recording_inpainter
from .scenes import layout_objects, write_scenes

DEFAULT_OUT = Path(__file__).resolve().parent / "results" / "latest.json"
DEFAULT_CACHE = Path.home() / ".cache" / "alien-filters" / "benchmark-models"


@dataclass(frozen=True)
class Profile:
    """A benchmark scope: images, model sizes, steps and the automatic-mask baseline's grid."""

    name: str
    images: int
    image_size: tuple[int, int]
    models: ModelsSpec
    working: WorkingSize
    steps: int
    amg_points: int
    amg_images: int
    note: str


PROFILES = {
    "full": Profile("full", 3, (352, 256), ModelsSpec("real", False, "full"), WorkingSize(), steps=8, amg_points=32,
                    amg_images=3, note="every model at its real size (SD1.5-inpainting UNet, VAE, text encoder)"),
    "quick": Profile("quick", 2, (352, 256), ModelsSpec("real", False, "reduced"), WorkingSize(), steps=4,
                     amg_points=32, amg_images=1,
                     note="REDUCED diffusion model: SD1.5-inpainting's block structure with fewer channels, layers "
                          "and heads (UNet 64-256 channels, VAE 32-128, 4-layer text encoder); every other model "
                          "at its real size"),
    "tiny": Profile("tiny", 1, (88, 64), ModelsSpec("small", True, "tiny"), WorkingSize(128, 256), steps=2,
                    amg_points=4, amg_images=1,
                    note="TINY smoke-test models (SwinIR, OWL-ViT, CLIP, SD all tiny; SAM vit_b real): numbers mean "
                         "nothing, only that the benchmark runs"),
}


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=Path, help="a folder of images (default: generated hotel rooms)")
    scope = parser.add_mutually_exclusive_group()
    scope.add_argument("--quick", action="store_true", help=f"quick scope: {PROFILES['quick'].note}")
    scope.add_argument("--tiny", action="store_true", help="smoke-test scope (tiny models, 1 image)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"results JSON (default: {DEFAULT_OUT})")
    parser.add_argument("--models-cache", type=Path, default=DEFAULT_CACHE,
                        help=f"where the random-weight models are built once and reused (default: {DEFAULT_CACHE})")
    parser.add_argument("--count", type=int, help="number of images (default: per scope)")
    parser.add_argument("--steps", type=int, help="diffusion steps before denoising strength (default: per scope)")
    parser.add_argument("--amg-points", type=int, help="automatic-mask baseline: points per side (default: 32)")
    parser.add_argument("--amg-images", type=int, help="automatic-mask baseline: on how many images")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps")
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    return parser.parse_args(argv)


def choose_profile(args: argparse.Namespace) -> Profile:
    profile = PROFILES["quick" if args.quick else "tiny" if args.tiny else "full"]
    overrides = {"images": ("--count", args.count), "steps": ("--steps", args.steps),
                 "amg_points": ("--amg-points", args.amg_points), "amg_images": ("--amg-images", args.amg_images)}
    for option, value in overrides.values():
        if value is not None and value < 1:
            raise SystemExit(f"error: {option} must be at least 1, got {value}")
    return dataclasses.replace(profile, **{k: v for k, (_, v) in overrides.items() if v is not None})


def collect_images(args: argparse.Namespace, profile: Profile, work: Path) -> tuple[Path, dict[str, ImageRecord]]:
    """The input folder and, per image path, its known objects."""
    if args.images is None:
        written = write_scenes(work / "images", profile.images, profile.image_size)
        records = {str(path): ImageRecord(profile.image_size, objects) for path, objects in written.items()}
        return work / "images", records
    if not args.images.is_dir():
        raise SystemExit(f"error: {args.images}: not a folder of images")
    items, problems = discover([args.images])
    for problem in problems:
        print(f"warning: {problem.path}: {problem.problem}", file=sys.stderr)
    records = {}
    for item in items[: profile.images]:
        try:
            with Image.open(item.path) as image:
                size = image.size
        except OSError as exc:
            raise SystemExit(f"error: {item.path}: cannot read image ({exc})") from None
        records[str(item.path)] = ImageRecord(size, layout_objects(*size))
    if not records:
        raise SystemExit(f"error: {args.images}: no images found")
    return args.images, records


def benchmark_theme(steps: int) -> Theme:
    """The reference theme (alien) with ``steps`` diffusion steps for every rule."""
    theme = get_theme("alien")
    return dataclasses.replace(theme, defaults=theme.defaults.merged({"steps": steps}))


class Loader:
    """Builds the stand-alone stages from the models folder and loads every model, timing each stage's loads."""

    def __init__(self, models: ModelsFolder, options: PipelineOptions, device: str,
                 sizes: list[tuple[tuple[int, int], tuple[int, int]]]) -> None:
        self.models = models
        self.options = options
        self.device = device
        self.sizes = sizes
        """(image size, working size) per image: which SwinIR scales the batch needs."""

    def load(self) -> tuple[Stages, Any, dict[str, float]]:
        """Fresh stages with every model loaded, their manager, and load seconds per stage."""
        seconds: dict[str, float] = {}
        manager = make_manager(self.models.models_dir, allow_download=False)
        start = time.perf_counter()
        stages = build_stages(StageChoices(detector="owlvit"), self.options, device=self.device,
                              checkpoint=self.models.checkpoint, manager=manager)
        seconds["tag"] = time.perf_counter() - start  # OWL-ViT and CLIP load here; the others lazily
        start = time.perf_counter()
        stages.segmenter.load()
        seconds["segment"] = time.perf_counter() - start
        start = time.perf_counter()
        _ = stages.inpainter.pipeline
        seconds["inpaint"] = time.perf_counter() - start
        start = time.perf_counter()
        scales = {choose_scale(list(stages.restorer.weights), size, target) for size, target in self.sizes}
        for scale in sorted(s for s in scales if s is not None):  # a 16 px image loads the model that scale needs
            stages.restorer.restore(Image.new("RGB", (16, 16)), (16 * scale, 16 * scale))
        seconds["restore"] = time.perf_counter() - start
        return stages, manager, seconds


def run(args: argparse.Namespace) -> dict[str, Any]:
    profile = choose_profile(args)
    if args.threads is not None:
        if args.threads < 1:
            raise SystemExit(f"error: --threads must be at least 1, got {args.threads}")
        torch.set_num_threads(args.threads)
    device = str(pick_device(args.device))
    started = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    load_before = load_average()
    log(f"profile {profile.name}: {profile.note}")
    models = ensure_models(args.models_cache, profile.name, profile.models)
    log(f"models folder {models.models_dir}" + (f" (built in {models.build_seconds:.0f}s)" if models.build_seconds
                                                 else " (cached)"))
    options = PipelineOptions(working_size=profile.working)
    theme = benchmark_theme(profile.steps)
    with tempfile.TemporaryDirectory(prefix="alien-bench-") as tmp:
        work = Path(tmp)
        images_dir, records = collect_images(args, profile, work)
        sizes = [(r.original_size, profile.working.for_image(*r.original_size)) for r in records.values()]
        loader = Loader(models, options, device, sizes)
        stages, manager, load_seconds = loader.load()
        log("loaded: " + ", ".join(f"{k} {v:.1f}s" for k, v in load_seconds.items()))
        with ForwardTimer() as timer:
            sam = stages.segmenter.model
            sam.postprocess_masks = timer.wrap(sam.postprocess_masks)  # SAM's mask upscaling is model work
            batch = run_batch(stages, manager, theme, options, images_dir, records, work / "out", timer,
                              profile.images)
            log("baselines: SAM automatic masks")
            segmentation = segmentation_baseline(stages, records, batch, profile, timer)
            log("baselines: one full-image inpaint per instance")
            inpainting = inpaint_baseline(stages, records, batch, timer)
            log("inpainting modes: per-class crops, per-instance crops, regional calls, batches")
            timer.bucket = "baselines/inpaint_modes"
            modes = inpaint_modes.compare(stages.inpainter, list(records.values()), log)
        log("baselines: every model loaded again for each image")
        per_image_loads = baselines.per_image_load_seconds(lambda: loader.load(), len(records))
    once = sum(load_seconds.values())
    loads = {
        "once_per_batch_seconds": round(once, 3),
        "per_image_seconds": [round(s, 3) for s in per_image_loads],
        "batch_seconds_loading_once": round(batch["wall"] + once, 3),
        "batch_seconds_loading_per_image": round(batch["wall"] + sum(per_image_loads), 3),
    }
    loads["speedup"] = round(loads["batch_seconds_loading_per_image"] / loads["batch_seconds_loading_once"], 3)
    counts = batch["loads"]
    results = {
        "segmentation_speedup_vs_amg": segmentation["speedup"],
        "inpaint_speedup_vs_naive": inpainting["speedup"],
        **{key: modes[key] for key in ("inpaint_work_vs_full_pass", "inpaint_speedup_vs_per_class_crops",
                                       "inpaint_speedup_vs_per_instance_crops", "inpaint_frontier",
                                       "inpaint_batched_speedup_cpu", "inpaint_speed_basis",
                                       "inpaint_speedups_by_wall_seconds")},
        "overhead_fraction": batch["overhead_fraction"],
        "model_loads_per_batch": counts,
        "seconds_per_image": round(batch["wall"] / len(records), 3),
        "machine": {**machine_info(device), "load_average_start": load_before, "load_average_end": load_average(),
                    "accelerator": "GPU" if device.startswith("cuda") else f"none ({device} only; no GPU in this run)"},
        "stages": stage_table(batch, load_seconds),
        "baselines": {"segmentation": segmentation, "inpainting": inpainting, "model_loading": loads,
                      "inpaint_modes": {"default": modes["default"], **modes["modes"]}},
        "targets": {
            "segmentation_speedup_vs_amg": target(segmentation["speedup"], ">=", 10.0),
            "inpaint_speedup_vs_naive": target(inpainting["speedup"], ">=", 3.0),
            "inpaint_work_vs_full_pass": target(modes["inpaint_work_vs_full_pass"], "<=", 2.0),
            "inpaint_speedup_vs_per_class_crops": target(modes["inpaint_speedup_vs_per_class_crops"], ">=", 1.6),
            "inpaint_speedup_vs_per_instance_crops": target(modes["inpaint_speedup_vs_per_instance_crops"], ">=",
                                                            2.5),
            "overhead_fraction": target(batch["overhead_fraction"], "<=", 0.05),
            "model_loads_per_batch": {"target": "1 per model", "value": counts,
                                      "met": all(v == 1 for v in counts.values())},
        },
        "profile": {"name": profile.name, "note": profile.note, "images": len(records),
                    "image_size": list(next(iter(records.values())).original_size),
                    "working_size": list(sizes[0][1]), "theme": theme.name, "diffusion_steps": profile.steps,
                    "amg_points_per_side": profile.amg_points, "amg_images": segmentation["images"],
                    "images_source": str(args.images) if args.images else "generated hotel rooms (benchmarks/scenes)",
                    "detections": "the rooms' known objects (14 instances of 9 classes per image); the random-weight "
                                  "OWL-ViT, CLIP and SAM run in full on every image, but their output is noise, so "
                                  "the downstream stages get the known boxes and box-shaped class masks"},
        "gpu_mib_held_at_inpaint_start": batch["gpu_mib_held_at_inpaint_start"],
        "seconds_per_image_with_loads": round((batch["wall"] + once) / len(records), 3),
        "models_build_seconds": round(models.build_seconds, 1),
        "started": started,
        "command": "python -m benchmarks.run " + " ".join(shlex.quote(a) for a in sys.argv[1:]),
    }
    return results


def run_batch(stages: Stages, manager: Any, theme: Theme, options: PipelineOptions, images_dir: Path,
              records: dict[str, ImageRecord], out_dir: Path, timer: ForwardTimer, limit: int) -> dict[str, Any]:
    """The batch through BatchRunner with recording stages; per-image stage seconds, model time, peak RSS."""
    recorder = Recorder(records)
    wrapped = Stages(restorer=stages.restorer, tagger=KnownObjectsTagger(stages.tagger, recorder),
                     segmenter=BoxClippedSegmenter(stages.segmenter, recorder),
                     inpainter=recording_inpainter(stages.inpainter, recorder))
    rss = PeakRss()
    peaks: dict[str, float] = {}
    held: dict[str, list[Any]] = {}
    state = {"label": "io", "image": -1}
    gpu_at_inpaint: list[float] = []
    """GPU memory that models hold when diffusion starts (what the earlier stages failed to offload)."""

    def sink(event: ProgressEvent) -> None:
        if event.kind not in ("image", "stage"):
            return
        peaks[state["label"]] = max(peaks.get(state["label"], 0.0), rss.read_and_reset())
        if event.kind == "image":
            recorder.current, state["image"], state["label"] = event.text, event.index, "io"
            note_models(stages, held)
            log(f"image {event.index + 1}/{event.total}: {Path(event.text).name}")
        else:
            state["label"] = event.text
            if event.text == "inpaint" and torch.cuda.is_available():
                gpu_at_inpaint.append(torch.cuda.memory_allocated() / 2**20)
        timer.bucket = f"{state['image']}/{state['label']}"

    timer.seconds.clear()
    runner = BatchRunner(wrapped, theme, BatchSettings(out_dir=out_dir, seed=0, options=options, limit=limit,
                                                       inpaint_images=1),
                         progress=sink)
    report = runner.run([images_dir])
    peaks[state["label"]] = max(peaks.get(state["label"], 0.0), rss.read_and_reset())
    timer.bucket = "baselines"
    note_models(stages, held)
    if report.failures():
        raise SystemExit("error: the batch failed: " + "; ".join(f"{p}: {r}" for p, r in report.failures()))
    per_image: list[dict[str, float]] = []
    for index, outcome in enumerate(report.outcomes):
        manifest = json.loads((out_dir / outcome.outputs["manifest"]).read_text(encoding="utf-8"))
        timings = manifest["timings"]
        per_image.append({"path": outcome.input, "seconds": outcome.seconds, "jobs": len(manifest["plan"]["jobs"]),
                          **{s: timings.get(s, 0.0) for s in STAGE_NAMES},
                          **{f"forward_{s}": timer.seconds.get(f"{index}/{s}", 0.0) for s in STAGE_NAMES}})
    forward = timer.total()
    return {
        "wall": report.wall_seconds,
        "forward": forward,
        "overhead_fraction": round(1.0 - forward / report.wall_seconds, 4),
        "per_image": per_image,
        "peak_rss_mib": {k: round(v, 1) for k, v in peaks.items()},
        "rss_resettable": rss.resettable,
        "loads": count_loads(dict(manager.load_count), held),
        "gpu_mib_held_at_inpaint_start": [round(v, 1) for v in gpu_at_inpaint] or None,
    }


MODEL_HOLDERS = {
    "owlvit_base": lambda s: s.tagger.detector.model,
    "clip_vit_b32": lambda s: s.tagger.style_scorer.model,
    "sam_vit_b": lambda s: s.segmenter.model,
    "sd_inpainting": lambda s: s.inpainter.pipeline,
}


def note_models(stages: Stages, held: dict[str, list[Any]]) -> None:
    """Keep each model object the stages hold now; a model loaded again shows up as a second object."""
    for name, get in MODEL_HOLDERS.items():
        model = get(stages)
        seen = held.setdefault(name, [])
        if not any(model is other for other in seen):
            seen.append(model)


def count_loads(recorded: dict[str, int], held: dict[str, list[Any]]) -> dict[str, int]:
    """Loads per model: the manager's count (SwinIR counts real loads) or distinct model objects, the larger."""
    names = sorted(set(recorded) | set(held))
    return {name: max(recorded.get(name, 0), len(held.get(name, []))) for name in names}


def segmentation_baseline(stages: Stages, records: dict[str, ImageRecord], batch: dict[str, Any], profile: Profile,
                          timer: ForwardTimer) -> dict[str, Any]:
    """SAM automatic masks + CLIP labels against box-prompted segmentation, timed back to back on each image
    (other processes' load changes over minutes; the batch's own segment time is kept beside it)."""
    rows = []
    for index, record in enumerate(list(records.values())[: profile.amg_images]):
        timer.bucket = "baselines/amg"
        ours = baselines.boxes_seconds(stages.segmenter, record.working, record)
        seconds, classes = baselines.amg_seconds(stages.segmenter, record.working, profile.amg_points)
        rows.append({"amg_seconds": round(seconds, 3), "amg_classes": classes, "boxes_seconds": round(ours, 3),
                     "boxes_seconds_in_batch": round(batch["per_image"][index]["segment"], 3),
                     "boxes": len(record.objects), "detector_found": record.detected})
        log(f"  image {index + 1}: automatic masks {seconds:.1f}s, boxes {ours:.1f}s")
    amg, ours = sum(r["amg_seconds"] for r in rows), sum(r["boxes_seconds"] for r in rows)
    return {"speedup": round(amg / ours, 3), "images": len(rows), "points_per_side": profile.amg_points,
            "amg_seconds_total": round(amg, 3), "boxes_seconds_total": round(ours, 3), "per_image": rows}


def inpaint_baseline(stages: Stages, records: dict[str, ImageRecord], batch: dict[str, Any],
                     timer: ForwardTimer) -> dict[str, Any]:
    """One full-image inpaint per instance against one cropped inpaint per job, timed back to back on each image
    with the calls of both ways alternating (the batch's own inpaint time is kept beside it)."""
    pipe = stages.inpainter.pipeline
    side = stages.inpainter.model_size()
    rows = []
    for index, record in enumerate(records.values()):
        timer.bucket = "baselines/inpaint"
        both = baselines.compare_inpainting(stages.inpainter, pipe, record)
        crop_pixels = [w * h for w, h in (model_size(b[2] - b[0], b[3] - b[1], 8, side) for b in
                                          (clamp_box(j.box, *record.working.size) for j in record.jobs))]
        rows.append({"naive_seconds": round(both.naive_seconds, 3), "naive_calls": both.naive_calls,
                     "naive_pixels_per_call": both.pixels_per_call, "cropped_seconds": round(both.cropped_seconds, 3),
                     "cropped_seconds_in_batch": round(batch["per_image"][index]["inpaint"], 3),
                     "cropped_calls": both.cropped_calls,
                     "cropped_mean_pixels_per_call": round(statistics.fmean(crop_pixels)) if crop_pixels else 0})
        log(f"  image {index + 1}: {both.naive_calls} full-image inpaints {both.naive_seconds:.1f}s, "
            f"{both.cropped_calls} cropped {both.cropped_seconds:.1f}s")
    naive_total, ours_total = sum(r["naive_seconds"] for r in rows), sum(r["cropped_seconds"] for r in rows)
    return {"speedup": round(naive_total / ours_total, 3), "naive_seconds_total": round(naive_total, 3),
            "cropped_seconds_total": round(ours_total, 3), "per_image": rows}


def stage_table(batch: dict[str, Any], load_seconds: dict[str, float]) -> dict[str, dict[str, Any]]:
    """Per stage: seconds per image (median, min, max), load seconds, peak RSS and the share outside forwards."""
    table = {}
    for stage in STAGE_NAMES:
        seconds = [row[stage] for row in batch["per_image"]]
        forward = sum(row[f"forward_{stage}"] for row in batch["per_image"])
        total = sum(seconds)
        table[stage] = {
            "median_s": round(statistics.median(seconds), 3), "min_s": round(min(seconds), 3),
            "max_s": round(max(seconds), 3), "load_s": round(load_seconds.get(stage, 0.0), 3),
            "peak_rss_mib": batch["peak_rss_mib"].get(stage),
            "outside_forward_fraction": round(1.0 - forward / total, 4) if total > 0 else None,
        }
    return table


def target(value: float, op: str, bound: float) -> dict[str, Any]:
    met = value >= bound if op == ">=" else value <= bound
    return {"target": f"{op} {bound}", "value": value, "met": met}


def format_report(results: dict[str, Any]) -> str:
    """The table and the ratios, as printed."""
    m, p = results["machine"], results["profile"]
    lines = [f"Alien Filters benchmark, profile {p['name']}: {p['note']}",
             f"machine: {m['cpu']}, {m['cores']} cores, {m['ram_gib']} GiB RAM, torch {m['torch']}, device "
             f"{m['device']} ({m['accelerator']}); load average {m['load_average_start']} -> {m['load_average_end']}",
             f"{p['images']} images {p['image_size'][0]}x{p['image_size'][1]} -> working "
             f"{p['working_size'][0]}x{p['working_size'][1]}, theme {p['theme']}, {p['diffusion_steps']} steps; "
             f"objects: {p['detections']}",
             "",
             f"{'stage':<9}{'median s':>10}{'min s':>9}{'max s':>9}{'load s':>9}{'peak RSS MiB':>14}"
             f"{'outside forward':>17}"]
    for stage, row in results["stages"].items():
        outside = "-" if row["outside_forward_fraction"] is None else f"{row['outside_forward_fraction']:.1%}"
        rss = "-" if row["peak_rss_mib"] is None else f"{row['peak_rss_mib']:.0f}"
        lines.append(f"{stage:<9}{row['median_s']:>10.2f}{row['min_s']:>9.2f}{row['max_s']:>9.2f}"
                     f"{row['load_s']:>9.2f}{rss:>14}{outside:>17}")
    lines.append(f"seconds per image {results['seconds_per_image']:.1f} (with one-time loads "
                 f"{results['seconds_per_image_with_loads']:.1f})")
    lines.append("")
    names = {"segmentation_speedup_vs_amg": "segmentation vs SAM automatic masks",
             "inpaint_speedup_vs_naive": "cropped inpaint per class vs full-image per instance",
             "overhead_fraction": "time outside model forward passes",
             "inpaint_work_vs_full_pass": "diffusion work, full-image equivalents (regional, default D)",
             "inpaint_speedup_vs_per_class_crops": "regional calls vs per-class crops (inpaint seconds)",
             "inpaint_speedup_vs_per_instance_crops": "regional calls vs per-instance crops (ADetailer's way)"}
    for key, label in names.items():
        t = results["targets"][key]
        value = f"{t['value']:.1%}" if key == "overhead_fraction" else f"{t['value']:.2f}" \
            if key == "inpaint_work_vs_full_pass" else f"{t['value']:.2f}x"
        lines.append(f"{label:<55}{value:>9}  target {t['target']:<7} {'met' if t['met'] else 'MISSED'}")
    for point in results["inpaint_frontier"]:
        lines.append(f"  regional D={point['d']:g}: {point['work_vs_full_pass']:.2f} full-image equivalents, "
                     f"{point['calls_per_room']:.1f} calls, {point['seconds_per_room']:.1f}s per room")
    by_mode = results["baselines"]["inpaint_modes"]
    lines.append("  " + ", ".join(f"{name} {row['work_vs_full_pass']:.2f}" for name, row in by_mode.items()
                                  if name != "default") + " (work, full-image equivalents)")
    seg, inp = results["baselines"]["segmentation"], results["baselines"]["inpainting"]
    lines.append(f"  (automatic masks: {seg['points_per_side']}x{seg['points_per_side']} points on {seg['images']} "
                 f"image(s); inpaint calls {sum(r['naive_calls'] for r in inp['per_image'])} full-image vs "
                 f"{sum(r['cropped_calls'] for r in inp['per_image'])} cropped)")
    loads = results["baselines"]["model_loading"]
    lines.append(f"{'models loaded once per batch vs per image':<55}{loads['speedup']:>8.2f}x  "
                 f"({loads['batch_seconds_loading_per_image']:.0f}s vs {loads['batch_seconds_loading_once']:.0f}s)")
    t = results["targets"]["model_loads_per_batch"]
    lines.append(f"{'model loads per batch':<55}{'met' if t['met'] else 'MISSED':>9}  {t['value']}")
    return "\n".join(lines)


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    results = run(args)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    write_json(args.out, results)
    print(format_report(results))
    print(f"results written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
