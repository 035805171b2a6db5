"""Stage interfaces of the pipeline and the data that flows between them.

The core calls stages only through these protocols, so the same pipeline runs inside the WebUI
(WebUI-backed stages), stand-alone (diffusers, spandrel, transformers, segment-anything) and in tests.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Protocol, Sequence, runtime_checkable

import numpy as np
from PIL import Image

from .control import ControlSpec, FinishSpec
from .settings import InpaintSettings

BBox = tuple[float, float, float, float]
"""x0, y0, x1, y1 in pixels of the image the stage was given (x1, y1 exclusive)."""

ClassMasks = dict[str, np.ndarray]
"""Object class -> boolean mask of the working image's size (H, W)."""


@dataclass(frozen=True)
class Detection:
    """One detected object: a vocabulary class, a score in [0, 1] and a box."""

    label: str
    score: float
    box: BBox

    def to_dict(self) -> dict[str, Any]:
        box = [round(float(v), 2) for v in self.box]
        return {"label": self.label, "score": round(float(self.score), 6), "box": box}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Detection:
        x0, y0, x1, y1 = (float(v) for v in data["box"])
        return cls(label=str(data["label"]), score=float(data["score"]), box=(x0, y0, x1, y1))


@dataclass
class Tags:
    """What the tagger saw: detected objects, interior-style scores and an optional caption."""

    objects: list[Detection] = field(default_factory=list)
    styles: dict[str, float] = field(default_factory=dict)
    caption: str | None = None

    def class_scores(self) -> dict[str, float]:
        """Best detection score per class, highest first."""
        best: dict[str, float] = {}
        for det in self.objects:
            best[det.label] = max(best.get(det.label, 0.0), det.score)
        return dict(sorted(best.items(), key=lambda kv: (-kv[1], kv[0])))

    def style_tags(self, min_score: float = 0.0) -> list[str]:
        """Style tags whose score is at least ``min_score``, highest first."""
        ranked = sorted(self.styles.items(), key=lambda kv: (-kv[1], kv[0]))
        return [name for name, score in ranked if score >= min_score]

    def top_style(self) -> str | None:
        ranked = self.style_tags()
        return ranked[0] if ranked else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "objects": [d.to_dict() for d in self.objects],
            "styles": {k: round(float(v), 6) for k, v in self.styles.items()},
            "caption": self.caption,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Tags:
        return cls(
            objects=[Detection.from_dict(d) for d in data.get("objects", [])],
            styles={str(k): float(v) for k, v in data.get("styles", {}).items()},
            caption=data.get("caption"),
        )


@dataclass(frozen=True)
class InpaintJob:
    """One inpaint call: a rule's exclusive mask with its prompts, settings and seed."""

    index: int
    rule: str
    classes: tuple[str, ...]
    mask: np.ndarray
    """Boolean (H, W) mask of the working image, already grown and made exclusive; feathering is the
    inpainter's job (``settings.mask_feather``), always inside this mask."""
    prompt: str
    negative_prompt: str
    settings: InpaintSettings
    seed: int
    box: tuple[int, int, int, int]
    """Crop region x0, y0, x1, y1 (exclusive) around the mask, padded by ``settings.crop_padding``."""
    control: ControlSpec | None = None
    """The rule's ControlNet unit (None: no structure guidance)."""
    control_image: Image.Image | None = None
    """The control image of the WHOLE working image (computed once per image and shared by the jobs); each
    inpainter crops it with the same box it crops the image with. None until the pipeline fills it in."""


@dataclass(frozen=True)
class ResizedInstead:
    """A restorer's answer when its model could not run: ``image`` only resized to the working size, and why.

    The pipeline records it as a fallback (never as the restore) and never caches it as one."""

    image: Image.Image
    reason: str


@runtime_checkable
class Restorer(Protocol):
    """Super-resolution / restoration to an exact working size."""

    name: str

    def restore(self, image: Image.Image, size: tuple[int, int]) -> Image.Image | ResizedInstead:
        """Return ``image`` restored and resized to exactly ``size`` (width, height), RGB; or
        :class:`ResizedInstead` when the model could not run and the image was only resized."""
        ...


@runtime_checkable
class Tagger(Protocol):
    """Finds vocabulary object classes (with boxes) and interior-style tags."""

    name: str

    def tag(self, image: Image.Image) -> Tags:
        ...


@runtime_checkable
class Segmenter(Protocol):
    """Turns detections into one boolean mask per class."""

    name: str

    def segment(self, image: Image.Image, detections: Sequence[Detection]) -> ClassMasks:
        """Return class -> bool mask of ``image``'s size (H, W); classes without a mask are absent."""
        ...


@runtime_checkable
class Inpainter(Protocol):
    """Repaints the masked area of an image with a job's prompt and settings."""

    name: str

    def inpaint(self, image: Image.Image, job: InpaintJob) -> Image.Image:
        """Return an image of ``image``'s size; pixels outside ``job.mask`` must stay unchanged."""
        ...


@runtime_checkable
class InfotextInpainter(Inpainter, Protocol):
    """An inpainter that also says how it generated each job, as the WebUI's infotext (see core.infotext)."""

    def inpaint_with_infotext(self, image: Image.Image, job: InpaintJob) -> tuple[Image.Image, str | None]:
        """What :meth:`inpaint` returns, and the infotext of its generation (None when nothing was generated)."""
        ...


@runtime_checkable
class ControlImager(Protocol):
    """Makes ControlNet control images (canny edges, depth maps) of a whole working image."""

    name: str

    def control_image(self, image: Image.Image, spec: ControlSpec) -> Image.Image:
        """The control image for ``spec``'s kind and preprocessor settings: RGB, ``image``'s size."""
        ...


@runtime_checkable
class ControlInpainter(Inpainter, Protocol):
    """An inpainter that can run a job's ControlNet unit (``job.control`` with ``job.control_image``)."""

    def control_unavailable(self, spec: ControlSpec) -> str | None:
        """None when ``spec`` can run; else why not in words (extension or model missing): the job then runs
        without control and the manifest records the reason."""
        ...


@dataclass(frozen=True)
class FinishJob:
    """The finishing pass: one low-denoise img2img over the whole restyled image."""

    prompt: str
    negative_prompt: str
    spec: FinishSpec
    cfg_scale: float
    seed: int
    control: ControlSpec | None = None
    """The unit it runs with (None: without, also when the inpainter cannot run ``spec.control``)."""
    control_image: Image.Image | None = None
    """The control image of the restyled image (not of the original: the finish keeps the new structure)."""


@runtime_checkable
class Finisher(Protocol):
    """An inpainter that can also run the finishing pass."""

    def finish(self, image: Image.Image, job: FinishJob) -> tuple[Image.Image, str | None]:
        """``image`` after one img2img of ``job`` (same size, RGB) and the infotext of the generation."""
        ...


@runtime_checkable
class Releasable(Protocol):
    """A stage holding models that can be offloaded or freed once its work is done."""

    def release(self) -> None:
        ...


@dataclass(frozen=True)
class ProgressEvent:
    """A step of a batch: ``kind`` is 'image', 'stage' or 'job'; counters are 0-based ``index`` of ``total``."""

    kind: str
    index: int
    total: int
    text: str


class ProgressSink(Protocol):
    def __call__(self, event: ProgressEvent) -> None:
        ...


InterruptCheck = Callable[[], bool]
"""Returns True when the user asked to stop (checked between stages and jobs)."""


def no_progress(event: ProgressEvent) -> None:
    """A progress sink that ignores every event."""


def never_interrupted() -> bool:
    return False


def release_all(stages: Sequence[object]) -> None:
    """Offload or free every stage that holds models."""
    for stage in stages:
        if isinstance(stage, Releasable):
            stage.release()
