"""``python -m benchmarks.profile_sam``: where SAM's image encoder spends its time, upstream against fused.

Builds a random-weight SAM image encoder at its real size, times each block's attention and MLP (split into
windowed and global blocks) with forward hooks over one 1024x1024 embedding, first with segment-anything's own
attention, then with :mod:`alien_filters.sam_attention`; prints both profiles and the speedup.
"""

from __future__ import annotations

import argparse
import time
from collections import defaultdict
from typing import Any, Sequence

import torch
from segment_anything import sam_model_registry

from alien_filters.stages.sam_attention import use_fused_attention


def profile_encoder(encoder: torch.nn.Module, repeats: int) -> tuple[float, dict[str, float]]:
    """Median seconds of one encoder pass and, from the median pass, seconds per part ('global attention'...)."""
    parts: dict[str, float] = defaultdict(float)
    starts: dict[str, float] = {}

    def hooks(part: str) -> tuple[Any, Any]:
        def enter(*_: Any) -> None:
            starts[part] = time.perf_counter()

        def leave(*_: Any) -> None:
            parts[part] += time.perf_counter() - starts[part]

        return enter, leave

    handles = []
    for block in encoder.blocks:
        kind = "global" if block.window_size == 0 else "windowed"
        for name in ("attn", "mlp"):
            enter, leave = hooks(f"{kind} {'attention' if name == 'attn' else 'MLP'}")
            module = getattr(block, name)
            handles += [module.register_forward_pre_hook(enter), module.register_forward_hook(leave)]
    image = torch.randn(1, 3, encoder.img_size, encoder.img_size)
    runs: list[tuple[float, dict[str, float]]] = []
    with torch.no_grad():
        encoder(image)  # warm-up: allocator and kernel selection
        for _ in range(repeats):
            parts.clear()
            start = time.perf_counter()
            encoder(image)
            runs.append((time.perf_counter() - start, dict(parts)))
    for handle in handles:
        handle.remove()
    return sorted(runs, key=lambda run: run[0])[len(runs) // 2]


def format_profile(title: str, total: float, parts: dict[str, float]) -> str:
    lines = [f"{title}: {total:.2f} s per embedding"]
    for part, seconds in sorted(parts.items(), key=lambda item: -item[1]):
        lines.append(f"  {part:<20} {seconds:6.2f} s  {seconds / total:5.1%}")
    other = total - sum(parts.values())
    lines.append(f"  {'everything else':<20} {other:6.2f} s  {other / total:5.1%}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.profile_sam", description=__doc__.splitlines()[0])
    parser.add_argument("--model-type", default="vit_b", choices=sorted(sam_model_registry.keys() - {"default"}))
    parser.add_argument("--repeats", type=int, default=3, help="timed passes per variant (median reported)")
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    args = parser.parse_args(argv)
    if args.repeats < 1:
        parser.error("--repeats must be at least 1")
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    encoder = sam_model_registry[args.model_type](checkpoint=None).image_encoder.eval()
    print(f"SAM {args.model_type} image encoder, random weights, CPU, {torch.get_num_threads()} threads")
    upstream_total, upstream_parts = profile_encoder(encoder, args.repeats)
    print(format_profile("segment-anything attention", upstream_total, upstream_parts))
    use_fused_attention(encoder)
    fused_total, fused_parts = profile_encoder(encoder, args.repeats)
    print(format_profile("fused attention (alien_filters.sam_attention)", fused_total, fused_parts))
    print(f"encoder speedup: {upstream_total / fused_total:.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
