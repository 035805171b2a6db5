"""A Ray batch driver in its own process, for the driver-kill test: ``python -m tests.support.ray_driver IN OUT
ADDRESS DELAY`` joins the Ray cluster at ADDRESS and runs the alien theme (seed 11) with the colour doubles, DELAY
seconds of sleep per inpaint job (tests/support/ray_stages.py)."""

from __future__ import annotations

import sys
from pathlib import Path

from alien_filters.batch.runner import BatchSettings
from alien_filters.cluster.options import RayOptions
from alien_filters.cluster.ray_pipeline import RayBatch
from alien_filters.themes import get_theme
from tests.support.ray_stages import DoubleStages

SEED = 11


def main(argv: list[str]) -> int:
    src, out, address, delay = Path(argv[0]), Path(argv[1]), argv[2], float(argv[3])
    builder = DoubleStages(delay=delay)
    report = RayBatch(builder(), builder, get_theme("alien"), BatchSettings(out_dir=out, seed=SEED),
                      RayOptions(address=address, actors=2), show_progress=False).run([src])
    print(report.summary())
    return 1 if report.failures() else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
