"""What a batch did: each input's outcome, and the batch report with its summary."""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

from ..core.states import ImageStatus
from .discovery import InputItem, InputProblem


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
    images_together: int | None = None
    """How many images the local batch handed the inpainter at a time (None: not a local batch)."""

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
            "images_together": self.images_together,
        }
