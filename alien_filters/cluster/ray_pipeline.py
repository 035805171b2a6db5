"""The driver of a Ray run: discovery and skip-if-done as the local batch decides them, then a Ray Data pipeline
whose actor pool runs and writes the images still to do; outcomes stream back into the local batch's report."""

from __future__ import annotations

import json
import logging
import time
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator, Sequence

from ..batch import atomic
from ..batch.discovery import discover
from ..batch.lock import OutputFolderLock
from ..batch.outcomes import ItemOutcome, PendingItem
from ..batch.runner import BatchRunner, BatchSettings
from ..core.contracts import InterruptCheck, never_interrupted
from ..core.pipeline import Stages
from ..core.states import ImageStatus
from .actors import ImageWorker, StageBuilder
from .options import LOCAL, RayOptions, RayUnavailable, require_ray
from .progress import ClusterProgress
from .report import ClusterReport, Placement

if TYPE_CHECKING:
    from ..core.theme import Theme


@contextmanager
def ray_session(options: RayOptions) -> Iterator[str]:
    """Ray connected for the run, yielding its address: a Ray already initialised in this process is used as it is
    (and left running); otherwise ``local`` starts an instance that ends with the run, any other address joins
    that cluster."""
    ray = require_ray()
    if ray.is_initialized():
        yield ray.get_runtime_context().gcs_address
        return
    kwargs: dict[str, Any] = {"include_dashboard": False, "logging_level": logging.WARNING,
                              "configure_logging": True, "log_to_driver": True}
    if options.address == LOCAL:  # "local" always starts a new instance, even beside a `ray start` on this machine
        kwargs.update(address="local", num_cpus=options.local_cpus)
    else:
        kwargs["address"] = options.address
    try:
        ray.init(**kwargs)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        raise RayUnavailable(f"--ray {options.address}: cannot connect ({exc})") from None
    try:
        yield ray.get_runtime_context().gcs_address
    finally:
        ray.shutdown()


class RayBatch:
    """Runs a batch on Ray with the local batch's decisions and files.

    ``stages`` are the driver's (built as the command line builds them: they check that the models are there and
    name the stages for the settings hash); ``builder`` makes the same stages inside every actor.
    """

    def __init__(self, stages: Stages, builder: StageBuilder, theme: Theme, settings: BatchSettings,
                 options: RayOptions, stop_after_image: InterruptCheck = never_interrupted,
                 show_progress: bool = True) -> None:
        self.runner = BatchRunner(stages, theme, settings)
        self.builder = builder
        self.theme = theme
        self.settings = settings
        self.options = options
        self.stop_after_image = stop_after_image
        self.show_progress = show_progress

    def run(self, inputs: Sequence[Path]) -> ClusterReport:
        """Process every image under ``inputs`` on Ray; bad images are reported and the batch goes on."""
        start = time.perf_counter()
        out_dir = self.settings.out_dir
        items, problems = discover(list(inputs), exclude=out_dir)
        if self.settings.limit is not None:
            items = items[: self.settings.limit]
        report = ClusterReport(problems=problems, actors=self.options.actors)
        with OutputFolderLock(out_dir):
            atomic.sweep_temporaries(out_dir)
            settings_hash = self.runner.settings_hash()
            decided: dict[int, ItemOutcome] = {}
            pending: dict[int, PendingItem] = {}
            for index, item in enumerate(items):
                checked = self.runner.check(item, settings_hash)
                if isinstance(checked, ItemOutcome):
                    decided[index] = checked
                else:
                    pending[index] = checked
            with ClusterProgress(len(items), disable=not self.show_progress) as bar:
                for outcome in decided.values():
                    bar.add(outcome.status)
                if pending:
                    with ray_session(self.options) as address:
                        report.address = address
                        self._dispatch_or_record(pending, settings_hash, report, decided, bar)
            report.outcomes = [decided[i] for i in sorted(decided)]
            self.runner.write_report(report, start)
        return report

    def _dispatch_or_record(self, pending: dict[int, PendingItem], settings_hash: str, report: ClusterReport,
                            decided: dict[int, ItemOutcome], bar: ClusterProgress) -> None:
        """:meth:`_dispatch`; when the pool itself fails (an actor that cannot start: another library version on a
        node, a model its node lacks), every image it did not finish is failed with that reason and the report
        is still written."""
        from ray.exceptions import RayError

        try:
            self._dispatch(pending, settings_hash, report, decided, bar)
        except RayError as exc:
            lines = [line for line in str(exc).splitlines() if line.strip()]
            reason = "the Ray pool failed: " + (lines[-1].strip() if lines else type(exc).__name__)
            for index, item in pending.items():
                if index not in decided:
                    decided[index] = ItemOutcome(str(item.item.path), ImageStatus.FAILED, message=reason)
                    bar.add(ImageStatus.FAILED)

    def _dispatch(self, pending: dict[int, PendingItem], settings_hash: str, report: ClusterReport,
                  decided: dict[int, ItemOutcome], bar: ClusterProgress) -> None:
        """Stream the pending images through the actor pool, collecting each outcome as it arrives. Leaving early
        (a stop) closes the stream, which shuts the execution and its actors down, also on a Ray that stays up."""
        rows = iter(self._dataset(pending, settings_hash).iter_rows())  # a generator: close() ends the execution
        try:
            self._collect(rows, pending, report, decided, bar)
        finally:
            rows.close()

    def _collect(self, rows: Any, pending: dict[int, PendingItem], report: ClusterReport,
                 decided: dict[int, ItemOutcome], bar: ClusterProgress) -> None:
        for row in rows:
            index = int(row["index"])
            outcome = ItemOutcome(str(pending[index].item.path), ImageStatus(row["status"]),
                                  json.loads(row["outputs"]), row["message"], float(row["seconds"]),
                                  row["restore_fallback"] or None)
            decided[index] = outcome
            report.placements.append(Placement(outcome.input, str(row["node"]), int(row["pid"]),
                                               float(row["actor_init_s"]), float(row["actor_ready_at"])))
            for stage, seconds in json.loads(row["timings"]).items():
                report.stage_seconds[stage] = report.stage_seconds.get(stage, 0.0) + seconds
            bar.add(outcome.status)
            if self.stop_after_image():
                left = sum(1 for i in pending if i not in decided)
                if left:
                    report.interrupted = True
                    report.stopped_at = f"{left} of {len(pending)} images sent to Ray not finished (dropped)"
                break

    def _dataset(self, pending: dict[int, PendingItem], settings_hash: str) -> Any:
        """One row per pending image, one block each (so any actor can take any image), mapped by the pool."""
        import ray.data

        context = ray.data.DataContext.get_current()
        context.enable_progress_bars = False  # the driver's own bar counts outcomes
        context.print_on_execution_start = False
        rows = [{"index": i, "path": str(p.item.path), "rel_stem": p.item.rel_stem} for i, p in pending.items()]
        options = self.options
        return ray.data.from_items(rows, override_num_blocks=len(rows)).map_batches(
            ImageWorker,
            fn_constructor_kwargs={"builder": self.builder, "theme": self.theme, "settings": self.settings,
                                   "settings_hash": settings_hash, "stage_names": self.runner.stages.names(),
                                   "threads": options.threads_per_actor},
            compute=ray.data.ActorPoolStrategy(size=options.actors),
            batch_size=options.batch_size,
            batch_format="numpy",
            num_cpus=options.cpus_per_actor,
            num_gpus=options.gpus_per_actor or None,
        )  # Ray Data's pool restarts a lost actor (max_restarts=-1) and retries its images on it (max_task_retries=-1)
