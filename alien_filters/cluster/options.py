"""What a Ray run asks for (address, actors, resources per actor, batch size), and the check that Ray is there."""

from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType

from ..core.errors import AlienFiltersError

INSTALL_HINT = "pip install alien-filters[ray]"
LOCAL = "local"
"""``--ray`` without an address: a Ray instance started on this machine for the run."""


class RayUnavailable(AlienFiltersError, RuntimeError):
    """``--ray`` was asked for but Ray cannot be imported (or refuses this environment)."""


class InvalidRayOptions(AlienFiltersError, ValueError):
    """An actor count, resource or batch size that cannot work."""


@dataclass(frozen=True)
class RayOptions:
    """One actor pool runs every stage of an image (see the README's "Cluster mode (Ray)" for why one pool).

    ``address``: ``local`` (start Ray here), ``auto`` (the cluster this node belongs to) or ``ray://host:10001``.
    ``actors``: actors in the pool (each loads the models once). ``cpus_per_actor`` / ``gpus_per_actor``: what each
    actor reserves (fractions of a GPU let several actors share one). ``batch_size``: images per call to an actor.
    ``local_cpus``: CPUs a local instance offers (None: all of this machine's).
    """

    address: str = LOCAL
    actors: int = 2
    cpus_per_actor: float = 1.0
    gpus_per_actor: float = 0.0
    batch_size: int = 1
    local_cpus: int | None = None

    def __post_init__(self) -> None:
        if self.actors < 1:
            raise InvalidRayOptions(f"--ray-actors must be at least 1, got {self.actors}")
        if self.cpus_per_actor <= 0:
            raise InvalidRayOptions(f"--ray-cpus-per-actor must be more than 0, got {self.cpus_per_actor}")
        if self.gpus_per_actor < 0:
            raise InvalidRayOptions(f"--ray-gpus-per-actor must be 0 or more, got {self.gpus_per_actor}")
        if self.batch_size < 1:
            raise InvalidRayOptions(f"--ray-batch-size must be at least 1, got {self.batch_size}")

    @property
    def threads_per_actor(self) -> int:
        """Torch threads an actor uses: its CPUs, at least one."""
        return max(1, int(self.cpus_per_actor))


def require_ray() -> ModuleType:
    """The ``ray`` module, or RayUnavailable saying how to install it (Ray 2.60 also refuses pydantic 1, the A1111
    WebUI's: there the message says to use a stand-alone environment)."""
    try:
        import ray
        import ray.data  # noqa: F401  (the extra's Ray Data: pandas, pyarrow)
    except ImportError as exc:
        raise RayUnavailable(f"--ray needs Ray with Ray Data, which is not installed ({exc}); install it with "
                             f"`{INSTALL_HINT}` in a stand-alone environment (Ray refuses pydantic 1, so not inside "
                             "the AUTOMATIC1111 WebUI's)") from None
    except Exception as exc:  # Ray's own refusal at import (pydantic 1) is a plain Exception subclass
        raise RayUnavailable(f"--ray: Ray cannot start in this environment ({type(exc).__name__}: {exc}); use a "
                             f"stand-alone environment with pydantic 2 and `{INSTALL_HINT}`") from None
    return ray
