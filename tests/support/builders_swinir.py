"""Random-weight SwinIR checkpoints saved exactly as users have them (official release layout).

The official real-world SR files are ``torch.save({"params_ema": state_dict})``; spandrel unwraps
that and detects SwinIR, its scale, window size and depths from the state-dict keys and shapes, so
the small test config goes through the same loader path as the real files.
"""

from __future__ import annotations

from pathlib import Path

import torch
from spandrel.architectures.SwinIR import SwinIR

from alien_filters.models.registry import get_spec

# window_size must stay 8: spandrel treats window 7 as the JPEG models (pixel range 0-255).
CONFIGS: dict[tuple[str, int], dict] = {
    ("small", 2): dict(embed_dim=12, depths=[2, 2], num_heads=[2, 2], resi_connection="1conv"),
    ("small", 4): dict(embed_dim=12, depths=[2, 2], num_heads=[2, 2], resi_connection="1conv"),
    # the published shapes, for benchmarks: SwinIR-M x2 and SwinIR-L x4 (real-world GAN models)
    ("real", 2): dict(embed_dim=180, depths=[6] * 6, num_heads=[6] * 6, resi_connection="1conv"),
    ("real", 4): dict(embed_dim=240, depths=[6] * 9, num_heads=[8] * 9, resi_connection="3conv"),
}


def build_swinir(scale: int, size: str = "small", seed: int = 0) -> SwinIR:
    """A randomly initialised real-world SwinIR (nearest+conv upsampler) of the given scale."""
    if (size, scale) not in CONFIGS:
        raise ValueError(f"no SwinIR config for size={size!r}, scale={scale}")
    torch.manual_seed(seed)
    return SwinIR(
        upscale=scale,
        in_chans=3,
        img_size=64,
        window_size=8,
        img_range=1.0,
        mlp_ratio=2.0,
        upsampler="nearest+conv",
        **CONFIGS[(size, scale)],
    ).eval()


def write_swinir(models_dir: Path, scale: int, size: str = "small", seed: int = 0) -> Path:
    """Save a random SwinIR at the registry path (``SwinIR/SwinIR_4x.pth`` or the official x2 name), as the
    released files are."""
    from tests.support.checkpoint_files import save_as_released

    spec = get_spec({2: "swinir_x2", 4: "swinir_x4"}[scale])
    state = {"params_ema": build_swinir(scale, size, seed).state_dict()}
    return save_as_released(state, Path(models_dir) / spec.relpath)
