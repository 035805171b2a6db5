"""Random-weight OWL-ViT, CLIP and SAM files laid out as users keep them (no download).

Each builder makes the real architecture (tiny through the library's own config where it allows), saves
it the way the official release ships it, and returns the path, so tests load it through the same code
path users take: ``from_pretrained(folder)`` for transformers models, a ``state_dict`` ``.pth`` for SAM.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import transformers
from PIL import Image, ImageDraw
from transformers import (
    CLIPConfig,
    CLIPImageProcessor,
    CLIPModel,
    CLIPProcessor,
    CLIPTokenizer,
    CLIPTokenizerFast,
    OwlViTConfig,
    OwlViTForObjectDetection,
    OwlViTImageProcessor,
    OwlViTProcessor,
)

from tests.support.tokenizer_files import write_clip_tokenizer

OWLVIT_DIR = Path("transformers/google/owlvit-base-patch32")
OWLV2_DIR = Path("transformers/google/owlv2-base-patch16-ensemble")
CLIP_DIR = Path("transformers/openai/clip-vit-base-patch32")
SAM_FILES = {"vit_b": "sam_vit_b_01ec64.pth", "vit_l": "sam_vit_l_0b3195.pth", "vit_h": "sam_vit_h_4b8939.pth"}
"""Official SAM checkpoint names, stored as models_dir/sam/NAME."""

TINY_IMAGE_SIZE = 64
TINY_PATCH_SIZE = 16
OWL_TEXT_LENGTH = 16
"""OWL-ViT's text tower has 16 positions (its processor pads every query to 16 tokens)."""


def _tiny_tower(**extra: int) -> dict[str, int]:
    tower = {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 2}
    tower.update(extra)
    return tower


def _tokenizer(folder: Path, max_length: int, slow: bool = False) -> CLIPTokenizer | CLIPTokenizerFast:
    """CLIP's tokenizer; saved, the fast one writes tokenizer.json + vocab.json + merges.txt, the slow one
    (``slow=True``) only vocab.json + merges.txt."""
    tokenizer_class = CLIPTokenizer if slow else CLIPTokenizerFast
    return tokenizer_class.from_pretrained(write_clip_tokenizer(folder, model_max_length=max_length))


def write_owlvit(folder: Path, tiny: bool = True, seed: int = 0, slow_tokenizer: bool = False) -> Path:
    """Save a random-weight OWL-ViT (model + processor) into ``folder``; ``tiny=False`` is base-patch32's shape,
    ``slow_tokenizer`` saves a slow tokenizer (vocab.json + merges.txt, no tokenizer.json)."""
    torch.manual_seed(seed)
    if tiny:
        config = OwlViTConfig(
            text_config=_tiny_tower(max_position_embeddings=OWL_TEXT_LENGTH),
            vision_config=_tiny_tower(image_size=TINY_IMAGE_SIZE, patch_size=TINY_PATCH_SIZE),
            projection_dim=32,
        )
    else:
        config = OwlViTConfig()
    image_size = config.vision_config.image_size
    side = {"height": image_size, "width": image_size}
    processor = OwlViTProcessor(
        image_processor=OwlViTImageProcessor(size=side, crop_size=side),
        tokenizer=_tokenizer(folder, OWL_TEXT_LENGTH, slow_tokenizer),
    )
    OwlViTForObjectDetection(config).eval().save_pretrained(folder, safe_serialization=True)
    processor.save_pretrained(folder)
    return folder


def owlv2_available() -> bool:
    """Whether the installed transformers has OWLv2 (4.35 and later)."""
    return hasattr(transformers, "Owlv2ForObjectDetection")


def write_owlv2(folder: Path, seed: int = 0) -> Path:
    """Save a tiny random-weight OWLv2 (model + processor); needs transformers >= 4.35."""
    if not owlv2_available():
        raise RuntimeError(f"transformers {transformers.__version__} has no OWLv2 (needs 4.35 or later)")
    torch.manual_seed(seed)
    config = transformers.Owlv2Config(
        text_config=_tiny_tower(max_position_embeddings=OWL_TEXT_LENGTH),
        vision_config=_tiny_tower(image_size=TINY_IMAGE_SIZE, patch_size=TINY_PATCH_SIZE),
        projection_dim=32,
    )
    side = {"height": TINY_IMAGE_SIZE, "width": TINY_IMAGE_SIZE}
    processor = transformers.Owlv2Processor(
        image_processor=transformers.Owlv2ImageProcessor(size=side),
        tokenizer=_tokenizer(folder, OWL_TEXT_LENGTH),
    )
    transformers.Owlv2ForObjectDetection(config).eval().save_pretrained(folder, safe_serialization=True)
    processor.save_pretrained(folder)
    return folder


def write_clip(folder: Path, tiny: bool = True, seed: int = 0, slow_tokenizer: bool = False) -> Path:
    """Save a random-weight CLIP (model + processor) into ``folder``; ``tiny=False`` is ViT-B/32's shape,
    ``slow_tokenizer`` saves a slow tokenizer (vocab.json + merges.txt, no tokenizer.json)."""
    torch.manual_seed(seed)
    if tiny:
        config = CLIPConfig(
            text_config=_tiny_tower(max_position_embeddings=77),
            vision_config=_tiny_tower(image_size=TINY_IMAGE_SIZE, patch_size=TINY_PATCH_SIZE),
            projection_dim=32,
        )
    else:
        config = CLIPConfig()
    image_size = config.vision_config.image_size
    processor = CLIPProcessor(
        image_processor=CLIPImageProcessor(
            size={"shortest_edge": image_size}, crop_size={"height": image_size, "width": image_size}
        ),
        tokenizer=_tokenizer(folder, 77, slow_tokenizer),
    )
    CLIPModel(config).eval().save_pretrained(folder, safe_serialization=True)
    processor.save_pretrained(folder)
    return folder


def write_sam(path: Path, model_type: str = "vit_b", seed: int = 0) -> Path:
    """Save a random-weight SAM ``state_dict`` at ``path`` as the released files are (vit_b is 375 MB)."""
    from segment_anything import sam_model_registry

    from tests.support.checkpoint_files import save_as_released

    torch.manual_seed(seed)
    return save_as_released(sam_model_registry[model_type](checkpoint=None).state_dict(), path)


def room_image(width: int, height: int, seed: int = 0) -> Image.Image:
    """A small room-like RGB picture: a wall, a floor and three coloured blocks (furniture)."""
    rng = np.random.default_rng(seed)

    def colour(low: int, high: int) -> tuple[int, int, int]:
        r, g, b = (int(v) for v in rng.integers(low, high, 3))
        return r, g, b

    image = Image.new("RGB", (width, height), colour(150, 230))
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, height * 2 // 3, width, height), fill=colour(60, 140))
    for _ in range(3):
        x0, y0 = int(rng.integers(0, max(1, width - 20))), int(rng.integers(0, max(1, height - 16)))
        draw.rectangle((x0, y0, x0 + 20, y0 + 16), fill=colour(0, 255))
    return image


@dataclass(frozen=True)
class ModelsFolder:
    """Paths of the models written by :func:`write_models_folder`."""

    root: Path
    owlvit: Path
    clip: Path
    sam: Path


def write_models_folder(models_dir: Path, sam_path: Path | None = None) -> ModelsFolder:
    """Write tiny OWL-ViT + CLIP and SAM vit_b at their standard places under ``models_dir``.

    ``sam_path``: an already written SAM checkpoint to hard-link (or copy) instead of building another 375 MB file.
    """
    owlvit = write_owlvit(models_dir / OWLVIT_DIR)
    clip = write_clip(models_dir / CLIP_DIR)
    sam = models_dir / "sam" / SAM_FILES["vit_b"]
    if sam_path is None:
        write_sam(sam)
    elif not sam.exists():
        sam.parent.mkdir(parents=True, exist_ok=True)
        try:
            sam.hardlink_to(sam_path)
        except OSError:
            sam.write_bytes(sam_path.read_bytes())
    return ModelsFolder(root=models_dir, owlvit=owlvit, clip=clip, sam=sam)
