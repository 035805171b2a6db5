"""The ``report`` sub-command: ``python -m alien_filters report INPUT... --out DIR [--theme NAME] ...``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from ..batch.progress_bar import TqdmProgress
from ..themes import ThemeError, get_theme

EXIT_OK, EXIT_USAGE = 0, 2


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``report`` to the sub-parsers of ``python -m alien_filters``."""
    parser = subparsers.add_parser("report", help="tag a set of photos and write an HTML report with charts",
                                   description=__doc__)
    parser.add_argument("inputs", nargs="+", type=Path, metavar="INPUT", help="image files and folders (recursive)")
    parser.add_argument("--out", required=True, type=Path, help="folder for report.html and report.json")
    parser.add_argument("--theme", default="alien", help="theme whose coverage is reported (default: alien)")
    parser.add_argument("--themes-dir", type=Path, help="folder of your own theme YAML files")
    parser.add_argument("--models-dir", type=Path, default=None,
                        help="models folder (default: $ALIEN_FILTERS_MODELS_DIR or ~/.cache/alien-filters/models)")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps")
    parser.add_argument("--manifests", type=Path, action="append", default=[], metavar="DIR",
                        help="batch output folder whose manifests' tags are reused (repeatable)")
    parser.add_argument("--offline", action="store_true", help="never download a model")
    parser.add_argument("--no-embeddings", action="store_true", help="do not cluster by CLIP image embeddings")
    parser.add_argument("--no-cache", action="store_true", help="tag every image again")
    parser.add_argument("--captions", choices=("auto", "on", "off"), default="auto",
                        help="caption each image with BLIP for the Captions section (auto: when BLIP is on disk; "
                             "on: download it if needed)")
    parser.set_defaults(handler=cmd_report)
    return parser


def cmd_report(args: argparse.Namespace) -> int:
    """Run the report with the stand-alone tagger (built only when an image has no cached tags)."""
    from ..core.run_options import StageChoices
    from ..models.device import pick_device
    from ..stages.factory import CAPTION_MODEL, STYLE_MODEL, build_tagger, detector_model, make_manager
    from .collect import LazyEmbedder, LazyTagger, StageUnavailable
    from .embed import ClipImageEmbedder, Embedder
    from .run import ReportOptions, run_report

    try:
        theme = get_theme(args.theme, args.themes_dir)
        device = str(pick_device(args.device))
    except (ThemeError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    manager = make_manager(args.models_dir, allow_download=not args.offline)
    choices = StageChoices()
    captions = args.captions == "on" or (args.captions == "auto" and manager.locate(CAPTION_MODEL) is not None)
    name = f"{detector_model(choices)}+{STYLE_MODEL}" + (f"+{CAPTION_MODEL}" if captions else "")
    tagger = LazyTagger(name, lambda: build_tagger(manager, choices, device, captions=captions))
    embedder: Embedder | None = None
    clip_folder = None if args.no_embeddings else manager.locate(STYLE_MODEL)
    if clip_folder is not None:
        def build_embedder() -> Embedder:
            scorer = getattr(tagger.built, "style_scorer", None)  # share the tagger's CLIP when it is loaded
            return ClipImageEmbedder.from_scorer(scorer) if scorer is not None else \
                ClipImageEmbedder.from_folder(clip_folder, device)
        embedder = LazyEmbedder(f"clip:{clip_folder.name}", build_embedder)
    options = ReportOptions(out_dir=args.out, theme=theme, manifests=tuple(args.manifests),
                            use_cache=not args.no_cache, captions=captions)
    try:
        with TqdmProgress() as progress:
            result = run_report(args.inputs, tagger, options, embedder, progress)
    except (StageUnavailable, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    print(result.summary())
    return EXIT_OK
