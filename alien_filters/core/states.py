"""The states an image and a job go through, as recorded in manifests, batch reports and the API."""

from __future__ import annotations

from enum import Enum


class ImageStatus(str, Enum):
    """What happened to one input. The value is what manifests, reports and the API say."""

    DONE = "done"
    PLANNED = "planned"
    """A dry run: restored, tagged, segmented and planned, not inpainted."""
    SKIPPED = "skipped"
    """Already done with the same input and settings."""
    FAILED = "failed"
    INTERRUPTED = "interrupted"
    """The user stopped the run (Ctrl-C, Interrupt, a job cancel) while this image was in work: stopped, not
    failed; the next run resumes it."""

    def __str__(self) -> str:
        return self.value


class JobState(str, Enum):
    """A folder job of the API."""

    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"
    INTERRUPTED = "interrupted"

    def __str__(self) -> str:
        return self.value


FINISHED_JOB_STATES = frozenset({JobState.DONE, JobState.FAILED, JobState.CANCELLED, JobState.INTERRUPTED})
