"""A batch run in its own process, for kill-and-resume tests: ``python -m tests.support.batch_worker IN OUT [DELAY]``.

DELAY seconds of sleep per inpaint job widen the windows in which a kill lands mid-image.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from alien_filters.batch.runner import BatchRunner, BatchSettings
from alien_filters.core.pipeline import Stages
from alien_filters.themes import get_theme
from tests.support.doubles import ColourSegmenter, ColourTagger, PaintInpainter, ResizeRestorer


class SlowPaintInpainter(PaintInpainter):
    def __init__(self, delay: float) -> None:
        super().__init__()
        self.delay = delay

    def inpaint(self, image, job):
        time.sleep(self.delay)
        return super().inpaint(image, job)


def main(argv: list[str]) -> int:
    src, out = Path(argv[0]), Path(argv[1])
    delay = float(argv[2]) if len(argv) > 2 else 0.0
    stages = Stages(ResizeRestorer(), ColourTagger(), ColourSegmenter(), SlowPaintInpainter(delay))
    report = BatchRunner(stages, get_theme("alien"), BatchSettings(out_dir=out, seed=11)).run([src])
    print(report.summary())
    return 1 if report.failures() else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
