"""Image embeddings for clustering: the protocol, a CLIP image embedder, and their compact cached form."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np
from PIL import Image


@runtime_checkable
class Embedder(Protocol):
    """Maps an image to a fixed-length vector; ``name`` identifies it in cache keys."""

    name: str

    def embed(self, image: Image.Image) -> np.ndarray:
        ...


def encode_embedding(vector: np.ndarray) -> dict[str, Any]:
    """JSON-ready float16 form of a 1-D vector."""
    data = np.ascontiguousarray(vector, dtype="<f2")
    return {"dim": int(data.size), "f16": base64.b64encode(data.tobytes()).decode("ascii")}


def decode_embedding(entry: Any) -> np.ndarray | None:
    """The float16 vector :func:`encode_embedding` wrote, or None when ``entry`` is not one."""
    try:
        vector = np.frombuffer(base64.b64decode(entry["f16"], validate=True), dtype="<f2").astype(np.float16)
    except (KeyError, TypeError, ValueError):
        return None
    return vector if vector.size == entry.get("dim") else None


class ClipImageEmbedder:
    """Normalised CLIP image features (transformers ``CLIPModel.get_image_features``)."""

    def __init__(self, model: Any, image_processor: Any, device: str = "cpu", name: str = "clip") -> None:
        self.model = model
        self.image_processor = image_processor
        self.device = device
        self.name = name

    @classmethod
    def from_folder(cls, folder: Path, device: str = "cpu") -> ClipImageEmbedder:
        """Load a CLIP folder (what ``save_pretrained`` writes, e.g. openai/clip-vit-base-patch32)."""
        import transformers

        folder = Path(folder)
        try:
            model = transformers.CLIPModel.from_pretrained(str(folder)).to(device).eval()
            processor = transformers.CLIPImageProcessor.from_pretrained(str(folder))
        except (OSError, ValueError) as exc:
            raise ValueError(f"{folder}: cannot load a CLIP model for image embeddings: {exc}") from exc
        return cls(model, processor, device, name=f"clip:{folder.name}")

    @classmethod
    def from_scorer(cls, scorer: Any) -> ClipImageEmbedder:
        """Share the CLIP model a tagger's style scorer (alien_filters.tagging.ClipStyleScorer) already holds."""
        return cls(scorer.model, scorer.processor.image_processor, str(scorer.device),
                   name=f"clip:{scorer.model.config.name_or_path.rstrip('/').rsplit('/', 1)[-1]}")

    def embed(self, image: Image.Image) -> np.ndarray:
        import torch

        pixels = self.image_processor(images=[image.convert("RGB")], return_tensors="pt")["pixel_values"]
        dtype = next(self.model.parameters()).dtype
        with torch.no_grad():
            features = self.model.get_image_features(pixel_values=pixels.to(self.device, dtype)).float()[0]
        return (features / features.norm().clamp_min(1e-12)).cpu().numpy()

