"""``python -m benchmarks.caption_speed``: caption seconds per image with BLIP at blip-image-captioning-base's size.

The real architecture at its real size (ViT-B/16 at 384 pixels, 12-layer BERT decoder, 30524-token vocabulary) with
random weights, built once into the cache, through the product's captioner (greedy decoding, at most 30 new tokens).
Random weights rarely stop early, so each caption runs to its 30 tokens; real captions are about 10 tokens, so these
seconds are an upper bound for the decoder part.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path
from typing import Sequence

import torch
from PIL import Image

from alien_filters.batch.atomic import write_json
from alien_filters.models.device import pick_device
from alien_filters.stages.captioning import BlipCaptioner

from .instrument import load_average, machine_info
from .run import DEFAULT_CACHE
from .scenes import write_scenes

DEFAULT_OUT = Path(__file__).resolve().parent / "results" / "caption-speed.json"


def blip_folder(cache: Path) -> Path:
    """The real-size random BLIP folder under ``cache`` (built on first use)."""
    from tests.support.builders_captioning import write_blip

    folder = cache / "blip-base-random"
    if not (folder / "config.json").is_file():
        write_blip(folder, tiny=False)
    return folder


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.caption_speed", description=__doc__.splitlines()[0])
    parser.add_argument("--models-cache", type=Path, default=DEFAULT_CACHE)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--images", type=int, default=4, help="images timed after one warm-up (default 4)")
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = str(pick_device(args.device))
    folder = blip_folder(args.models_cache)
    start = time.perf_counter()
    captioner = BlipCaptioner.from_pretrained(folder, device)
    load_seconds = time.perf_counter() - start
    with tempfile.TemporaryDirectory() as tmp:
        paths = write_scenes(Path(tmp), args.images + 1)
        images = [Image.open(p).convert("RGB") for p in paths]
    captioner(images[0])  # warm-up
    seconds, tokens = [], []
    for image in images[1:]:
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        start = time.perf_counter()
        caption = captioner(image)
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        seconds.append(time.perf_counter() - start)
        tokens.append(len(captioner.processor.tokenizer(caption, add_special_tokens=False)["input_ids"]))
    result = {"device": device, "machine": machine_info(device), "load_average": load_average(),
              "load_seconds": round(load_seconds, 2), "seconds_per_image": [round(s, 3) for s in seconds],
              "median_seconds": round(statistics.median(seconds), 3), "tokens_per_caption": tokens,
              "generate": captioner.generate_args}
    write_json(args.out, result)
    print(f"BLIP base size, random weights, {device}: load {load_seconds:.1f} s, caption "
          f"{statistics.median(seconds):.2f} s per image (median of {len(seconds)}; {tokens} tokens)")


if __name__ == "__main__":
    main()
