"""The actors of the Ray pool: each builds the stages once (through the stand-alone factory and model manager) and
runs images through the local batch's own per-image code, so decisions, outputs and the atomic writer are shared."""

from __future__ import annotations

import json
import os
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from ..batch.discovery import InputItem
from ..batch.outcomes import ItemOutcome
from ..batch.runner import BatchRunner, BatchSettings
from ..core.pipeline import PipelineOptions, Stages
from ..core.run_options import StageChoices
from ..core.states import ImageStatus

if TYPE_CHECKING:
    import numpy as np

    from ..core.theme import Theme

StageBuilder = Callable[[], Stages]
"""Builds the stages inside an actor; pickled to every node, so a module-level class or function."""

RETRIED = "finished by an earlier attempt of this run (its worker was lost before it reported)"
ROW_FIELDS = ("index", "status", "outputs", "message", "seconds", "restore_fallback", "timings", "node", "pid",
              "actor_init_s", "actor_ready_at")


@dataclass(frozen=True)
class FactoryStages:
    """The stages the command line builds (``stages.factory.build_stages``), rebuilt from these arguments in each
    actor: model files come from each node's ``models_dir`` (or its default), downloaded there on first use."""

    choices: StageChoices
    options: PipelineOptions
    models_dir: Path | None = None
    device: str = "auto"
    checkpoint: Path | None = None
    checkpoint_config: Path | None = None
    allow_download: bool = True

    def __call__(self) -> Stages:
        from ..stages.factory import build_stages

        return build_stages(self.choices, self.options, models_dir=self.models_dir, device=self.device,
                            checkpoint=self.checkpoint, checkpoint_config=self.checkpoint_config,
                            allow_download=self.allow_download)


class StagesDiffer(RuntimeError):
    """An actor built other stages than the driver (another library version on its node, say)."""


class ImageWorker:
    """``map_batches`` callable: rows of (index, path, rel_stem) in, one outcome row per image out."""

    def __init__(self, builder: StageBuilder, theme: Theme, settings: BatchSettings, settings_hash: str,
                 stage_names: dict[str, str | None], threads: int = 1) -> None:
        start = time.perf_counter()
        import ray
        import torch

        torch.set_num_threads(threads)
        stages = builder()
        if stages.names() != stage_names:  # manifests would name models this actor does not run
            raise StagesDiffer(f"this node built the stages {stages.names()}, the driver {stage_names}: install "
                               "the same alien-filters and library versions on every node")
        self.runner = BatchRunner(stages, theme, settings)
        self.settings_hash = settings_hash
        self.node = ray.get_runtime_context().get_node_id()
        self.pid = os.getpid()
        self.init_seconds = time.perf_counter() - start
        """Imports, stage building and eager model loads: the actor's start-up, before its first image."""
        self.ready_at = time.time()

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, list[Any]]:
        """The rows' images, :meth:`BatchRunner.images_together` at a time (their diffusion calls share batches)."""
        rows: dict[str, list[Any]] = {name: [] for name in ROW_FIELDS}
        items = [InputItem(Path(str(path)), str(rel_stem)) for path, rel_stem in zip(batch["path"], batch["rel_stem"],
                                                                                      strict=True)]
        together = self.runner.images_together()
        for first in range(0, len(items), together):
            timings: dict[str, float] = {}
            outcomes = self._group(items[first:first + together], timings)
            for offset, outcome in enumerate(outcomes):  # the group's stage seconds ride on its first row (summed)
                values = (int(batch["index"][first + offset]), outcome.status.value, json.dumps(outcome.outputs),
                          outcome.message, outcome.seconds, outcome.restore_fallback or "",
                          json.dumps(timings if offset == 0 else {}), self.node, self.pid, self.init_seconds,
                          self.ready_at)
                for name, value in zip(ROW_FIELDS, values, strict=True):
                    rows[name].append(value)
        return rows

    def _group(self, items: list[InputItem], timings: dict[str, float]) -> list[ItemOutcome]:
        """As the local batch processes a group of images, checked again here: an image found done now was
        finished by an attempt whose actor died before reporting (the driver found it still to do), so it is not
        written twice. Anything unexpected is retried image by image, and fails its image alone, with its reason."""
        try:
            outcomes = self.runner.process_group(items, self.settings_hash, timings)
        except Exception as exc:  # one image's surprise must not fail the pool's task (Ray would retry it forever)
            if len(items) == 1:
                traceback.print_exc()
                return [ItemOutcome(str(items[0].path), ImageStatus.FAILED, message=f"{type(exc).__name__}: {exc}")]
            return [outcome for item in items for outcome in self._group([item], timings)]
        return [self._retried(outcome) for outcome in outcomes]

    def _retried(self, outcome: ItemOutcome) -> ItemOutcome:
        """An image skipped as done here was finished by an earlier attempt of this run: reported as done."""
        if outcome.status != ImageStatus.SKIPPED:
            return outcome
        status = ImageStatus.PLANNED if self.runner.dry_run else ImageStatus.DONE
        return ItemOutcome(outcome.input, status, outcome.outputs, message=RETRIED)

