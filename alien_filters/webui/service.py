"""What the tab and the API ask for, run with the core inside WebUI sessions: themes, in-memory images and
folder jobs."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from PIL import Image

from ..batch.imageio import DEFAULT_MAX_PIXELS, decode_image_bytes, sha256_bytes
from ..batch.outcomes import ItemOutcome
from ..batch.preview import render_preview
from ..batch.runner import BatchRunner, BatchSettings
from ..core.contracts import ProgressEvent
from ..core.errors import AlienFiltersError
from ..core.pipeline import STAGE_NAMES, ImageResult, Interrupted, PipelineOptions, StageFailed, Stages
from ..core.run_options import StageChoices
from ..core.states import ImageStatus
from ..core.theme import Theme
from ..themes import ThemeCatalog, get_theme, load_catalog, parse_theme
from . import console, runtime
from .jobs import Job, JobHandle, JobRegistry
from .settings import AlienSettings, current

StagesFactory = Callable[[PipelineOptions, StageChoices], Stages]
"""Builds the stages a run needs (WebUI restorer and inpainter, our tagger and segmenter)."""


class StagesUnavailable(AlienFiltersError, RuntimeError):
    """The stages a run needs cannot be set up on this server: a model is missing and cannot be downloaded, the
    device setting is wrong, ... The message is the cause's (a missing model: its file, URL and where to put it)."""


@dataclass(frozen=True)
class RunOptions:
    """One run's choices: theme, seed, stage switches (in ``options``), limit and side outputs."""

    theme: Theme
    seed: int = 0
    options: PipelineOptions = field(default_factory=PipelineOptions)
    limit: int | None = None
    save_previews: bool = True
    save_masks: bool = False
    choices: StageChoices = field(default_factory=StageChoices)


    def pipeline_options(self) -> PipelineOptions:
        """The options the pipeline runs with (see :meth:`StageChoices.pipeline_options`)."""
        return self.choices.pipeline_options(self.options)


@dataclass
class ImageOutcome:
    """One in-memory image: the result (None for a dry run or a failure), its manifest, or what went wrong."""

    name: str
    status: ImageStatus
    result: ImageResult | None = None
    manifest: dict[str, Any] | None = None
    preview: Image.Image | None = None
    message: str = ""


@dataclass(frozen=True)
class Upload:
    """An uploaded image decoded once: its name, the sha256 of its bytes and the RGB image."""

    name: str
    sha256: str
    image: Image.Image


class AlienService:
    """Runs Alien Filters for the tab and the API. Every run holds a WebUI session (queue lock + state)."""

    def __init__(
        self,
        stages_factory: StagesFactory,
        registry: JobRegistry | None = None,
        settings: Callable[[], AlienSettings] = current,
        max_pixels: int = DEFAULT_MAX_PIXELS,
    ) -> None:
        self.stages_factory = stages_factory
        self.registry = registry or JobRegistry()
        self.settings = settings
        self.max_pixels = max_pixels
        self._stages: tuple[tuple, Stages] | None = None

    def stages(self, run: RunOptions) -> Stages:
        """The stages for ``run``; reused while the stage switches, model choices and settings stay the same.
        StagesUnavailable when they cannot be built (a model missing and not downloadable, ...)."""
        o = run.pipeline_options()
        key = (o.restore, o.tag, o.segment, o.inpaint, o.caption, run.choices, self.settings())
        if self._stages is None or self._stages[0] != key:
            try:
                self._stages = (key, self.stages_factory(o, run.choices))
            except AlienFiltersError as exc:
                raise StagesUnavailable(str(exc)) from exc
        return self._stages[1]

    # -- themes ----------------------------------------------------------------------------------------------

    def catalog(self) -> ThemeCatalog:
        return load_catalog(Path(self.settings().themes_dir))

    def theme(self, name: str | None = None, yaml_text: str | None = None) -> Theme:
        """A theme from inline YAML, else by name, else the default theme (ThemeError if bad or unknown)."""
        if yaml_text:
            return parse_theme(yaml_text, "<request>")
        return get_theme(name or self.settings().default_theme, Path(self.settings().themes_dir))

    # -- in-memory images (API base64, the tab's uploads) ----------------------------------------------------

    def runner(self, run: RunOptions, out_dir: Path, progress=runtime.report_progress,
               interrupted=runtime.interrupted) -> BatchRunner:
        batch = BatchSettings(out_dir=out_dir, seed=run.seed, limit=run.limit, options=run.pipeline_options(),
                              save_previews=run.save_previews, save_masks=run.save_masks,
                              max_pixels=self.max_pixels)
        runner = BatchRunner(self.stages(run), run.theme, batch, progress=progress, interrupted=interrupted)
        runner.pipeline.offload_before_inpaint = self.settings().offload  # our models leave the GPU for diffusion
        return runner

    def decode_upload(self, name: str, data: bytes) -> Upload:
        """Decode an uploaded image once (ImageLoadError naming it when it is no usable image)."""
        return Upload(name, sha256_bytes(data), decode_image_bytes(data, name, self.max_pixels))

    def process_images(self, uploads: list[Upload], run: RunOptions,
                       task_id: str | None = None) -> list[ImageOutcome]:
        """Process decoded uploads in memory (nothing written); stops at the Interrupt button."""
        outcomes: list[ImageOutcome] = []
        with runtime.session(task_id or runtime.new_task_id()):
            runner = self.runner(run, Path(self.settings().output_dir))
            for index, upload in enumerate(uploads):
                name, image = upload.name, upload.image
                runtime.report_progress(ProgressEvent("image", index, len(uploads), name))
                try:
                    result, manifest = runner.process_in_memory(image, name, upload.sha256)
                except StageFailed as exc:
                    console.image_failed(name, str(exc))
                    outcomes.append(ImageOutcome(name, ImageStatus.FAILED, message=str(exc)))
                    continue
                except Interrupted as exc:
                    outcomes.append(ImageOutcome(name, ImageStatus.INTERRUPTED, message=str(exc)))
                    break
                preview = render_preview(image, result) if run.save_previews else None
                status = ImageStatus.DONE if run.options.inpaint else ImageStatus.PLANNED
                outcomes.append(ImageOutcome(name, status, result, manifest, preview))
        return outcomes

    # -- folder jobs -----------------------------------------------------------------------------------------

    def submit_folder(self, folder: Path, out_dir: Path, run: RunOptions) -> Job:
        """Start a background job over ``folder`` writing into ``out_dir``; returns at once."""

        def work(handle: JobHandle) -> None:
            with runtime.session(runtime.new_task_id()):
                handle.started()
                if handle.cancelled():  # cancelled while it waited for the queue lock
                    handle.stopped("before the first image (cancelled while queued)")
                    return
                sink = _JobProgress(handle)
                runner = self.runner(run, out_dir, progress=sink,
                                     interrupted=lambda: handle.cancelled() or runtime.interrupted())
                report = runner.run([folder])
            console.failures((o.input, o.status, o.message) for o in report.outcomes)
            console.failures((str(p.path), ImageStatus.FAILED, p.problem) for p in report.problems)
            for outcome in report.outcomes:
                handle.add_result(outcome)
            for problem in report.problems:
                handle.add_result(ItemOutcome(str(problem.path), ImageStatus.FAILED, message=problem.problem))
            if report.interrupted:
                handle.stopped(report.stopped_at or "unknown")

        return self.registry.submit(str(folder), str(out_dir), work)


class _JobProgress:
    """ProgressSink feeding both the WebUI's state and the job's own progress fraction."""

    def __init__(self, handle: JobHandle) -> None:
        self.handle = handle
        self.image, self.images = 0, 1

    def __call__(self, event: ProgressEvent) -> None:
        runtime.report_progress(event)
        if event.kind == "image":
            self.image, self.images = event.index, max(event.total, 1)
            self.handle.progress(self.image / self.images, f"image {event.index + 1}/{event.total}", event.total)
        elif event.kind == "stage":
            done = self.image + event.index / len(STAGE_NAMES)
            self.handle.progress(done / self.images, f"image {self.image + 1}/{self.images}: {event.text}")
