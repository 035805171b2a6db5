"""Random-weight models folders for the benchmark, built once per profile and cached between runs.

The files are the real architectures saved as users have them (see the tests' builders): SwinIR x2/x4 through
spandrel's layout, OWL-ViT and CLIP ``save_pretrained`` folders, SAM vit_b's state dict and a diffusers
Stable Diffusion inpainting folder. Sizes per profile: ``tiny`` (smoke test), ``quick`` (real sizes except a
reduced UNet/VAE/text encoder, said so in the results) and ``full`` (every model at its real size).
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path

MODEL_SIZES = ("tiny", "reduced", "full")


@dataclass(frozen=True)
class ModelsSpec:
    """Which size of each model a profile builds."""

    swinir: str
    """'small' or 'real' (SwinIR-M x2 and SwinIR-L x4 shapes)."""
    detectors_tiny: bool
    """OWL-ViT and CLIP: tiny configs, or base-patch32's shapes."""
    diffusion: str
    """One of :data:`MODEL_SIZES`: SD1.5-inpainting's shapes ('full'), a smaller UNet/VAE/text encoder
    with the same block structure ('reduced') or the tests' tiny model ('tiny')."""


@dataclass(frozen=True)
class ModelsFolder:
    """A built folder: ``models_dir`` for the model manager and the diffusers ``checkpoint`` folder."""

    models_dir: Path
    checkpoint: Path
    build_seconds: float


REDUCED_UNET = dict(
    sample_size=64, layers_per_block=1, block_out_channels=(64, 128, 256, 256),
    down_block_types=("CrossAttnDownBlock2D",) * 3 + ("DownBlock2D",),
    up_block_types=("UpBlock2D",) + ("CrossAttnUpBlock2D",) * 3,
    cross_attention_dim=256, attention_head_dim=2,
)
REDUCED_VAE = dict(block_out_channels=(32, 64, 128, 128), layers_per_block=1, sample_size=512)
REDUCED_TEXT = dict(hidden_size=256, intermediate_size=1024, num_attention_heads=4, num_hidden_layers=4,
                    projection_dim=256)


def ensure_models(cache: Path, name: str, spec: ModelsSpec) -> ModelsFolder:
    """The models folder ``cache/name``, built first when it is missing or was built for another spec."""
    root = cache / name
    marker = root / "benchmark-models.json"
    checkpoint = root / "checkpoints" / f"sd-inpainting-{spec.diffusion}"
    try:
        if json.loads(marker.read_text(encoding="utf-8")) == asdict(spec):
            return ModelsFolder(root, checkpoint, 0.0)
    except (OSError, ValueError):
        pass
    start = time.perf_counter()
    if root.exists():
        shutil.rmtree(root)
    _build(root, checkpoint, spec)
    marker.write_text(json.dumps(asdict(spec)), encoding="utf-8")
    return ModelsFolder(root, checkpoint, time.perf_counter() - start)


def _build(root: Path, checkpoint: Path, spec: ModelsSpec) -> None:
    from tests.support.builders_detectors import CLIP_DIR, OWLVIT_DIR, SAM_FILES, write_clip, write_owlvit, write_sam
    from tests.support.builders_swinir import write_swinir

    for scale in (2, 4):
        write_swinir(root, scale, size=spec.swinir)
    write_owlvit(root / OWLVIT_DIR, tiny=spec.detectors_tiny)
    write_clip(root / CLIP_DIR, tiny=spec.detectors_tiny)
    write_sam(root / "sam" / SAM_FILES["vit_b"])
    checkpoint.parent.mkdir(parents=True, exist_ok=True)
    if spec.diffusion == "reduced":
        build_reduced_pipeline().save_pretrained(checkpoint, safe_serialization=True)
    elif spec.diffusion in ("tiny", "full"):
        from tests.support.builders_diffusion import write_tiny_inpaint_checkpoint

        written = write_tiny_inpaint_checkpoint(checkpoint.parent, full_size=spec.diffusion == "full")
        written.rename(checkpoint)
    else:
        raise ValueError(f"unknown diffusion size {spec.diffusion!r}; choose one of {', '.join(MODEL_SIZES)}")


def build_reduced_pipeline(seed: int = 0):  # -> StableDiffusionInpaintPipeline (diffusers is imported lazily)
    """SD1.5-inpainting's block structure (4 UNet levels, 4 VAE levels, 9 input channels) with fewer channels,
    layers and heads: a UNet step costs a small fraction of the real one on a CPU."""
    from tests.support.builders_diffusion import build_inpaint_pipeline

    return build_inpaint_pipeline(REDUCED_UNET, REDUCED_VAE, REDUCED_TEXT, seed=seed)
