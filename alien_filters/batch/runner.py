"""The batch runner: many images in, a mirrored output tree out; resumable, atomic, never touching originals."""

from __future__ import annotations

import json
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

from PIL import Image

from ..core import masks
from ..core.cache import cache_key
from ..core.contracts import InterruptCheck, ProgressEvent, ProgressSink, never_interrupted, no_progress
from ..core.infotext import png_text
from ..core.pipeline import ImageResult, Interrupted, Pipeline, PipelineOptions, StageFailed, Stages
from ..core.states import ImageStatus
from . import atomic
from .cache import StageCache
from .discovery import InputItem, InputProblem, discover
from .imageio import DEFAULT_MAX_PIXELS, ImageLoadError, load_image, sha256_file
from .lock import OutputFolderLock
from .manifest import FORMAT, build_manifest, caption_line, tags_line
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


@dataclass
class ItemOutcome:
    """What happened to one input: done, planned (dry run), skipped (already done), failed or interrupted."""

    input: str
    status: ImageStatus
    outputs: dict[str, str] = field(default_factory=dict)
    message: str = ""
    seconds: float = 0.0
    restore_fallback: str | None = None
    """Why the restorer only resized this image (its model could not run); None when it restored."""
    control_not_applied: dict[str, int] = field(default_factory=dict)
    """Why ControlNet units of this image's jobs did not run -> how many jobs ran without theirs."""


@dataclass(frozen=True)
class PendingItem:
    """An input that :meth:`BatchRunner.check` found still to do, with the sha256 it was checked under."""

    item: InputItem
    sha256: str


@dataclass
class BatchReport:
    outcomes: list[ItemOutcome] = field(default_factory=list)
    problems: list[InputProblem] = field(default_factory=list)
    interrupted: bool = False
    stopped_at: str | None = None
    stage_seconds: dict[str, float] = field(default_factory=dict)
    wall_seconds: float = 0.0
    report_error: str | None = None
    """Why the batch report file could not be written (a full disk, say); the summary says it too."""

    def by_status(self, status: str) -> list[ItemOutcome]:
        return [o for o in self.outcomes if o.status == status]

    def counts(self) -> dict[str, int]:
        counts = {s.value: 0 for s in ImageStatus}
        for outcome in self.outcomes:
            counts[outcome.status] += 1
        counts["failed"] += len(self.problems)
        return counts

    def failures(self) -> list[tuple[str, str]]:
        """(input, reason) for every input that failed, including files that were never images."""
        return [(str(p.path), p.problem) for p in self.problems] + [
            (o.input, o.message) for o in self.outcomes if o.status == ImageStatus.FAILED
        ]

    def summary(self) -> str:
        """Human summary: counts, failures with reasons, where it stopped, time per stage."""
        c = self.counts()
        lines = [f"done {c['done'] + c['planned']}, skipped {c['skipped']}, failed {c['failed']}"
                 + (f" ({c['planned']} planned only: dry run)" if c["planned"] else "")]
        lines += [f"  failed: {path}: {reason}" for path, reason in self.failures()]
        if self.interrupted:
            lines.append(f"stopped at {self.stopped_at}; run the same command again to resume")
        if self.stage_seconds:
            lines.append("time per stage: " + ", ".join(f"{k} {v:.1f}s" for k, v in self.stage_seconds.items()))
        lines.append(f"wall time {self.wall_seconds:.1f}s")
        if self.report_error:
            lines.append(f"warning: {self.report_error}")
        lines += self.restore_warnings()
        lines += self.control_warnings()
        return "\n".join(lines)

    def control_warnings(self) -> list[str]:
        """One warning per distinct reason jobs ran without their ControlNet unit (once per batch, with counts)."""
        jobs: Counter[str] = Counter()
        images: Counter[str] = Counter()
        for outcome in self.outcomes:
            for reason, n in outcome.control_not_applied.items():
                jobs[reason] += n
                images[reason] += 1
        return [f"warning: {jobs[r]} job(s) in {images[r]} image(s) ran without their ControlNet unit "
                f"(structure guidance): {r}" for r in jobs]

    def restore_warnings(self) -> list[str]:
        """One warning per distinct reason the restorer only resized images (with how many)."""
        reasons = Counter(o.restore_fallback for o in self.outcomes if o.restore_fallback)
        return [f"warning: {n} image(s) only resized, not restored: {reason}; once the restorer works, the same "
                "command restores them (they are not skipped as done)" for reason, n in reasons.items()]

    def to_dict(self) -> dict[str, Any]:
        return {
            "counts": self.counts(),
            "outcomes": [asdict(o) for o in self.outcomes],
            "failures": [{"input": p, "reason": r} for p, r in self.failures()],
            "interrupted": self.interrupted,
            "stopped_at": self.stopped_at,
            "stage_seconds": {k: round(v, 3) for k, v in self.stage_seconds.items()},
            "wall_seconds": round(self.wall_seconds, 3),
        }


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

    def run(self, inputs: Sequence[Path]) -> BatchReport:
        """Process every image under ``inputs``; bad images are reported and the batch goes on."""
        start = time.perf_counter()
        out_dir = self.settings.out_dir
        items, problems = discover(list(inputs), exclude=out_dir)
        if self.settings.limit is not None:
            items = items[: self.settings.limit]
        report = BatchReport(problems=problems)
        with OutputFolderLock(out_dir):
            atomic.sweep_temporaries(out_dir)
            settings_hash = self.settings_hash()
            for index, item in enumerate(items):
                if self.stop_after_image():
                    report.interrupted, report.stopped_at = True, f"before {item.path}"
                    break
                self.progress(ProgressEvent("image", index, len(items), str(item.path)))
                outcome = self.process(item, settings_hash, report.stage_seconds)
                report.outcomes.append(outcome)
                if outcome.status == ImageStatus.INTERRUPTED:
                    report.interrupted, report.stopped_at = True, f"{item.path}: {outcome.message}"
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
        checked = self.check(item, settings_hash)
        return checked if isinstance(checked, ItemOutcome) else self.complete(checked, settings_hash, stage_seconds)

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
        start = time.perf_counter()
        item, sha = pending.item, pending.sha256
        outputs = self._output_paths(item)
        try:
            image = load_image(item.path, self.settings.max_pixels)
            result = self.pipeline.run(image, sha, self.settings.seed)
        except ImageLoadError as exc:
            return ItemOutcome(str(item.path), ImageStatus.FAILED, message=exc.problem)
        except StageFailed as exc:
            return ItemOutcome(str(item.path), ImageStatus.FAILED, message=str(exc))
        except Interrupted as exc:
            return ItemOutcome(str(item.path), ImageStatus.INTERRUPTED, message=str(exc))
        for stage, seconds in result.timings.items():
            stage_seconds[stage] = stage_seconds.get(stage, 0.0) + seconds
        input_info = {"path": str(item.path), "sha256": sha, "size": list(image.size)}
        try:
            self._write_outputs(image, result, outputs, input_info, settings_hash)
        except (OSError, ValueError) as exc:  # ValueError: an image the encoder refuses
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            return ItemOutcome(str(item.path), ImageStatus.FAILED, message=f"cannot write outputs: {reason}")
        status = ImageStatus.PLANNED if self.dry_run else ImageStatus.DONE
        return ItemOutcome(str(item.path), status, _relative(outputs, self.settings.out_dir),
                           seconds=time.perf_counter() - start, restore_fallback=result.restore_fallback,
                           control_not_applied=_control_not_applied(result))

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


def _control_not_applied(result: ImageResult) -> dict[str, int]:
    """Reason -> jobs of ``result`` that ran without their ControlNet unit for it."""
    reasons = Counter(rec["reason"] for rec in (result.control.records if result.control else [])
                      if rec is not None and not rec["applied"])
    return dict(reasons)
