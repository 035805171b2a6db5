"""Test doubles for structure guidance behind the real contracts: an inpainter that takes canny units only and
runs the finishing pass as a brightening, a counting control imager, and a tagger that writes a caption."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
from PIL import Image

from alien_filters.core.contracts import FinishJob, InpaintJob, Tags
from alien_filters.core.control import ControlSpec
from alien_filters.core.edges import canny_image
from tests.support.doubles import ColourTagger, PaintInpainter


@dataclass
class GuidedInpainter(PaintInpainter):
    """Paints like PaintInpainter; takes canny units only (checking each job got its control image) and runs the
    finishing pass as a brightening of the whole image, checking its control image is canny of what it gets."""

    name: str = "guided-inpainter-double"
    finished: list[FinishJob] = field(default_factory=list)

    def control_unavailable(self, spec: ControlSpec) -> str | None:
        return None if spec.kind == "canny" else f"no {spec.kind} ControlNet here"

    def inpaint(self, image: Image.Image, job: InpaintJob) -> Image.Image:
        if job.control is not None:
            assert job.control_image is not None and job.control_image.size == image.size
        return super().inpaint(image, job)

    def finish(self, image: Image.Image, job: FinishJob) -> tuple[Image.Image, str | None]:
        self.finished.append(job)
        if job.control is not None:
            expected = canny_image(image, job.control.canny_low, job.control.canny_high)
            assert np.array_equal(np.asarray(job.control_image), np.asarray(expected))
        return Image.eval(image, lambda v: min(255, v + 10)), f"finish\nSteps: {job.spec.steps}"


@dataclass
class CountingImager:
    """Canny control images, counting what it was asked for and when it was released (as the offload policy
    releases a stage)."""

    name: str = "counting-canny"
    calls: list[tuple] = field(default_factory=list)
    events: list[str] = field(default_factory=list)
    """"control image" and "release", in order."""

    def control_image(self, image: Image.Image, spec: ControlSpec) -> Image.Image:
        self.calls.append(spec.preprocessor_key)
        self.events.append("control image")
        return canny_image(image, spec.canny_low, spec.canny_high)

    def release(self) -> None:
        self.events.append("release")


@dataclass
class CaptioningTagger(ColourTagger):
    caption: str | None = None

    def tag(self, image: Image.Image) -> Tags:
        return replace(super().tag(image), caption=self.caption)
