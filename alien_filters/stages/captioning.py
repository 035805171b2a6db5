"""Caption stage: one sentence per image from BLIP (Salesforce/blip-image-captioning-base) through transformers.

Loads with ``BlipForConditionalGeneration`` + ``BlipProcessor`` on transformers 4.30.2 (the WebUI's pin) and 4.46.1
(Forge). The tagger calls it (``ObjectStyleTagger(..., captioner=...)``), so the caption is cached with the tags.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
import transformers
from PIL import Image

from ..models import device as devices
from .hf_folders import load_model_and_processor


class BlipCaptioner:
    """Unconditional BLIP captioning: image in, one line of text out (greedy decoding, deterministic, as the model
    card's example and the WebUI's interrogator by default; beam search 3 took three times as long on a CPU)."""

    name = "blip"

    def __init__(self, model: torch.nn.Module, processor: Any, device: str | torch.device = "cpu",
                 num_beams: int = 1, max_new_tokens: int = 30, min_length: int = 5) -> None:
        """``min_length`` (tokens, counting the start token) keeps the decoder from ending at once."""
        self.model = model.eval()
        self.processor = processor
        self.device = torch.device(device)
        self.dtype = next(model.parameters()).dtype
        self.generate_args = {"num_beams": num_beams, "max_new_tokens": max_new_tokens, "min_length": min_length}
        self.calls = 0
        """How many images went through the model (0 when every caption came from the cache)."""

    @classmethod
    def from_pretrained(cls, folder: Path, device: str | torch.device = "cpu",
                        torch_dtype: torch.dtype | None = None) -> BlipCaptioner:
        """Load a BLIP captioning folder (what ``save_pretrained`` writes), with a clear error when it is not one."""
        model, processor = load_model_and_processor(Path(folder), "blip", transformers.BlipForConditionalGeneration,
                                                    transformers.BlipProcessor, "BLIP captioning", torch_dtype)
        return cls(model.to(device), processor, device)

    def __call__(self, image: Image.Image) -> str:
        """The caption of ``image``: one line, whitespace collapsed."""
        self.model.to(self.device)  # back from the CPU after offload()
        pixels = self.processor.image_processor(images=image.convert("RGB"), return_tensors="pt")["pixel_values"]
        with torch.no_grad():
            ids = self.model.generate(pixel_values=pixels.to(self.device, self.dtype), **self.generate_args)
        self.calls += 1
        text = self.processor.tokenizer.decode(ids[0], skip_special_tokens=True)
        return " ".join(text.split())

    def offload(self) -> None:
        """Move the model to the CPU (the offload policy's ``cpu`` mode); the next caption brings it back."""
        devices.release_model(self.model, self.device, "cpu")
