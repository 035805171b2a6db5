"""Command line: ``python -m alien_filters themes | check-theme | models | process``."""

from __future__ import annotations

import argparse
import json
import signal
import sys
from pathlib import Path
from typing import Sequence

from . import __version__
from .batch.lock import OutputFolderError
from .batch.progress_bar import TqdmProgress
from .batch.runner import BatchRunner, BatchSettings
from .cluster.cli_args import add_ray_args, ray_batch, ray_options
from .cluster.options import InvalidRayOptions, RayUnavailable
from .core.pipeline import PipelineOptions, StageMissing, required_stages
from .core.sizing import WorkingSize
from .core.theme import without_control
from .models.download import DownloadError
from .report.cli import add_parser as add_report_parser
from .themes import ThemeError, get_theme, load_catalog, load_theme
from .themes.lint import check_theme, theme_uses_caption

EXIT_OK, EXIT_FAILURES, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return EXIT_USAGE
    return args.handler(args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m alien_filters", description=__doc__)
    parser.add_argument("--version", action="version", version=f"alien-filters {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    themes = sub.add_parser("themes", help="list the themes (built-in and from --themes-dir)")
    themes.add_argument("--themes-dir", type=Path, help="folder of your own theme YAML files")
    themes.add_argument("--json", action="store_true", help="print every theme with its rules as JSON")
    themes.set_defaults(handler=cmd_themes)

    check = sub.add_parser("check-theme", help="validate a theme file (exit 0 when valid)")
    check.add_argument("file", type=Path)
    check.set_defaults(handler=cmd_check_theme)

    models = sub.add_parser("models", help="list the models Alien Filters uses and which are present")
    _add_model_args(models)
    models.add_argument("--json", action="store_true")
    models.set_defaults(handler=cmd_models)

    process = sub.add_parser("process", help="restyle images and folders")
    process.add_argument("inputs", nargs="+", type=Path, metavar="INPUT", help="image files and folders (recursive)")
    process.add_argument("--out", required=True, type=Path, help="output folder (mirrors the input tree)")
    process.add_argument("--theme", default="alien", help="theme name (default: alien)")
    process.add_argument("--themes-dir", type=Path, help="folder of your own theme YAML files")
    process.add_argument("--dry-run", action="store_true", help="restore, tag, segment and plan; no inpainting")
    process.add_argument("--seed", type=int, default=0, help="base seed; the same seed reproduces a run")
    process.add_argument("--limit", type=int, help="process at most N images")
    process.add_argument("--short-side", type=int, default=512, help="working size: short side in pixels")
    process.add_argument("--max-long-side", type=int, default=1024, help="working size: long side cap")
    process.add_argument("--no-restore", action="store_true", help="plain resize instead of SwinIR")
    process.add_argument("--no-segment", action="store_true", help="use detection boxes as masks")
    process.add_argument("--no-preview", action="store_true", help="do not write preview sheets")
    process.add_argument("--save-masks", action="store_true", help="also write a coloured mask image")
    process.add_argument("--no-cache", action="store_true", help="do not reuse cached restore/tag/segment results")
    process.add_argument("--captions", action="store_true",
                         help="also caption each image with BLIP: NAME.caption (one line) and the manifest's tags")
    process.add_argument("--no-control", action="store_true",
                         help="run without the theme's structure guidance (no ControlNet unit, nothing downloaded "
                              "for it)")
    process.add_argument("--regional", action=argparse.BooleanOptionalAction, default=None,
                         help="merge overlapping jobs into regional diffusion calls, or not (default: the theme's "
                              "regional, itself true by default)")
    process.add_argument("--inpaint-batch-size", type=_non_negative, default=0, metavar="N",
                         help="diffusion calls of the same size per batch (default 0: 1 on a CPU, as many as half "
                              "the free GPU memory holds on CUDA, at most 8)")
    process.add_argument("--inpaint-images", type=_non_negative, default=0, metavar="N",
                         help="images handed to the inpainter together, so that their diffusion calls share batches "
                              "(default 0: as many as a batch holds calls, i.e. the inpaint batch size)")
    _add_model_args(process)
    add_ray_args(process)
    process.set_defaults(handler=cmd_process)
    add_report_parser(sub)
    return parser


def _non_negative(text: str) -> int:
    """An argparse type: an integer of at least 0."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be at least 0, got {value}")
    return value


def _add_model_args(parser: argparse.ArgumentParser) -> None:
    from .core.run_options import StageChoices

    parser.add_argument("--models-dir", type=Path, default=None,
                        help="models folder (default: $ALIEN_FILTERS_MODELS_DIR or ~/.cache/alien-filters/models)")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps")
    parser.add_argument("--offline", action="store_true", help="never download: fail with where to put the file")
    parser.add_argument("--checkpoint", type=Path, help="SD inpainting checkpoint (file or diffusers folder)")
    parser.add_argument("--checkpoint-config", type=Path,
                        help="local diffusers config folder for a single-file checkpoint (offline use)")
    parser.add_argument("--restorer", default=StageChoices.restorer, choices=StageChoices.RESTORERS)
    parser.add_argument("--detector", default=StageChoices.detector, choices=StageChoices.DETECTORS)
    parser.add_argument("--segmenter", default=StageChoices.segmenter, choices=StageChoices.SEGMENTERS)


def cmd_themes(args: argparse.Namespace) -> int:
    catalog = load_catalog(args.themes_dir)
    for error in catalog.errors:
        print(f"warning: {error}", file=sys.stderr)
    if args.json:
        print(json.dumps([theme.to_dict() for theme in catalog.themes.values()], indent=1, ensure_ascii=False))
        return EXIT_OK
    for theme in catalog.themes.values():
        summary = theme.description.strip().splitlines()[0][:90] if theme.description.strip() else ""
        print(f"{theme.name:<18} {len(theme.classes()):>3} classes  {summary}")
    return EXIT_OK


def cmd_check_theme(args: argparse.Namespace) -> int:
    try:
        theme = load_theme(args.file)
    except ThemeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    warnings, notes = check_theme(theme)
    for warning in warnings:
        print(f"warning: {warning}", file=sys.stderr)
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    rules, classes = len(theme.rules), len(theme.classes())
    print(f"{args.file}: theme '{theme.name}' is valid ({rules} rules, {classes} classes)")
    return EXIT_OK


def cmd_models(args: argparse.Namespace) -> int:
    from .models.registry import get_spec
    from .stages.factory import make_manager

    rows = make_manager(args.models_dir, allow_download=False).status()
    if args.json:
        print(json.dumps(rows, indent=1))
        return EXIT_OK
    for row in rows:
        mark = "present" if row["present"] else "missing"
        print(f"{row['name']:<16} {row['stage']:<8} {mark:<8} {row['path']}")
        if not row["present"]:  # what to place by hand, with the checksum to compare against
            choices = [group.describe() for group in get_spec(row["name"]).requires if len(group.options) > 1]
            if choices:
                print(f"  alternatives: {'; '.join(choices)}")
            for file in row["files"]:
                print(f"  {file['name']:<28} sha256 {file['sha256'] or 'not published'}")
    return EXIT_OK


def cmd_process(args: argparse.Namespace) -> int:
    from .core.run_options import StageChoices
    from .stages.factory import build_stages

    try:
        theme = get_theme(args.theme, args.themes_dir)
    except ThemeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if args.no_control:
        theme = without_control(theme)
    options = PipelineOptions(
        restore=not args.no_restore and args.restorer != "none",
        segment=not args.no_segment,
        inpaint=not args.dry_run,
        working_size=WorkingSize(args.short_side, args.max_long_side),
        caption=args.captions,
        regional=args.regional,
        inpaint_batch_size=args.inpaint_batch_size,
    )
    if not args.captions and theme_uses_caption(theme):
        print(f"note: theme '{theme.name}' uses {{caption}} but --captions is not given: the placeholder is left out "
              "of its prompts", file=sys.stderr)
    choices = StageChoices(restorer=args.restorer, detector=args.detector, segmenter=args.segmenter)
    options = choices.pipeline_options(options)
    try:
        ray = ray_options(args)
    except (InvalidRayOptions, RayUnavailable) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    stop = _StopOnSignal()
    try:
        stages = build_stages(choices, options, models_dir=args.models_dir, device=args.device,
                              checkpoint=args.checkpoint, checkpoint_config=args.checkpoint_config,
                              allow_download=not args.offline, interrupted=stop.now)
        missing = required_stages(stages, options)
        if missing:
            raise StageMissing(f"stage(s) not available: {', '.join(missing)}")
    except (StageMissing, DownloadError, ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    settings = BatchSettings(out_dir=args.out, seed=args.seed, limit=args.limit, options=options,
                             save_previews=not args.no_preview, save_masks=args.save_masks,
                             use_cache=not args.no_cache, inpaint_images=args.inpaint_images)
    with TqdmProgress() as progress:
        runner = BatchRunner(stages, theme, settings, progress=progress, interrupted=stop.now,
                             stop_after_image=stop) if ray is None else \
            ray_batch(stages, choices, options, args, theme, settings, ray, stop)
        try:
            report = runner.run(args.inputs)
        except (OutputFolderError, RayUnavailable) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return EXIT_USAGE
    print(report.summary())
    if report.interrupted:
        return EXIT_INTERRUPTED
    return EXIT_FAILURES if report.failures() else EXIT_OK


class _StopOnSignal:
    """First Ctrl-C: finish the current image, then stop. Second: stop now (between stages, jobs and diffusion
    steps; the image is recorded as interrupted, not failed). Third: exit at once."""

    def __init__(self) -> None:
        self.requested = 0
        signal.signal(signal.SIGINT, self._handle)

    def _handle(self, signum: int, frame: object) -> None:
        self.requested += 1
        if self.requested == 1:
            print("\nstopping after the current image (Ctrl-C again to stop now)", file=sys.stderr)
        elif self.requested == 2:
            print("\nstopping now (Ctrl-C again to exit at once)", file=sys.stderr)
        else:
            raise KeyboardInterrupt

    def __call__(self) -> bool:
        return self.requested >= 1

    def now(self) -> bool:
        return self.requested >= 2
