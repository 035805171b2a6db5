"""The batch runner: many images in, a mirrored output tree out; resumable, atomic, never touching originals."""

from __future__ import annotations

import json
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence

from PIL import Image

from ..core import masks
from ..core.cache import cache_key
from ..core.call_groups import CallInpainter
from ..core.contracts import InterruptCheck, ProgressEvent, ProgressSink, never_interrupted, no_progress
from ..core.infotext import png_text
from ..core.pipeline import ImageResult, Interrupted, Pipeline, PipelineOptions, Prepared, StageFailed, Stages
from ..core.states import ImageStatus
from . import atomic
from .cache import StageCache
from .discovery import InputItem, discover
from .imageio import DEFAULT_MAX_PIXELS, ImageLoadError, load_image, sha256_file
from .lock import OutputFolderLock
from .manifest import FORMAT, build_manifest, caption_line, tags_line
from .outcomes import BatchReport, ItemOutcome, PendingItem
from .output_names import CACHE_DIR_NAME, REPORT_NAME, SUFFIXES
from .preview import render_preview

if TYPE_CHECKING:
    from ..core.theme import Theme



@dataclass(frozen=True)
class BatchSettings:
    """Where and how a batch writes. ``options.inpaint=False`` is a dry run (previews and manifests only)."""

    out_dir: Path
    seed: int = 0
    limit: int | None = None
    options: PipelineOptions = field(default_factory=PipelineOptions)
    save_previews: bool = True
    save_masks: bool = False
    max_pixels: int = DEFAULT_MAX_PIXELS
    use_cache: bool = True
    inpaint_images: int = 0
    """Images handed to the inpainter together, so that their diffusion calls share batches (their results equal
    those made one image at a time up to float rounding); 0: as many as one batch holds calls when the inpainter
    runs calls itself (1 on a CPU), else 1."""


class BatchRunner:
    """Runs the pipeline over files and folders into ``settings.out_dir``.

    ``interrupted`` is checked between stages and jobs (the WebUI's Interrupt button); ``stop_after_image``
    only between images (Ctrl-C on the command line). Either way the next run resumes where this one stopped.
    """

    def __init__(
        self,
        stages: Stages,
        theme: Theme,
        settings: BatchSettings,
        progress: ProgressSink = no_progress,
        interrupted: InterruptCheck = never_interrupted,
        stop_after_image: InterruptCheck = never_interrupted,
    ) -> None:
        self.settings = settings
        self.theme = theme
        self.stages = stages
        self.progress = progress
        self.stop_after_image = stop_after_image
        cache = StageCache(settings.out_dir / CACHE_DIR_NAME if settings.use_cache else None)
        self.pipeline = Pipeline(stages, theme, settings.options, cache, progress, interrupted)

    @property
    def dry_run(self) -> bool:
        return not self.settings.options.inpaint

    def settings_hash(self) -> str:
        """Everything that shapes the outputs; an image done under another hash is processed again."""
        s = self.settings
        return cache_key(FORMAT, self.theme.hash(), s.seed, s.options.to_dict(), self.stages.names(),
                         s.save_previews, s.save_masks)

    def images_together(self) -> int:
        """How many images :meth:`run` hands the inpainter at once (see ``BatchSettings.inpaint_images``)."""
        if self.settings.inpaint_images:
            return self.settings.inpaint_images
        inpainter = self.stages.inpainter
        if self.dry_run or not isinstance(inpainter, CallInpainter):
            return 1
        return self.settings.options.inpaint_batch_size or inpainter.default_batch_size()

    def run(self, inputs: Sequence[Path]) -> BatchReport:
        """Process every image under ``inputs``, :meth:`images_together` at a time (a stop between images waits for
        the group); bad images are reported and the batch goes on."""
        start = time.perf_counter()
        out_dir = self.settings.out_dir
        items, problems = discover(list(inputs), exclude=out_dir)
        if self.settings.limit is not None:
            items = items[: self.settings.limit]
        report = BatchReport(problems=problems)
        with OutputFolderLock(out_dir):
            atomic.sweep_temporaries(out_dir)
            settings_hash = self.settings_hash()
            together = report.images_together = self.images_together()
            numbers = {id(item): number for number, item in enumerate(items)}

            def announce(item: InputItem) -> None:
                self.progress(ProgressEvent("image", numbers[id(item)], len(items), str(item.path)))

            for first in range(0, len(items), together):
                if self.stop_after_image():
                    report.interrupted, report.stopped_at = True, f"before {items[first].path}"
                    break
                outcomes = self.process_group(items[first:first + together], settings_hash, report.stage_seconds,
                                              announce)
                report.outcomes += outcomes
                stopped = next((o for o in outcomes if o.status == ImageStatus.INTERRUPTED), None)
                if stopped is not None:
                    report.interrupted, report.stopped_at = True, f"{stopped.input}: {stopped.message}"
                    break
            self.write_report(report, start)
        return report

    def write_report(self, report: BatchReport, start: float) -> None:
        """Set the wall time (from ``start``, a ``time.perf_counter()``) and write the batch report file; a failed
        write is recorded in ``report.report_error``, never raised."""
        out_dir = self.settings.out_dir
        report.wall_seconds = time.perf_counter() - start
        try:
            atomic.write_json(out_dir / REPORT_NAME, report.to_dict())
        except OSError as exc:
            report.report_error = f"{out_dir / REPORT_NAME}: not written ({exc.strerror or exc})"

    def process_in_memory(self, image: Image.Image, name: str, sha256: str) -> tuple[ImageResult, dict[str, Any]]:
        """Run the pipeline on an image that is not a file (an API upload); nothing is written."""
        result = self.pipeline.run(image, sha256, self.settings.seed)
        manifest = self._manifest({"path": name, "sha256": sha256, "size": list(image.size)}, result, {})
        return result, manifest

    def process(self, item: InputItem, settings_hash: str, stage_seconds: dict[str, float]) -> ItemOutcome:
        """One image: checked (:meth:`check`), then run and written (:meth:`complete`) unless that settled it."""
        return self.process_group([item], settings_hash, stage_seconds)[0]

    def process_group(self, items: Sequence[InputItem], settings_hash: str, stage_seconds: dict[str, float],
                      announce: Callable[[InputItem], None] = lambda item: None) -> list[ItemOutcome]:
        """Images checked (:meth:`check`), then those still to do run together and written
        (:meth:`complete_many`); one outcome per image in order, ending early after an interrupted one.
        ``announce`` runs as each image starts."""
        checked = [self.check(item, settings_hash) for item in items]
        done = iter(self.complete_many([c for c in checked if isinstance(c, PendingItem)], settings_hash,
                                       stage_seconds, lambda pending: announce(pending.item)))
        out: list[ItemOutcome] = []
        for outcome in checked:
            if isinstance(outcome, PendingItem):
                outcome = next(done, None)  # type: ignore[assignment]
                if outcome is None:  # interrupted before this image
                    break
            out.append(outcome)
        return out

    def check(self, item: InputItem, settings_hash: str) -> ItemOutcome | PendingItem:
        """The decision made before any stage runs: failed (a symlink out of the output folder, an unreadable
        file), skipped (done before with the same input hash and settings) or pending, with its input hash."""
        outputs = self._output_paths(item)
        real_out = self.settings.out_dir.resolve()
        if any(not path.parent.resolve().is_relative_to(real_out) for path in outputs.values()):
            return ItemOutcome(str(item.path), ImageStatus.FAILED,
                               message=f"{outputs['manifest'].parent}: a symlink leads out of the output folder")
        try:
            sha = sha256_file(item.path)
        except ImageLoadError as exc:
            return ItemOutcome(str(item.path), ImageStatus.FAILED, message=exc.problem)
        if self._already_done(outputs, sha, settings_hash):
            return ItemOutcome(str(item.path), ImageStatus.SKIPPED, _relative(outputs, self.settings.out_dir))
        return PendingItem(item, sha)

    def complete(self, pending: PendingItem, settings_hash: str, stage_seconds: dict[str, float]) -> ItemOutcome:
        """Run the pipeline on a pending image and write its outputs; stage times are added to ``stage_seconds``."""
        return self.complete_many([pending], settings_hash, stage_seconds)[0]

    def complete_many(self, pending: Sequence[PendingItem], settings_hash: str, stage_seconds: dict[str, float],
                      announce: Callable[[PendingItem], None] = lambda item: None) -> list[ItemOutcome]:
        """Prepare each pending image, inpaint them together (``Pipeline.inpaint``) and write their outputs; stage
        times are added to ``stage_seconds``. One outcome per image in order: a bad image fails alone (a failure
        of the shared inpaint is retried image by image to find whose it is), and an interruption stops the group
        there (the images prepared before it are reported interrupted too; none is written)."""
        outcomes: dict[int, ItemOutcome] = {}
        prepared: list[tuple[int, Image.Image, Prepared, float]] = []
        for number, item in enumerate(pending):
            announce(item)
            start = time.perf_counter()
            try:
                image = load_image(item.item.path, self.settings.max_pixels)
                prepared.append((number, image, self.pipeline.prepare(image, item.sha256, self.settings.seed),
                                 time.perf_counter() - start))
            except (ImageLoadError, StageFailed) as exc:
                outcomes[number] = _failed(item, exc)
            except Interrupted as exc:
                return self._interrupted(pending[:number + 1], outcomes, exc)
        try:
            results = self._inpaint_together([entry[2] for entry in prepared])
        except Interrupted as exc:
            return self._interrupted(pending, outcomes, exc)
        for (number, image, _, seconds), result in zip(prepared, results, strict=True):
            item = pending[number]
            if isinstance(result, StageFailed):
                outcomes[number] = _failed(item, result)
                continue
            start = time.perf_counter()
            outcomes[number] = self._write(item, image, result, settings_hash, stage_seconds)
            outcomes[number].seconds = seconds + result.timings.get("inpaint", 0.0) + time.perf_counter() - start
        return [outcomes[number] for number in range(len(pending))]

    def _inpaint_together(self, prepared: list[Prepared]) -> list[ImageResult | StageFailed]:
        """``Pipeline.inpaint`` of the group; when it fails, each image alone, so that a failure is its image's."""
        try:
            return list(self.pipeline.inpaint(prepared))
        except StageFailed as exc:
            if len(prepared) == 1:
                return [exc]
        out: list[ImageResult | StageFailed] = []
        for item in prepared:
            try:
                out += self.pipeline.inpaint([item])
            except StageFailed as exc:
                out.append(exc)
        return out

    @staticmethod
    def _interrupted(pending: Sequence[PendingItem], outcomes: dict[int, ItemOutcome],
                     exc: Interrupted) -> list[ItemOutcome]:
        """Outcomes of ``pending`` (those up to the interruption): the settled ones, the rest interrupted."""
        return [outcomes.get(number) or ItemOutcome(str(item.item.path), ImageStatus.INTERRUPTED, message=str(exc))
                for number, item in enumerate(pending)]

    def _write(self, pending: PendingItem, image: Image.Image, result: ImageResult, settings_hash: str,
               stage_seconds: dict[str, float]) -> ItemOutcome:
        """Write one image's outputs; its outcome (without seconds)."""
        item, sha = pending.item, pending.sha256
        for stage, seconds in result.timings.items():
            stage_seconds[stage] = stage_seconds.get(stage, 0.0) + seconds
        input_info = {"path": str(item.path), "sha256": sha, "size": list(image.size)}
        outputs = self._output_paths(item)
        try:
            self._write_outputs(image, result, outputs, input_info, settings_hash)
        except (OSError, ValueError) as exc:  # ValueError: an image the encoder refuses
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            return ItemOutcome(str(item.path), ImageStatus.FAILED, message=f"cannot write outputs: {reason}")
        status = ImageStatus.PLANNED if self.dry_run else ImageStatus.DONE
        return ItemOutcome(str(item.path), status, _relative(outputs, self.settings.out_dir),
                           restore_fallback=result.restore_fallback, control_not_applied=_control_not_applied(result))

    def _output_paths(self, item: InputItem) -> dict[str, Path]:
        wanted = {"tags", "manifest"}
        wanted |= {"caption"} if self.settings.options.caption and self.settings.options.tag else set()
        wanted |= {"preview"} if self.settings.save_previews else set()
        wanted |= {"masks"} if self.settings.save_masks else set()
        wanted |= set() if self.dry_run else {"result"}
        return {kind: item.output(self.settings.out_dir, SUFFIXES[kind]) for kind in SUFFIXES if kind in wanted}

    def _already_done(self, outputs: dict[str, Path], sha: str, settings_hash: str) -> bool:
        try:
            manifest = json.loads(outputs["manifest"].read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return False
        return (
            isinstance(manifest, dict)
            and manifest.get("input", {}).get("sha256") == sha
            and manifest.get("settings_hash") == settings_hash
            and not (manifest.get("restore") or {}).get("fallback")  # only resized: restore it now if possible
            and all(path.exists() for path in outputs.values())
        )

    def _write_outputs(self, original: Image.Image, result: ImageResult, outputs: dict[str, Path],
                       input_info: dict[str, Any], settings_hash: str) -> None:
        """Each file atomically; the manifest last, so its presence means the image is complete. An old manifest
        goes first (it must never vouch for files of another run), and a failed write removes this image's
        files again, so no result is ever left without its manifest."""
        outputs["manifest"].unlink(missing_ok=True)
        written: list[Path] = []
        try:
            if "result" in outputs and result.final is not None:
                atomic.write_image(outputs["result"], result.final, text=png_text(result))
                written.append(outputs["result"])
            if "preview" in outputs:
                atomic.write_image(outputs["preview"], render_preview(original, result), quality=88)
                written.append(outputs["preview"])
            if "masks" in outputs:
                overlay, _ = masks.colorize(result.masks, result.working.size)
                atomic.write_image(outputs["masks"], overlay)
                written.append(outputs["masks"])
            atomic.write_text(outputs["tags"], tags_line(result) + "\n")
            written.append(outputs["tags"])
            if "caption" in outputs:
                atomic.write_text(outputs["caption"], caption_line(result) + "\n")
                written.append(outputs["caption"])
            manifest = self._manifest(input_info, result, _relative(outputs, outputs["manifest"].parent),
                                      settings_hash)
            atomic.write_json(outputs["manifest"], manifest)
        except BaseException:
            for path in written:
                path.unlink(missing_ok=True)
            raise

    def _manifest(self, input_info: dict[str, Any], result: ImageResult, outputs: dict[str, str],
                  settings_hash: str | None = None) -> dict[str, Any]:
        return build_manifest(
            status=ImageStatus.PLANNED if self.dry_run else ImageStatus.DONE,
            input_info=input_info,
            result=result,
            theme_info={"name": self.theme.name, "hash": self.theme.hash(), "source": self.theme.source},
            seed=self.settings.seed,
            settings_hash=settings_hash or self.settings_hash(),
            options=self.settings.options.to_dict(),
            models=self.stages.names(),
            outputs=outputs,
        )


def _relative(outputs: dict[str, Path], base: Path) -> dict[str, str]:
    return {kind: path.relative_to(base).as_posix() for kind, path in outputs.items()}


def _failed(pending: PendingItem, exc: ImageLoadError | StageFailed) -> ItemOutcome:
    message = exc.problem if isinstance(exc, ImageLoadError) else str(exc)
    return ItemOutcome(str(pending.item.path), ImageStatus.FAILED, message=message)


def _control_not_applied(result: ImageResult) -> dict[str, int]:
    """Reason -> jobs of ``result`` that ran without their ControlNet unit for it."""
    reasons = Counter(rec["reason"] for rec in (result.control.records if result.control else [])
                      if rec is not None and not rec["applied"])
    return dict(reasons)
