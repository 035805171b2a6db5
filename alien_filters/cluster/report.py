"""The batch report of a Ray run: the local batch's report plus where each image ran."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..batch.outcomes import BatchReport


@dataclass(frozen=True)
class Placement:
    """Where an image ran: the Ray node id and the actor's process id, with the actor's start-up seconds and the
    wall-clock time (``time.time()``) it was ready."""

    input: str
    node: str
    pid: int
    actor_init_s: float = 0.0
    actor_ready_at: float = 0.0


@dataclass
class ClusterReport(BatchReport):
    """``alien-filters-report.json`` as the local batch writes it, with a ``ray`` section: the address, the pool and
    the node and process of every image that reached an actor."""

    address: str = ""
    actors: int = 0
    placements: list[Placement] = field(default_factory=list)

    def nodes(self) -> list[str]:
        return sorted({p.node for p in self.placements})

    def summary(self) -> str:
        line = f"ray: {self.actors} actor(s) at {self.address}; images ran on {len(self.nodes())} node(s)"
        return super().summary() + "\n" + line

    def to_dict(self) -> dict[str, Any]:
        data = super().to_dict()
        data["ray"] = {"address": self.address, "actors": self.actors, "nodes": self.nodes(),
                       "placements": [vars(p) for p in self.placements]}
        return data
