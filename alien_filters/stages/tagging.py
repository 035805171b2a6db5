"""Tagging stage with real models: OWL-ViT / OWLv2 objects and CLIP zero-shot interior styles.

Works on transformers 4.30.2 (the WebUI's pin: OWL-ViT only) and 4.46.1 (Forge: OWLv2 too). The text side
of every model (detector queries, style prompts, class prompts) is encoded once and cached, so each image
only runs the vision towers.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import torch
import transformers
from PIL import Image
from torchvision.ops import batched_nms

from ..core.contracts import Detection, Tags
from ..models import device as devices
from .captioning import BlipCaptioner
from .hf_folders import load_model_and_processor, load_pretrained, read_model_type

Query = tuple[str, str]
"""(prompt text, vocabulary class); several prompts may name one class (synonyms)."""

OWL_MODEL_TYPES = {"owlvit": ("OwlViTForObjectDetection", "OwlViTProcessor"),
                   "owlv2": ("Owlv2ForObjectDetection", "Owlv2Processor")}


def _unique(items: Sequence[str]) -> list[str]:
    return list(dict.fromkeys(items))


class _HeldModel:
    """A model kept on its target device while in use and moved to the CPU by :meth:`offload`."""

    def __init__(self, model: torch.nn.Module, device: str | torch.device) -> None:
        self.model = model.eval()
        self.device = torch.device(device)
        self.dtype = next(model.parameters()).dtype

    def _ready(self) -> None:
        self.model.to(self.device)  # a no-op when already there; brings the model back after offload()

    def offload(self) -> None:
        """The offload policy's ``cpu`` mode: the model moves to the CPU and comes back to its device on next use."""
        devices.release_model(self.model, self.device, "cpu")


class OwlDetector(_HeldModel):
    """Open-vocabulary object detection with OWL-ViT, or OWLv2 when the folder and transformers have it."""

    def __init__(
        self,
        model: torch.nn.Module,
        processor: Any,
        queries: Sequence[Query],
        thresholds: Mapping[str, float] | None = None,
        default_threshold: float = 0.1,
        nms_iou: float = 0.3,
        device: str | torch.device = "cpu",
        square_padded: bool = False,
    ) -> None:
        """``square_padded``: the processor pads images to a square before resizing (OWLv2), so boxes are
        relative to the padded square rather than to the image."""
        if not queries:
            raise ValueError("OwlDetector needs at least one (query text, class) pair")
        super().__init__(model, device)
        self.name = model.config.model_type
        self.processor = processor
        self.queries = [(str(text), str(label)) for text, label in queries]
        self.classes = _unique([label for _, label in self.queries])
        thresholds = thresholds or {}
        self.thresholds = {c: float(thresholds.get(c, default_threshold)) for c in self.classes}
        self.nms_iou = float(nms_iou)
        self.square_padded = square_padded
        self.text_encodings = 0
        """How many times the query texts went through the text tower (1 once warmed up)."""
        self._query_embeds: torch.Tensor | None = None
        self._class_queries = [
            torch.tensor([i for i, (_, label) in enumerate(self.queries) if label == c]) for c in self.classes
        ]

    @classmethod
    def from_pretrained(
        cls,
        folder: Path,
        queries: Sequence[Query],
        thresholds: Mapping[str, float] | None = None,
        default_threshold: float = 0.1,
        nms_iou: float = 0.3,
        device: str | torch.device = "cpu",
        torch_dtype: torch.dtype | None = None,
    ) -> OwlDetector:
        """Load an OWL-ViT or OWLv2 folder (what ``save_pretrained`` writes), choosing by config.json."""
        folder = Path(folder)
        model_type = read_model_type(folder)
        if model_type not in OWL_MODEL_TYPES:
            raise ValueError(f"{folder}: model_type {model_type!r} is not an OWL detector (owlvit or owlv2)")
        model_name, processor_name = OWL_MODEL_TYPES[model_type]
        if not hasattr(transformers, model_name):
            raise RuntimeError(
                f"{folder}: {model_type} needs a newer transformers than the installed {transformers.__version__} "
                "(OWLv2 arrived in 4.35); use google/owlvit-base-patch32 instead"
            )
        model = load_pretrained(getattr(transformers, model_name), folder, model_type, torch_dtype=torch_dtype)
        processor = load_pretrained(getattr(transformers, processor_name), folder, f"the {model_type} processor")
        return cls(model.to(device), processor, queries, thresholds, default_threshold, nms_iou, device,
                   square_padded=model_type == "owlv2")

    def _text_embeds(self) -> torch.Tensor:
        if self._query_embeds is None:
            tokens = self.processor.tokenizer(
                [text for text, _ in self.queries], padding="max_length", truncation=True,
                max_length=self.model.config.text_config.max_position_embeddings, return_tensors="pt",
            ).to(self.device)
            base = getattr(self.model, self.model.base_model_prefix)
            with torch.no_grad():
                self._query_embeds = base.get_text_features(
                    input_ids=tokens["input_ids"], attention_mask=tokens["attention_mask"]
                )
            self.text_encodings += 1
        return self._query_embeds.to(self.device)

    def detect(self, image: Image.Image) -> list[Detection]:
        """Detections of the query classes, boxes in ``image``'s pixels, highest score first."""
        self._ready()
        image = image.convert("RGB")
        width, height = image.size
        pixels = self.processor.image_processor(images=image, return_tensors="pt")["pixel_values"]
        with torch.no_grad():
            query_embeds = self._text_embeds()
            feature_map, _ = self.model.image_embedder(pixel_values=pixels.to(self.device, self.dtype))
            batch, grid_h, grid_w, dim = feature_map.shape
            feats = feature_map.reshape(batch, grid_h * grid_w, dim)
            logits, _ = self.model.class_predictor(feats, query_embeds[None].clone(), None)
            boxes = self.model.box_predictor(feats, feature_map)
        query_scores = logits[0].float().sigmoid().cpu()  # (boxes, queries)
        class_scores = torch.stack([query_scores[:, idx].amax(dim=1) for idx in self._class_queries], dim=1)
        scores, labels = class_scores.max(dim=1)  # each box keeps its best class, synonyms merged
        xyxy = self._to_pixels(boxes[0].float().cpu(), width, height)
        thresholds = torch.tensor([self.thresholds[c] for c in self.classes])
        keep = (scores >= thresholds[labels]) & (xyxy[:, 2] > xyxy[:, 0]) & (xyxy[:, 3] > xyxy[:, 1])
        xyxy, scores, labels = xyxy[keep], scores[keep], labels[keep]
        kept = batched_nms(xyxy, scores, labels, self.nms_iou)  # sorted by score, highest first
        return [
            Detection(label=self.classes[int(labels[i])], score=float(scores[i]), box=tuple(xyxy[i].tolist()))
            for i in kept
        ]

    def _to_pixels(self, cxcywh: torch.Tensor, width: int, height: int) -> torch.Tensor:
        scale_x, scale_y = (max(width, height),) * 2 if self.square_padded else (width, height)
        cx, cy, w, h = cxcywh.unbind(-1)
        xyxy = torch.stack([(cx - w / 2) * scale_x, (cy - h / 2) * scale_y, (cx + w / 2) * scale_x,
                            (cy + h / 2) * scale_y], dim=-1)
        limits = torch.tensor([width, height, width, height], dtype=xyxy.dtype)
        return xyxy.clamp(min=torch.zeros(4), max=limits)


class ClipStyleScorer(_HeldModel):
    """CLIP zero-shot over interior-style prompts, and over class prompts to label image regions."""

    def __init__(
        self,
        model: torch.nn.Module,
        processor: Any,
        styles: Sequence[tuple[str, str]],
        class_queries: Sequence[Query] = (),
        device: str | torch.device = "cpu",
    ) -> None:
        """``styles``: (prompt, style name) pairs; ``class_queries``: (prompt, class) pairs for label_regions."""
        super().__init__(model, device)
        self.processor = processor
        self.styles = [(str(p), str(s)) for p, s in styles]
        self.style_names = _unique([s for _, s in self.styles])
        self.class_queries = [(str(p), str(c)) for p, c in class_queries]
        self.classes = _unique([c for _, c in self.class_queries])
        self.text_encodings = 0
        """How many prompt lists went through the text tower (at most 2: styles and classes)."""
        self._cache: dict[str, torch.Tensor] = {}

    @classmethod
    def from_pretrained(
        cls,
        folder: Path,
        styles: Sequence[tuple[str, str]],
        class_queries: Sequence[Query] = (),
        device: str | torch.device = "cpu",
        torch_dtype: torch.dtype | None = None,
    ) -> ClipStyleScorer:
        """Load a CLIP folder (what ``save_pretrained`` writes, e.g. openai/clip-vit-base-patch32)."""
        model, processor = load_model_and_processor(Path(folder), "clip", transformers.CLIPModel,
                                                    transformers.CLIPProcessor, "CLIP", torch_dtype)
        return cls(model.to(device), processor, styles, class_queries, device)

    def _text_features(self, key: str, prompts: list[str]) -> torch.Tensor:
        if key not in self._cache:
            tokens = self.processor.tokenizer(prompts, padding=True, truncation=True, return_tensors="pt")
            tokens = tokens.to(self.device)
            with torch.no_grad():
                features = self.model.get_text_features(
                    input_ids=tokens["input_ids"], attention_mask=tokens["attention_mask"]
                ).float()
            self._cache[key] = features / features.norm(dim=-1, keepdim=True)
            self.text_encodings += 1
        return self._cache[key].to(self.device)

    def _probabilities(self, images: Sequence[Image.Image], key: str, prompts: list[str]) -> torch.Tensor:
        """Softmax over ``prompts`` for each image: (images, prompts) on the CPU."""
        self._ready()
        text = self._text_features(key, prompts)
        pixels = self.processor.image_processor(images=[im.convert("RGB") for im in images], return_tensors="pt")
        with torch.no_grad():
            features = self.model.get_image_features(pixel_values=pixels["pixel_values"].to(self.device, self.dtype))
            features = features.float()
            features = features / features.norm(dim=-1, keepdim=True)
            logits = self.model.logit_scale.exp().float() * features @ text.T
        return logits.softmax(dim=-1).cpu()

    def _per_name(self, probs: torch.Tensor, pairs: list[tuple[str, str]], names: list[str]) -> torch.Tensor:
        index = torch.tensor([names.index(name) for _, name in pairs])
        return torch.zeros(probs.shape[0], len(names)).index_add(1, index, probs)

    def score(self, image: Image.Image) -> dict[str, float]:
        """Style name -> probability (softmax over the style prompts, synonyms summed); sums to 1."""
        if not self.styles:
            return {}
        probs = self._probabilities([image], "styles", [p for p, _ in self.styles])
        per_style = self._per_name(probs, self.styles, self.style_names)[0]
        return {name: float(p) for name, p in zip(self.style_names, per_style, strict=True)}

    def label_regions(self, crops: Sequence[Image.Image]) -> list[tuple[str, float]]:
        """Best class and its probability (softmax over the class prompts, synonyms summed) for each crop."""
        if not crops:
            return []
        if not self.class_queries:
            raise ValueError("ClipStyleScorer.label_regions needs class_queries (none were given)")
        probs = self._probabilities(crops, "classes", [p for p, _ in self.class_queries])
        best, index = self._per_name(probs, self.class_queries, self.classes).max(dim=1)
        return [(self.classes[int(i)], float(p)) for p, i in zip(best, index, strict=True)]


class ObjectStyleTagger:
    """The tagging stage: objects from an OWL detector, styles from CLIP, an optional caption."""

    def __init__(
        self,
        detector: OwlDetector,
        style_scorer: ClipStyleScorer | None = None,
        captioner: Callable[[Image.Image], str] | None = None,
    ) -> None:
        """``captioner``: BLIP (stages.captioning) or the WebUI's interrogator; its caption goes into
        ``Tags.caption``. Its ``name`` (else 'caption') joins the tagger's name, so tags cached without a caption
        are never reused when captions are asked for."""
        self.detector = detector
        self.style_scorer = style_scorer
        self.captioner = captioner
        self.name = detector.name + ("+clip" if style_scorer is not None else "")
        if captioner is not None:
            self.name += "+" + str(getattr(captioner, "name", "caption"))

    @classmethod
    def from_folders(
        cls,
        detector_folder: Path,
        queries: Sequence[Query],
        clip_folder: Path | None = None,
        styles: Sequence[tuple[str, str]] = (),
        thresholds: Mapping[str, float] | None = None,
        default_threshold: float = 0.1,
        device: str | torch.device = "cpu",
        torch_dtype: torch.dtype | None = None,
        caption_folder: Path | None = None,
    ) -> ObjectStyleTagger:
        """Load the detector and, when ``clip_folder`` is given, the style scorer (also labels SAM regions);
        ``caption_folder``: a BLIP captioning folder whose caption each image gets."""
        detector = OwlDetector.from_pretrained(detector_folder, queries, thresholds, default_threshold,
                                               device=device, torch_dtype=torch_dtype)
        scorer = None
        if clip_folder is not None:
            scorer = ClipStyleScorer.from_pretrained(clip_folder, styles, queries, device, torch_dtype)
        captioner = None
        if caption_folder is not None:
            captioner = BlipCaptioner.from_pretrained(caption_folder, device, torch_dtype)
        return cls(detector, scorer, captioner)

    def tag(self, image: Image.Image) -> Tags:
        """Detected objects, style scores and caption of ``image``."""
        return Tags(
            objects=self.detector.detect(image),
            styles=self.style_scorer.score(image) if self.style_scorer is not None else {},
            caption=self.captioner(image) if self.captioner is not None else None,
        )

    def release(self) -> None:
        """Move the models to the CPU so diffusion gets the accelerator's memory; next use brings them back. A
        captioner with an ``offload`` method (BLIP) is offloaded too."""
        self.detector.offload()
        if self.style_scorer is not None:
            self.style_scorer.offload()
        offload = getattr(self.captioner, "offload", None)
        if offload is not None:
            offload()
