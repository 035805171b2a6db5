"""Segmentation stage with segment-anything's SAM: one boolean mask per detected class.

Per image: one image embedding, every detected box prompted in one batched decoder call, the best of SAM's
three masks per box, instances OR-ed per class. When the detector found nothing, SAM's automatic masks are
labelled by a region labeler (CLIP zero-shot, :class:`alien_filters.tagging.ClipStyleScorer`).
"""

from __future__ import annotations

import importlib.util
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Protocol, Sequence

import numpy as np
import torch
from PIL import Image

from ..core.contracts import ClassMasks, Detection
from ..core.masks import union_by_class
from ..models import device as devices

SAM_MODEL_TYPES = ("vit_b", "vit_l", "vit_h")
REGION_BACKGROUND = (124, 116, 104)
"""Fill outside a region's mask in the crop given to the labeler (CLIP's mean colour: neutral to it)."""


class RegionLabeler(Protocol):
    """Names image regions: one (class, score in [0, 1]) per crop."""

    def label_regions(self, crops: Sequence[Image.Image]) -> list[tuple[str, float]]:
        ...


@dataclass(frozen=True)
class AutoMaskSettings:
    """SAM automatic mask generation, used when the detector found nothing (see SamAutomaticMaskGenerator).

    Random or poor weights make post-processing slow on noisy masks: keep ``min_mask_region_area`` at 0
    (it also needs opencv) and the point grid small where speed matters.
    """

    pred_iou_thresh: float = 0.88
    stability_score_thresh: float = 0.92
    min_mask_region_area: int = 0
    points_per_batch: int = 64
    min_label_score: float = 0.2
    """Regions whose label score is below this are dropped."""


class SamSegmenter:
    """Segmenter backed by an official SAM checkpoint (vit_b by default); the model is built once, lazily, with
    its encoder's attention through the fused kernel (:mod:`alien_filters.sam_attention`)."""

    def __init__(
        self,
        checkpoint: Path,
        model_type: str = "vit_b",
        device: str | torch.device = "cpu",
        labeler: RegionLabeler | None = None,
        amg_points_per_side: int = 16,
        auto: AutoMaskSettings | None = None,
        max_boxes_per_call: int = 64,
        on_load: Callable[[str], None] | None = None,
    ) -> None:
        """``max_boxes_per_call`` bounds the memory of the batched decoder call (masks are upscaled to the
        image's size as floats); images with more boxes take several calls on the one embedding. ``on_load``
        is called with the model's name each time the checkpoint is actually read."""
        if model_type not in SAM_MODEL_TYPES:
            raise ValueError(f"unknown SAM model type {model_type!r}; choose one of {', '.join(SAM_MODEL_TYPES)}")
        self.auto = auto or AutoMaskSettings()
        if self.auto.min_mask_region_area > 0 and importlib.util.find_spec("cv2") is None:
            raise ValueError("AutoMaskSettings.min_mask_region_area > 0 needs opencv-python (cv2); set it to 0")
        if amg_points_per_side < 1 or max_boxes_per_call < 1:
            raise ValueError("amg_points_per_side and max_boxes_per_call must be at least 1")
        self.checkpoint = Path(checkpoint)
        self.model_type = model_type
        self.device = torch.device(device)
        self.labeler = labeler
        self.amg_points_per_side = amg_points_per_side
        self.max_boxes_per_call = max_boxes_per_call
        self.on_load = on_load
        self.name = f"sam_{model_type}"
        self.model: Any = None
        """The SAM model once :meth:`load` ran (None before)."""
        self.embeddings_computed = 0
        """Image-encoder forward passes so far (one per segmented image)."""

    def load(self) -> Any:
        """Build SAM from the checkpoint (first call only) and put it on the device; returns the model."""
        if self.model is None:
            self.model = self._build()
            self.model.image_encoder.register_forward_hook(self._count_embedding)
            if self.on_load is not None:
                self.on_load(self.name)
        return self.model.to(self.device)

    def _build(self) -> Any:
        """SAM built empty, then its state dict loaded BY PATH: inside the WebUI ``torch.load`` is the safe-unpickle
        check, which works on a path but moves a file object's position (segment-anything's ``build_sam`` loads
        through an open file, which then fails) and answers None for a file it refuses."""
        from segment_anything import sam_model_registry

        if not self.checkpoint.is_file():
            raise FileNotFoundError(f"{self.checkpoint}: SAM {self.model_type} checkpoint not found")
        from .sam_attention import use_fused_attention

        model = sam_model_registry[self.model_type](checkpoint=None)
        try:
            state_dict = torch.load(str(self.checkpoint), map_location="cpu")
            if state_dict is None:
                raise ValueError("the WebUI's safe-unpickle check refused it; its console says why")
            model.load_state_dict(state_dict)
        except (RuntimeError, ValueError, EOFError, OSError, pickle.UnpicklingError) as exc:
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ValueError(f"{self.checkpoint}: not a SAM {self.model_type} checkpoint ({reason})") from exc
        use_fused_attention(model.image_encoder)
        return model.eval()

    def _count_embedding(self, *_: Any) -> None:
        self.embeddings_computed += 1

    def segment(self, image: Image.Image, detections: Sequence[Detection]) -> ClassMasks:
        """Class -> bool mask (H, W) of ``image``; automatic masks + labeler when there are no detections.

        Boxes are clamped into the image; a detection with nothing left inside it is ignored."""
        rgb = np.asarray(image.convert("RGB"))
        labels, boxes = _boxes_inside(detections, rgb.shape[1], rgb.shape[0])
        if labels:
            return self._segment_boxes(rgb, labels, boxes)
        if self.labeler is not None:
            return self._segment_automatic(rgb, self.labeler)
        return {}

    def _segment_boxes(self, rgb: np.ndarray, labels: list[str], boxes: torch.Tensor) -> ClassMasks:
        from segment_anything import SamPredictor

        predictor = SamPredictor(self.load())
        height, width = rgb.shape[:2]
        best_masks: list[np.ndarray] = []
        with torch.no_grad():
            predictor.set_image(rgb)
            for start in range(0, len(boxes), self.max_boxes_per_call):
                chunk = boxes[start : start + self.max_boxes_per_call].to(predictor.device)
                masks, scores, _ = predictor.predict_torch(
                    point_coords=None, point_labels=None,
                    boxes=predictor.transform.apply_boxes_torch(chunk, (height, width)), multimask_output=True,
                )
                best = scores.argmax(dim=1)
                best_masks.extend(masks[torch.arange(len(best)), best].cpu().numpy())
            predictor.reset_image()
        return _merge_per_class(labels, best_masks, (height, width))

    def _segment_automatic(self, rgb: np.ndarray, labeler: RegionLabeler) -> ClassMasks:
        from segment_anything import SamAutomaticMaskGenerator

        generator = SamAutomaticMaskGenerator(
            self.load(),
            points_per_side=self.amg_points_per_side,
            points_per_batch=self.auto.points_per_batch,
            pred_iou_thresh=self.auto.pred_iou_thresh,
            stability_score_thresh=self.auto.stability_score_thresh,
            min_mask_region_area=self.auto.min_mask_region_area,
        )
        with torch.no_grad():
            regions = [r["segmentation"] for r in generator.generate(rgb) if r["segmentation"].any()]
        if not regions:
            return {}
        labels = labeler.label_regions([region_crop(rgb, mask) for mask in regions])
        if len(labels) != len(regions):
            raise RuntimeError(f"{type(labeler).__name__} returned {len(labels)} labels for {len(regions)} regions")
        kept = [(label, mask) for (label, score), mask in zip(labels, regions, strict=True)
                if score >= self.auto.min_label_score]
        return _merge_per_class([lab for lab, _ in kept], [m for _, m in kept], rgb.shape[:2])

    def release(self) -> None:
        """The offload policy's ``cpu`` mode: SAM moves to the CPU and returns to its device on next use."""
        if self.model is not None:
            devices.release_model(self.model, self.device, "cpu")


def _boxes_inside(detections: Sequence[Detection], width: int, height: int) -> tuple[list[str], torch.Tensor]:
    """Labels and boxes (N, 4) clamped into the image, without the boxes that have no area left."""
    if not detections:
        return [], torch.zeros((0, 4))
    boxes = torch.tensor([d.box for d in detections], dtype=torch.float32)
    boxes = boxes.clamp(min=torch.zeros(4), max=torch.tensor([width, height, width, height], dtype=torch.float32))
    inside = (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])
    return [d.label for d, keep in zip(detections, inside.tolist(), strict=True) if keep], boxes[inside]


def region_crop(rgb: np.ndarray, mask: np.ndarray) -> Image.Image:
    """The bounding box of ``mask`` cut from ``rgb``, pixels outside the mask filled with a neutral colour."""
    ys, xs = np.nonzero(mask)
    y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    crop = rgb[y0:y1, x0:x1].copy()
    crop[~mask[y0:y1, x0:x1]] = REGION_BACKGROUND
    return Image.fromarray(crop)


def _merge_per_class(labels: Sequence[str], masks: Sequence[np.ndarray], size: tuple[int, int]) -> ClassMasks:
    """OR the instance masks of each class (:func:`masks.union_by_class`); classes whose union is empty are left
    out."""
    merged = union_by_class(zip(labels, masks, strict=True), size)
    return {label: mask for label, mask in merged.items() if mask.any()}
