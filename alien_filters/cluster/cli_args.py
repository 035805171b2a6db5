"""The ``process --ray`` options of the command line, and the Ray batch they make."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from ..core.contracts import InterruptCheck
from .actors import FactoryStages
from .options import LOCAL, InvalidRayOptions, RayOptions, require_ray
from .ray_pipeline import RayBatch

if TYPE_CHECKING:
    from ..batch.runner import BatchSettings
    from ..core.pipeline import PipelineOptions, Stages
    from ..core.run_options import StageChoices
    from ..core.theme import Theme

POOL_OPTIONS = {"ray_actors": "--ray-actors", "ray_cpus_per_actor": "--ray-cpus-per-actor",
                "ray_gpus_per_actor": "--ray-gpus-per-actor", "ray_batch_size": "--ray-batch-size"}


def add_ray_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--ray", nargs="?", const=LOCAL, default=None, metavar="ADDRESS",
                        help="run on Ray (pip install alien-filters[ray]): no ADDRESS starts Ray on this machine; "
                             "'auto' or ray://HOST:10001 joins a running cluster")
    parser.add_argument("--ray-actors", type=int, metavar="N", help="actors in the pool (default 2)")
    parser.add_argument("--ray-cpus-per-actor", type=float, metavar="N", help="CPUs each actor reserves (default 1)")
    parser.add_argument("--ray-gpus-per-actor", type=float, metavar="N",
                        help="GPUs each actor reserves, fractions share one (default 0)")
    parser.add_argument("--ray-batch-size", type=int, metavar="N", help="images per call to an actor (default 1)")


def ray_options(args: argparse.Namespace) -> RayOptions | None:
    """The Ray run ``args`` ask for, None without ``--ray``. Raises InvalidRayOptions for a pool option without
    ``--ray`` or a bad value, RayUnavailable when Ray is not installed (before any model is loaded)."""
    given = {name: getattr(args, name) for name in POOL_OPTIONS if getattr(args, name) is not None}
    if args.ray is None:
        if given:
            raise InvalidRayOptions(f"{', '.join(POOL_OPTIONS[n] for n in given)} only apply with --ray")
        return None
    options = RayOptions(address=args.ray, **{name.removeprefix("ray_"): value for name, value in given.items()})
    require_ray()
    return options


def ray_batch(stages: Stages, choices: StageChoices, options: PipelineOptions, args: argparse.Namespace,
              theme: Theme, settings: BatchSettings, ray: RayOptions, stop: InterruptCheck) -> RayBatch:
    """The batch on Ray, its actors building the stages as the command line built ``stages``."""
    builder = FactoryStages(choices, options, models_dir=args.models_dir, device=args.device,
                            checkpoint=args.checkpoint, checkpoint_config=args.checkpoint_config,
                            allow_download=not args.offline)
    return RayBatch(stages, builder, theme, settings, ray, stop_after_image=stop)
