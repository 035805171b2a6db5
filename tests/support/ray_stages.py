"""Stage builders for the cluster tests, pickled to Ray actors (which import this module: PYTHONPATH holds the
repository): the colour-reading doubles of tests/support/doubles.py, with an inpainter that can be slowed down or
that SIGKILLs its own actor process once, in the middle of an image."""

from __future__ import annotations

import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path

from alien_filters.core.pipeline import Stages
from tests.support.doubles import ColourSegmenter, ColourTagger, PaintInpainter, ResizeRestorer


@dataclass
class KillingInpainter(PaintInpainter):
    """Paints as PaintInpainter; sleeps ``delay`` per job; on the first job of the ``kill_at``-th image this
    process inpaints, SIGKILLs the process, once for all actors (``marker`` is created first)."""

    delay: float = 0.0
    marker: str | None = None
    kill_at: int = 2
    images_seen: int = 0

    def inpaint(self, image, job):
        time.sleep(self.delay)
        if job.index == 0:
            self.images_seen += 1
            if self.marker is not None and self.images_seen == self.kill_at:
                try:
                    fd = os.open(self.marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
                except FileExistsError:
                    pass
                else:
                    os.write(fd, str(os.getpid()).encode())
                    os.close(fd)
                    os.kill(os.getpid(), signal.SIGKILL)
        return super().inpaint(image, job)


@dataclass(frozen=True)
class DoubleStages:
    """Builds the doubles; ``marker``: the file whose creation marks the one kill (None: no kill)."""

    delay: float = 0.0
    marker: Path | None = None
    kill_at: int = 2

    def __call__(self) -> Stages:
        inpainter = KillingInpainter(delay=self.delay, marker=str(self.marker) if self.marker else None,
                                     kill_at=self.kill_at)
        return Stages(ResizeRestorer(), ColourTagger(), ColourSegmenter(), inpainter)


@dataclass(frozen=True)
class OtherStages(DoubleStages):
    """The doubles with another tagger name: what a node with other library versions would build."""

    def __call__(self) -> Stages:
        stages = super().__call__()
        stages.tagger.name = "another-tagger"
        return stages
