"""Stage wrappers that record what flows through the pipeline (working images, masks, jobs) for the baselines,
and give the downstream stages each image's known objects and box-shaped masks: random-weight detectors and SAM
only produce noise, but every model still runs in full, so the timings are the real ones."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Sequence

from PIL import Image

from alien_filters.core.call_groups import CallInpainter, ImageCall, InpaintCall
from alien_filters.core.contracts import ClassMasks, Detection, Inpainter, InpaintJob, Segmenter, Tagger, Tags
from alien_filters.core.pipeline import boxes_as_masks

from .scenes import scale_objects


@dataclass
class ImageRecord:
    """One image's known objects (in its original pixels) and what the pipeline made of it."""

    original_size: tuple[int, int]
    objects: tuple[Detection, ...]
    working: Image.Image | None = None
    detected: int = 0
    """How many objects the (random-weight) detector itself reported."""
    masks: ClassMasks = field(default_factory=dict)
    jobs: list[InpaintJob] = field(default_factory=list)


class Recorder:
    """Per-image records, keyed by input path; ``current`` is set from the batch's 'image' progress events."""

    def __init__(self, known: dict[str, ImageRecord]) -> None:
        self.records = known
        self.current: str | None = None

    def record(self) -> ImageRecord:
        if self.current not in self.records:
            raise KeyError(f"no known objects for image {self.current!r}")
        return self.records[self.current]


class KnownObjectsTagger:
    """Runs the real tagger (all its model work), then reports the image's known objects with its style scores."""

    def __init__(self, inner: Tagger, recorder: Recorder) -> None:
        self.inner = inner
        self.recorder = recorder
        self.name = inner.name

    def tag(self, image: Image.Image) -> Tags:
        tags = self.inner.tag(image)
        record = self.recorder.record()
        record.working = image.copy()
        record.detected = len(tags.objects)
        objects = scale_objects(record.objects, record.original_size, image.size)
        return Tags(objects=objects, styles=tags.styles, caption=tags.caption)

    def release(self) -> None:
        getattr(self.inner, "release", lambda: None)()


class BoxClippedSegmenter:
    """Runs the real segmenter (all its model work), then reports each class as its boxes' rectangles.

    A trained SAM's masks stay inside their prompt boxes; random-weight ones spill over the whole image, which
    would make one job take every pixel and the plan meaningless. The rectangles keep the plan a real room's.
    """

    def __init__(self, inner: Segmenter, recorder: Recorder) -> None:
        self.inner = inner
        self.recorder = recorder
        self.name = inner.name

    def segment(self, image: Image.Image, detections: Sequence[Detection]) -> ClassMasks:
        self.inner.segment(image, detections)
        masks = boxes_as_masks(list(detections), image.size)
        self.recorder.record().masks = masks
        return masks

    def release(self) -> None:
        getattr(self.inner, "release", lambda: None)()


class RecordingInpainter:
    def __init__(self, inner: Inpainter, recorder: Recorder) -> None:
        self.inner = inner
        self.recorder = recorder
        self.name = inner.name

    def inpaint(self, image: Image.Image, job: InpaintJob) -> Image.Image:
        self.recorder.record().jobs.append(job)
        return self.inner.inpaint(image, job)

    def release(self) -> None:
        getattr(self.inner, "release", lambda: None)()


class RecordingCallInpainter(RecordingInpainter):
    """:class:`RecordingInpainter` for an inpainter that runs planned calls (regional, batched): the pipeline
    hands it the calls, and every job of them is recorded."""

    def model_size(self) -> int:
        return self.inner.model_size()  # type: ignore[attr-defined]

    def default_batch_size(self) -> int:
        return self.inner.default_batch_size()  # type: ignore[attr-defined]

    def inpaint_with_infotext(self, image: Image.Image, job: InpaintJob) -> tuple[Image.Image, str | None]:
        return self.inner.inpaint_with_infotext(image, job)  # type: ignore[attr-defined]

    def inpaint_images(self, images: Sequence[Image.Image], calls: Sequence[Sequence[InpaintCall]], batch_size: int,
                       before_batch: Callable[[Sequence[ImageCall]], None],
                       ) -> list[tuple[Image.Image, dict[int, str | None]]]:
        if len(images) != 1:  # the records follow the batch's 'image' events
            raise ValueError("the benchmark's batch hands the inpainter one image at a time")
        self.recorder.record().jobs.extend(sorted((job for call in calls[0] for job in call.jobs),
                                                  key=lambda j: j.index))
        return self.inner.inpaint_images(images, calls, batch_size, before_batch)  # type: ignore[attr-defined]


def recording_inpainter(inner: Inpainter, recorder: Recorder) -> RecordingInpainter:
    """The recording wrapper that passes on whatever way of inpainting ``inner`` has."""
    return (RecordingCallInpainter if isinstance(inner, CallInpainter) else RecordingInpainter)(inner, recorder)
