"""``python -m benchmarks.profile_inpaint``: CPU seconds of one room's inpainting by model part (UNet steps, VAE
encode and decode, text encoder), per-class crops against regional calls at the default D, one torch thread.

Process CPU time, not wall time: the shared 2-core machine's wall seconds swing with other work. Writes
``benchmarks/results/inpaint-profile.json``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any, Callable, Sequence

from alien_filters.batch.atomic import write_json
from alien_filters.stages.inpaint_diffusers import DiffusersInpainter

from .inpaint_modes import DEFAULT_D, diffusion_checkpoint, modes, readied, resized_records

RESULTS = Path(__file__).resolve().parent / "results" / "inpaint-profile.json"


def timed(spent: dict[str, float], name: str, function: Callable[..., Any]) -> Callable[..., Any]:
    """``function`` adding its CPU seconds to ``spent[name]``."""
    def call(*args: Any, **kwargs: Any) -> Any:
        start = time.process_time()
        try:
            return function(*args, **kwargs)
        finally:
            spent[name] = spent.get(name, 0.0) + time.process_time() - start
    return call


def main(argv: Sequence[str] | None = None) -> int:
    import torch

    from .run import DEFAULT_CACHE, PROFILES, benchmark_theme

    parser = argparse.ArgumentParser(prog="python -m benchmarks.profile_inpaint", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="the reduced diffusion model (default: full size)")
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    profile = PROFILES["quick" if args.quick else "full"]
    inpainter = DiffusersInpainter(diffusion_checkpoint(DEFAULT_CACHE, profile.name, profile.models))
    record = readied(resized_records(benchmark_theme(args.steps), 1, profile.image_size, profile.working),
                     inpainter)[0]
    pipe = inpainter.pipeline
    spent: dict[str, float] = {}
    pipe.unet.forward = timed(spent, "unet", pipe.unet.forward)
    pipe.vae.encode = timed(spent, "vae_encode", pipe.vae.encode)
    pipe.vae.decode = timed(spent, "vae_decode", pipe.vae.decode)
    pipe.text_encoder.forward = timed(spent, "text_encoder", pipe.text_encoder.forward)
    planned = modes(record, inpainter.model_size())
    results: dict[str, Any] = {"profile": profile.name, "diffusion_steps": args.steps, "threads": 1}
    for name in ("per_class_crops", f"regional_d{DEFAULT_D:g}"):
        calls, _ = planned[name]
        spent.clear()
        start = time.process_time()
        inpainter.inpaint_images([record.working], [calls], 1, lambda _: None)
        total = time.process_time() - start
        results[name] = {"cpu_seconds": round(total, 2), **{k: round(v, 2) for k, v in spent.items()},
                         "other": round(total - sum(spent.values()), 2), "calls": len(calls),
                         "model_pixels": sum(c.size[0] * c.size[1] for c in calls)}
        print(name, results[name], flush=True)
    write_json(args.out, results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
