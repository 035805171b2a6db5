"""The pipeline: restore -> tag -> segment -> plan for one image, then inpaint for one image or several.

Images handed to :meth:`Pipeline.inpaint` together share diffusion batches where their calls match (an inpainter
that runs calls itself, see ``core.call_groups.image_batches``); each image's result equals its result alone up
to float rounding."""

from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Any, Iterator, Sequence

import numpy as np
from PIL import Image

from .cache import NoCache, ResultCache, cache_key
from .call_groups import CallInpainter, InpaintedImage, inpaint_in_calls
from .contracts import (
    ClassMasks,
    ControlImager,
    Detection,
    InfotextInpainter,
    Inpainter,
    InpaintJob,
    InterruptCheck,
    ProgressEvent,
    ProgressSink,
    ResizedInstead,
    Restorer,
    Segmenter,
    Tagger,
    Tags,
    never_interrupted,
    no_progress,
    release_all,
)
from .errors import AlienFiltersError
from .guidance import ControlRun, attach_control, finish_job
from .planning import Plan, plan_jobs
from .sizing import WorkingSize
from .theme import Theme, with_canonical_classes
from .vocabulary import load_vocabulary

STAGE_NAMES = ("restore", "tag", "segment", "plan", "inpaint")


class StageMissing(AlienFiltersError, RuntimeError):
    """A stage is switched on but no implementation is available."""


class StageFailed(AlienFiltersError, RuntimeError):
    """A stage raised; ``stage`` names it and the message says what went wrong."""

    def __init__(self, stage: str, message: str) -> None:
        super().__init__(f"{stage} failed: {message}")
        self.stage = stage


class Interrupted(AlienFiltersError, RuntimeError):
    """The user asked to stop; ``where`` says at which stage or job."""

    def __init__(self, where: str) -> None:
        super().__init__(f"interrupted during {where}")
        self.where = where


@dataclass
class Stages:
    """The stage implementations a run uses; None where a stage is not available."""

    restorer: Restorer | None = None
    tagger: Tagger | None = None
    segmenter: Segmenter | None = None
    inpainter: Inpainter | None = None
    control: ControlImager | None = None
    """Makes control images for the jobs' ControlNet units (None: canny only, see core.guidance)."""

    def names(self) -> dict[str, str | None]:
        """Stage -> implementation name, recorded in manifests and cache keys."""
        return {
            "restore": getattr(self.restorer, "name", None),
            "tag": getattr(self.tagger, "name", None),
            "segment": getattr(self.segmenter, "name", None),
            "inpaint": getattr(self.inpainter, "name", None),
        }


@dataclass(frozen=True)
class PipelineOptions:
    """Which stages run and how. A stage switched off is replaced by its plain fallback:
    restore -> LANCZOS resize, segment -> detection boxes as masks, inpaint -> nothing (a dry run)."""

    restore: bool = True
    tag: bool = True
    segment: bool = True
    inpaint: bool = True
    working_size: WorkingSize = field(default_factory=WorkingSize)
    style_min_score: float = 0.25
    caption: bool = False
    """The tagger also writes a caption (its captioner runs in the tag stage; no effect when tag is off)."""
    regional: bool | None = None
    """Merge jobs into regional calls (core.call_groups); None: the theme's ``regional``. Only inpainters that run
    calls themselves (the stand-alone diffusers one) merge; the others make one call per job."""
    inpaint_batch_size: int = 0
    """Calls per diffusion batch; 0: the inpainter's memory-aware default."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class ImageResult:
    """Everything one image produced; ``final`` is None when inpainting did not run."""

    original_size: tuple[int, int]
    working: Image.Image
    tags: Tags
    masks: ClassMasks
    plan: Plan
    final: Image.Image | None
    timings: dict[str, float]
    cached: list[str]
    restored_by: str = "resize"
    """What made ``working``: the restorer's name, ``resize`` (restore off), or ``resized: <restorer>
    unavailable`` when the restorer fell back to a plain resize (``restore_fallback`` says why)."""
    restore_fallback: str | None = None
    infotexts: list[str | None] = field(default_factory=list)
    """Per job of ``plan.jobs``: the infotext of its generation as the inpainter gave it (for WebUI img2img the
    WebUI's own), None where nothing was generated or the inpainter gives none; empty when inpainting did not run."""
    calls: dict[str, Any] | None = None
    """How the jobs were grouped into diffusion calls (core.call_groups); None when inpainting did not run."""
    control: ControlRun | None = None
    """What structure guidance did per job (None when inpainting did not run)."""
    finish: dict[str, Any] | None = None
    """The finishing pass's record (None when the theme has none or nothing was restyled); ``applied`` says
    whether it ran (then pixels outside the masks changed too)."""


@dataclass
class Prepared:
    """An image through restore, tag, segment and plan: what :meth:`Pipeline.inpaint` needs."""

    original_size: tuple[int, int]
    working: Image.Image
    tags: Tags
    masks: ClassMasks
    plan: Plan
    seed: int
    timings: dict[str, float]
    cached: list[str]
    restored_by: str
    restore_fallback: str | None


def required_stages(stages: Stages, options: PipelineOptions) -> list[str]:
    """Stages switched on in ``options`` that ``stages`` lacks (the pipeline cannot run without them)."""
    wanted = {"restore": (options.restore, stages.restorer), "tag": (options.tag, stages.tagger),
              "segment": (options.segment, stages.segmenter), "inpaint": (options.inpaint, stages.inpainter)}
    missing = [name for name, (on, impl) in wanted.items() if on and impl is None]
    if options.tag and options.caption and getattr(stages.tagger, "captioner", None) is None:
        missing.append("caption")
    return missing


class Pipeline:
    """Runs the five stages on one image with a fixed set of stages, theme and options."""

    def __init__(
        self,
        stages: Stages,
        theme: Theme,
        options: PipelineOptions = PipelineOptions(),
        cache: ResultCache | None = None,
        progress: ProgressSink = no_progress,
        interrupted: InterruptCheck = never_interrupted,
        offload_before_inpaint: bool = True,
    ) -> None:
        """``offload_before_inpaint``: release the restore, tag and segment models (to the CPU, or freed,
        as each stage chooses) before diffusion starts, and the control imager's once it made the control images,
        so that diffusion gets the accelerator's memory."""
        missing = required_stages(stages, options)
        if missing:
            raise StageMissing(f"no implementation for stage(s): {', '.join(missing)}")
        self.stages = stages
        self.theme = theme
        self._rules_theme = with_canonical_classes(theme, load_vocabulary())
        """The theme with synonyms replaced by the class names that taggers and segmenters report."""
        self.options = options
        self.cache = cache or NoCache()
        self.progress = progress
        self.interrupted = interrupted
        self.offload_before_inpaint = offload_before_inpaint

    def run(self, image: Image.Image, input_sha256: str, seed: int) -> ImageResult:
        """Process one RGB image; raises StageFailed or Interrupted."""
        return self.inpaint([self.prepare(image, input_sha256, seed)])[0]

    def prepare(self, image: Image.Image, input_sha256: str, seed: int) -> Prepared:
        """Restore, tag, segment and plan one RGB image; raises StageFailed or Interrupted."""
        timings: dict[str, float] = {}
        cached: list[str] = []
        size = self.options.working_size.for_image(*image.size)
        names = self.stages.names()

        restored_by = names["restore"] if self.options.restore and self.stages.restorer is not None else "resize"
        fallback: str | None = None
        restore_key = cache_key(input_sha256, "restore", restored_by, size)
        with self._stage("restore", 0, timings):
            working = self.cache.get_image(restore_key)
            if working is not None and working.size == size:
                cached.append("restore")
            else:
                working, fallback = self._restore(image, size)
                if fallback is not None:  # cached under what ran, so a later run with the model restores again
                    restored_by = f"resized: {names['restore']} unavailable"
                    restore_key = cache_key(input_sha256, "restore", restored_by, size)
                self.cache.put_image(restore_key, working)

        tag_key = cache_key(restore_key, "tag", names["tag"] if self.options.tag else None)
        with self._stage("tag", 1, timings):
            tags_data = self.cache.get_json(tag_key)
            if tags_data is not None:
                tags = Tags.from_dict(tags_data)
                cached.append("tag")
            else:
                tags = self.stages.tagger.tag(working) if self.options.tag and self.stages.tagger else Tags()
                self.cache.put_json(tag_key, tags.to_dict())

        segment_key = cache_key(tag_key, "segment", names["segment"] if self.options.segment else "boxes")
        with self._stage("segment", 2, timings):
            class_masks = self.cache.get_masks(segment_key)
            if class_masks is not None:
                cached.append("segment")
            else:
                class_masks = self._segment(working, tags.objects)
                self.cache.put_masks(segment_key, class_masks)

        with self._stage("plan", 3, timings):
            plan = plan_jobs(tags, class_masks, self._rules_theme, seed, self.options.style_min_score)
        return Prepared(image.size, working, tags, class_masks, plan, seed, timings, cached, restored_by, fallback)

    def inpaint(self, prepared: Sequence[Prepared]) -> list[ImageResult]:
        """Inpaint (and finish) prepared images together: one result per image, in order. Their diffusion time is
        shared out by each image's diffusion work. Raises StageFailed or Interrupted for the whole group."""
        if not self.options.inpaint:
            return [self._result(item, None, [], None, None, None) for item in prepared]
        if self.offload_before_inpaint and any(item.plan.jobs for item in prepared):
            release_all([self.stages.restorer, self.stages.tagger, self.stages.segmenter])
        shared: dict[str, float] = {}
        with self._stage("inpaint", 4, shared):
            controls = [attach_control(item.working, item.plan.jobs, self.stages.inpainter, self.stages.control)
                        for item in prepared]
            if self.offload_before_inpaint and any(control.images for control in controls):
                release_all([self.stages.control])  # the depth model, once its images are made
            inpainted = self._inpaint_any([item.working for item in prepared], [c.jobs for c in controls])
        total = sum(done.work for done in inpainted)
        results = []
        for item, control, done in zip(prepared, controls, inpainted, strict=True):
            share = done.work / total if total else 1.0 / len(prepared)
            item.timings["inpaint"] = shared["inpaint"] * share
            final, finish = done.image, None
            if self.theme.finish is not None and item.plan.jobs:
                with self._stage("inpaint", 4, item.timings, announce=False):  # the finishing pass is inpaint time
                    final, finish = self._finish(final, item.tags, item.seed, item.timings)
            results.append(self._result(item, final, done.infotexts, done.record, control, finish))
        return results

    @staticmethod
    def _result(item: Prepared, final: Image.Image | None, infotexts: list[str | None],
                calls: dict[str, Any] | None, control: ControlRun | None,
                finish: dict[str, Any] | None) -> ImageResult:
        return ImageResult(item.original_size, item.working, item.tags, item.masks, item.plan, final, item.timings,
                           item.cached, item.restored_by, item.restore_fallback, infotexts=infotexts, control=control,
                           finish=finish, calls=calls)

    @contextmanager
    def _stage(self, name: str, index: int, timings: dict[str, float], announce: bool = True) -> Iterator[None]:
        """Time stage ``name`` into ``timings`` (announced to the progress sink unless ``announce`` is off); its
        own failures become StageFailed."""
        if self.interrupted():
            raise Interrupted(name)
        if announce:
            self.progress(ProgressEvent("stage", index, len(STAGE_NAMES), name))
        start = time.perf_counter()
        try:
            yield
        except (Interrupted, StageFailed):
            raise
        except Exception as exc:  # a stage's own failure becomes a reported error, never a crash of the batch
            raise StageFailed(name, f"{type(exc).__name__}: {exc}") from exc
        finally:
            timings[name] = timings.get(name, 0.0) + time.perf_counter() - start

    def _restore(self, image: Image.Image, size: tuple[int, int]) -> tuple[Image.Image, str | None]:
        """The working image, and why the restorer fell back to a resize (None when it did not)."""
        if not (self.options.restore and self.stages.restorer is not None):
            return image.resize(size, Image.LANCZOS), None
        restored = self.stages.restorer.restore(image, size)
        fallback = restored.reason if isinstance(restored, ResizedInstead) else None
        working = restored.image if isinstance(restored, ResizedInstead) else restored
        if working.size != size:
            raise ValueError(f"restorer {self.stages.restorer.name} returned {working.size}, expected {size}")
        return working.convert("RGB"), fallback

    def _segment(self, working: Image.Image, detections: list[Detection]) -> ClassMasks:
        if not detections and not self.options.segment:
            return {}
        if self.options.segment and self.stages.segmenter is not None:
            result = self.stages.segmenter.segment(working, detections)
        else:
            result = boxes_as_masks(detections, working.size)
        expected = (working.size[1], working.size[0])
        for label, mask in result.items():
            if mask.shape != expected or mask.dtype != bool:
                raise ValueError(f"mask for {label!r} is {mask.dtype}{mask.shape}, expected bool{expected}")
        return {label: mask for label, mask in result.items() if mask.any()}

    def _inpaint_any(self, workings: Sequence[Image.Image],
                     jobs_per_image: Sequence[list[InpaintJob]]) -> list[InpaintedImage]:
        """Each image inpainted: in calls grouped and batched by core.call_groups where the inpainter runs calls
        itself, else one job after another (one image at a time)."""
        inpainter = self.stages.inpainter
        if not isinstance(inpainter, CallInpainter):
            out = []
            for working, jobs in zip(workings, jobs_per_image, strict=True):
                image, infotexts = self._inpaint(working, jobs)
                record = {"regional": False, "batch_size": 1, "why": "the inpainter makes one call per job",
                          "calls": [{"jobs": [job.index], "rules": [job.rule]} for job in jobs]}
                out.append(InpaintedImage(image, infotexts, record, work=len(jobs)))  # one call per job
            return out
        regional = self.options.regional if self.options.regional is not None else self.theme.regional
        return inpaint_in_calls(inpainter, workings, jobs_per_image, regional, self.options.inpaint_batch_size,
                                lambda number, job: self._before_job(job, len(jobs_per_image[number])))

    def _before_job(self, job: InpaintJob, total: int) -> None:
        if self.interrupted():
            raise Interrupted(f"inpaint job {job.index + 1}/{total} ({job.rule})")
        self.progress(ProgressEvent("job", job.index, total, job.rule))

    def _inpaint(self, working: Image.Image, jobs: list[InpaintJob]) -> tuple[Image.Image, list[str | None]]:
        """The inpainted image and each job's infotext (see ImageResult.infotexts)."""
        image = working
        infotexts: list[str | None] = []
        inpainter = self.stages.inpainter
        for job in jobs:
            if self.interrupted():
                raise Interrupted(f"inpaint job {job.index + 1}/{len(jobs)} ({job.rule})")
            self.progress(ProgressEvent("job", job.index, len(jobs), job.rule))
            if isinstance(inpainter, InfotextInpainter):
                result, infotext = inpainter.inpaint_with_infotext(image, job)
            else:
                result, infotext = inpainter.inpaint(image, job), None  # type: ignore[union-attr]
            if result.size != image.size:
                raise ValueError(f"inpainter returned {result.size} for job {job.rule}, expected {image.size}")
            image = result.convert("RGB")
            infotexts.append(infotext)
        return image, infotexts

    def _finish(self, image: Image.Image, tags: Tags, seed: int,
                timings: dict[str, float]) -> tuple[Image.Image, dict[str, Any]]:
        """The theme's finishing pass over the restyled ``image``, and its record (see ImageResult.finish)."""
        if self.interrupted():
            raise Interrupted("finishing pass")
        start = time.perf_counter()
        job, record = finish_job(self.theme, tags, seed, image, self.stages.inpainter, self.stages.control)
        if job is not None:
            result, record["infotext"] = self.stages.inpainter.finish(image, job)  # type: ignore[union-attr]
            if result.size != image.size:
                raise ValueError(f"finishing pass returned {result.size}, expected {image.size}")
            image, record["applied"] = result.convert("RGB"), True
        timings["finish"] = time.perf_counter() - start
        return image, record


def boxes_as_masks(detections: list[Detection], size: tuple[int, int]) -> ClassMasks:
    """Rectangle masks from detection boxes: the fallback when segmentation is switched off."""
    width, height = size
    out: ClassMasks = {}
    for det in detections:
        x0, y0, x1, y1 = (int(round(v)) for v in det.box)
        mask = out.setdefault(det.label, np.zeros((height, width), dtype=bool))
        mask[max(0, y0) : max(0, min(height, y1)), max(0, x0) : max(0, min(width, x1))] = True
    return out
