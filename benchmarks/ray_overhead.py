"""``python -m benchmarks.ray_overhead``: the batch on a local Ray instance (2 actors of 1 CPU, 1 torch thread each)
against the local batch (2 torch threads) on the same images, and a simulated two-node cluster.

Stages: the real architectures at random weights through the stand-alone factory, as ``process`` builds them (SwinIR
small x2/x4, tiny OWL-ViT + CLIP, boxes as masks, a tiny SD inpainting checkpoint at 2 steps); rooms of 48x64 pixels,
working size 64. Such cheap stages make any fixed cost of Ray (actor start-up: importing torch and loading the models
once per actor; scheduling; the driver's hashing) show as large a share of the wall time as it can get.

Overhead share: 1 - (seconds inside the stages, summed over images) / (workers x wall seconds); workers is 1 for the
local batch, the actor count for Ray. Ray's own start (``ray.init``) is timed apart, as a cluster already running.
Needs the stand-alone environment (requirements-standalone.txt). Results: benchmarks/results/ray-overhead.json.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Sequence

import torch

from alien_filters.batch.atomic import write_json
from alien_filters.batch.outcomes import BatchReport
from alien_filters.batch.runner import BatchRunner, BatchSettings
from alien_filters.cluster.actors import FactoryStages
from alien_filters.cluster.options import RayOptions
from alien_filters.cluster.ray_pipeline import RayBatch
from alien_filters.cluster.report import ClusterReport
from alien_filters.core.pipeline import PipelineOptions
from alien_filters.core.run_options import StageChoices
from alien_filters.core.sizing import WorkingSize
from alien_filters.core.theme import Theme
from alien_filters.themes import load_theme

from .instrument import load_average, machine_info
from .run import DEFAULT_CACHE

DEFAULT_OUT = Path(__file__).resolve().parent / "results" / "ray-overhead.json"
ROOT = Path(__file__).resolve().parents[1]
STAGES_NOTE = ("SwinIR small x2/x4, tiny OWL-ViT + CLIP, boxes as masks, tiny SD inpainting (2 steps); random weights; "
               "48x64 rooms, working size 64")


def build_models(cache: Path) -> tuple[Path, Path]:
    """The models folder and the checkpoint (built once under ``cache``)."""
    from tests.support.builders_detectors import CLIP_DIR, OWLVIT_DIR, write_clip, write_owlvit
    from tests.support.builders_diffusion import write_tiny_inpaint_checkpoint
    from tests.support.builders_swinir import write_swinir

    root = cache / "ray-overhead"
    models, done = root / "models", root / "complete"
    if not done.exists():
        write_owlvit(models / OWLVIT_DIR)
        write_clip(models / CLIP_DIR)
        write_swinir(models, 2)
        write_swinir(models, 4)
        write_tiny_inpaint_checkpoint(root / "sd")
        done.touch()
    return models, root / "sd" / "tiny-sd-inpainting"


def write_theme(folder: Path) -> Path:
    from alien_filters.core.vocabulary import load_vocabulary

    classes = ", ".join(load_vocabulary().class_names())
    path = folder / "bench.yaml"
    path.write_text("name: bench\ndescription: one rule, 2 steps\nstyle_prompt: emerald dungeon\n"
                    "defaults: {steps: 2, denoising_strength: 1.0, mask_grow: 2, crop_padding: 4}\n"
                    f"rules:\n  - {{classes: [{classes}], prompt: oak with ripe red apples and black notebooks}}\n")
    return path


def write_images(folder: Path, count: int) -> Path:
    from tests.support.rooms import room_image

    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        room_image(i, size=(48, 64), n_objects=2)[0].save(folder / f"room_{i:03d}.jpg", quality=85)
    return folder


def summarise(report: BatchReport, workers: int, images: int) -> dict[str, Any]:
    inside = sum(report.stage_seconds.values())
    wall = report.wall_seconds
    return {"wall_s": round(wall, 2), "stage_s": round(inside, 2), "images_per_s": round(images / wall, 3),
            "overhead_share": round(1 - inside / (workers * wall), 3), "counts": report.counts()}


def ray_summary(report: ClusterReport, workers: int, images: int, ended_at: float) -> dict[str, Any]:
    """As :func:`summarise`, plus the actors' start-up (imports, stage building, eager model loads: the slowest
    actor's seconds) and the overhead share from each actor's readiness to the end of the run (scheduling,
    serialisation, I/O and the idle tail, without start-up)."""
    row = summarise(report, workers, images)
    actors = {p.pid: p for p in report.placements}
    window = sum(ended_at - p.actor_ready_at for p in actors.values())
    row["actor_start_s"] = round(max(p.actor_init_s for p in actors.values()), 2)
    row["overhead_share_after_actor_start"] = round(1 - sum(report.stage_seconds.values()) / window, 3)
    return row


class TwoNodes:
    """A head and a worker node on this machine (``ray start --block``, 1 CPU each), ended by their own pids."""

    def __init__(self, port: int = 6390) -> None:
        self.address = f"127.0.0.1:{port}"
        ray = [str(Path(sys.executable).with_name("ray")), "start", "--num-cpus", "1", "--block",
               "--object-store-memory", str(200 * 2**20)]
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        self.head = subprocess.Popen([*ray, "--head", "--port", str(port), "--include-dashboard", "false"], env=env,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(15)
        self.worker = subprocess.Popen([*ray, "--address", self.address], env=env, stdout=subprocess.DEVNULL,
                                       stderr=subprocess.DEVNULL)

    def wait_for_nodes(self, ray: Any, timeout: float = 120) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            nodes = [n for n in ray.nodes() if n["Alive"]]
            if len(nodes) == 2:
                return [{"node": n["NodeID"], "cpus": n["Resources"].get("CPU")} for n in nodes]
            time.sleep(1)
        raise RuntimeError(f"the worker node did not join {self.address}")

    def stop(self) -> None:
        for proc in (self.worker, self.head):
            proc.terminate()
            proc.wait(timeout=60)
        current = Path(tempfile.gettempdir()) / "ray" / "ray_current_cluster"  # `ray start` left its address here
        if current.is_file() and current.read_text().strip().endswith(self.address.rsplit(":", 1)[1]):
            current.unlink()


def two_node_run(builder: FactoryStages, theme_path: Path, settings: BatchSettings, images: Path) -> dict[str, Any]:
    import ray

    cluster = TwoNodes()
    try:
        ray.init(address=cluster.address, include_dashboard=False)
        nodes = cluster.wait_for_nodes(ray)
        report = RayBatch(builder(), builder, load_theme(theme_path), settings,
                          RayOptions(address=cluster.address, actors=2), show_progress=False).run([images])
        ray.shutdown()
    finally:
        cluster.stop()
    per_node = {n["node"]: sum(p.node == n["node"] for p in report.placements) for n in nodes}
    return {"nodes": nodes, "images_per_node": per_node, "both_nodes_got_work": all(per_node.values()),
            "placements": [{"input": Path(p.input).name, "node": p.node, "pid": p.pid} for p in report.placements],
            **ray_summary(report, 2, len(report.placements), time.time())}


def run_once(kind: str, builder: FactoryStages, theme: Theme, options: PipelineOptions, out: Path, images: Path,
             n: int) -> dict[str, Any]:
    """One local batch (2 torch threads) or one Ray run (2 actors of 1 CPU) over ``images`` into ``out``."""
    settings = BatchSettings(out_dir=out, seed=3, options=options)
    if kind == "local":
        torch.set_num_threads(2)
        return summarise(BatchRunner(builder(), theme, settings).run([images]), 1, n)
    report = RayBatch(builder(), builder, theme, settings, RayOptions(actors=2), show_progress=False).run([images])
    return ray_summary(report, 2, n, time.time())


def medians(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """The median of each number over the rounds."""
    def med(values: list[float]) -> float:
        return round(statistics.median(values), 3)

    out: dict[str, Any] = {"throughput_ratio": med([r["throughput_ratio"] for r in rounds])}
    for kind in ("local", "ray"):
        keys = [k for k, v in rounds[0][kind].items() if isinstance(v, (int, float))]
        out[kind] = {k: med([r[kind][k] for r in rounds]) for k in keys}
    return out


def describe(runs: dict[str, Any]) -> str:
    local, ray = runs["local"], runs["ray"]
    return (f"local {local['wall_s']} s (overhead {local['overhead_share']:.1%}), ray {ray['wall_s']} s (overhead "
            f"{ray['overhead_share']:.1%}, {ray['overhead_share_after_actor_start']:.1%} after the actors' "
            f"{ray['actor_start_s']} s start), throughput ray/local {runs['throughput_ratio']}, load "
            f"{local['load_average'][0]:.1f}/{ray['load_average'][0]:.1f}")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.ray_overhead", description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[8, 64])
    parser.add_argument("--models-cache", type=Path, default=DEFAULT_CACHE)
    parser.add_argument("--rounds", type=int, default=2, help="runs of each, alternating which goes first")
    parser.add_argument("--no-two-nodes", action="store_true", help="skip the two-node simulation")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    import ray

    os.environ["PYTHONPATH"] = str(ROOT)  # the actors build the test models' tokenizer through tests.support
    models, checkpoint = build_models(args.models_cache)
    options = PipelineOptions(segment=False, working_size=WorkingSize(64, 96))
    choices = StageChoices(detector="owlvit", segmenter="boxes")
    builder = FactoryStages(choices, options, models_dir=models, device="cpu", checkpoint=checkpoint,
                            allow_download=False)
    result: dict[str, Any] = {"machine": machine_info("cpu"), "load_average_start": load_average(),
                              "stages": STAGES_NOTE, "local_threads": 2, "ray_actors": 2, "ray_threads_per_actor": 1,
                              "runs": {}}
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        theme = load_theme(write_theme(tmp))
        start = time.perf_counter()
        ray.init(address="local", num_cpus=2, include_dashboard=False)
        result["ray_init_s"] = round(time.perf_counter() - start, 2)
        for n in args.sizes:
            images = write_images(tmp / f"in{n}", n)
            rounds = []
            for turn in range(args.rounds):  # alternate which goes first: the machine's load drifts
                runs: dict[str, Any] = {}
                for kind in (("local", "ray") if turn % 2 == 0 else ("ray", "local")):
                    out = tmp / f"{kind}{n}-{turn}"
                    runs[kind] = {"load_average": load_average(),
                                  **run_once(kind, builder, theme, options, out, images, n)}
                runs["throughput_ratio"] = round(runs["ray"]["images_per_s"] / runs["local"]["images_per_s"], 3)
                rounds.append(runs)
                print(f"{n} images, round {turn + 1}: {describe(runs)}", flush=True)
            result["runs"][str(n)] = {"rounds": rounds, "median": medians(rounds)}
        ray.shutdown()
        if not args.no_two_nodes:
            settings = BatchSettings(out_dir=tmp / "two-nodes", seed=3, options=options)
            result["two_nodes"] = two_node_run(builder, tmp / "bench.yaml", settings, tmp / f"in{min(args.sizes)}")
            print(f"two nodes: images per node {result['two_nodes']['images_per_node']}", flush=True)
    result["load_average_end"] = load_average()
    largest = result["runs"][str(max(args.sizes))]["median"]
    result["targets"] = {f"overhead_at_{max(args.sizes)}_le_5pct": largest["ray"]["overhead_share"] <= 0.05,
                         f"overhead_after_actor_start_at_{max(args.sizes)}_le_5pct":
                         largest["ray"]["overhead_share_after_actor_start"] <= 0.05,
                         "throughput_ratio_ge_0.9": largest["throughput_ratio"] >= 0.9}
    write_json(args.out, result)
    print(f"written {args.out}")


if __name__ == "__main__":
    main()
