"""The real command line with the colour-reading stage doubles in place of the models:
``python -m tests.support.cli_with_doubles process IN --out OUT ...`` (any ``alien_filters`` command).

Only the stage factory is replaced; argument parsing, theme loading, the batch, its errors and the exit code are
the product's own.
"""

from __future__ import annotations

import sys

from alien_filters import cli
from alien_filters.core.pipeline import PipelineOptions, Stages
from alien_filters.stages import factory
from tests.support.doubles import ColourSegmenter, ColourTagger, PaintInpainter, ResizeRestorer


def double_stages(choices: object, options: PipelineOptions, **_: object) -> Stages:
    return Stages(ResizeRestorer(), ColourTagger(), ColourSegmenter(),
                  PaintInpainter() if options.inpaint else None)


def main(argv: list[str]) -> int:
    """``cli.main(argv)`` with the doubles as stages (the factory is restored afterwards)."""
    real = factory.build_stages
    factory.build_stages = double_stages
    try:
        return cli.main(argv)
    finally:
        factory.build_stages = real


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
