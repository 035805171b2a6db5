"""``python -m benchmarks.restore_sizes``: restore seconds for rooms of the seed set's sizes, against the old rule.

The seed's photos are about 250x350 and 340x250; their working size (short side 512) is 2.048x or so, just past
what a x2 model gives. The old rule ran SwinIR-L x4 whenever 2x fell short by any margin; the rule now runs the x2
model (SwinIR-M) when 2x comes within ``SCALE_TOLERANCE`` and resizes the rest. Both run here, in one process, on
the same images, with the real architectures at their real sizes (random weights, built once into the cache).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Sequence

import torch
from PIL import Image

from alien_filters.batch.atomic import write_json
from alien_filters.core.sizing import WorkingSize
from alien_filters.models.manager import ModelManager
from alien_filters.stages.restore import MODEL_NAMES, SwinIRRestorer, choose_scale

from .instrument import load_average, machine_info
from .models import ModelsSpec, ensure_models
from .run import DEFAULT_CACHE
from .scenes import write_scenes

SIZES = ((250, 350), (340, 250), (352, 256))
DEFAULT_OUT = Path(__file__).resolve().parent / "results" / "restore-sizes.json"


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.restore_sizes", description=__doc__.splitlines()[0])
    parser.add_argument("--models-cache", type=Path, default=DEFAULT_CACHE)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    folder = ensure_models(args.models_cache, "quick", ModelsSpec("real", False, "reduced"))
    manager = ModelManager(folder.models_dir, allow_download=False)
    weights = {scale: manager.ensure(name) for scale, name in MODEL_NAMES.items()}
    restorers = {"now": SwinIRRestorer(weights, "cpu"), "old rule": SwinIRRestorer(weights, "cpu", scale_tolerance=0.0)}
    rooms = write_scenes(Path(tempfile.mkdtemp(prefix="restore-rooms-")), 1, SIZES[0])
    rows = []
    for size in SIZES:
        with Image.open(next(iter(rooms))) as opened:
            room = opened.convert("RGB").resize(size, Image.LANCZOS)
        target = WorkingSize().for_image(*size)
        row: dict = {"size": list(size), "working_size": list(target)}
        for rule, restorer in restorers.items():
            start = time.perf_counter()
            restorer.restore(room, target)
            row[rule] = {"scale": choose_scale(list(weights), size, target, restorer.scale_tolerance),
                         "seconds": round(time.perf_counter() - start, 2)}
        row["speedup"] = round(row["old rule"]["seconds"] / row["now"]["seconds"], 2)
        rows.append(row)
        print(f"{size[0]}x{size[1]} -> {target[0]}x{target[1]}: now x{row['now']['scale']} {row['now']['seconds']} s, "
              f"old rule x{row['old rule']['scale']} {row['old rule']['seconds']} s ({row['speedup']}x)", flush=True)
    write_json(args.out, {"machine": machine_info("cpu"), "load_average": load_average(), "rooms": rows})
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
