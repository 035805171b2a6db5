"""The driver's progress bar for a Ray run: images done, failed and skipped, and throughput."""

from __future__ import annotations

import sys
import time
from types import TracebackType
from typing import TextIO

from tqdm import tqdm

from ..core.states import ImageStatus


class ClusterProgress:
    """One tqdm bar over the images; the postfix counts outcomes and the images per second since the start."""

    def __init__(self, total: int, file: TextIO | None = None, disable: bool = False) -> None:
        self.counts = {"done": 0, "failed": 0, "skipped": 0}
        self._start = time.perf_counter()
        self._bar = tqdm(total=total, unit="img", file=file or sys.stderr, dynamic_ncols=True, disable=disable)

    def add(self, status: ImageStatus) -> None:
        key = {ImageStatus.PLANNED: "done", ImageStatus.INTERRUPTED: "failed"}.get(status, status.value)
        self.counts[key] = self.counts.get(key, 0) + 1
        rate = sum(self.counts.values()) / max(time.perf_counter() - self._start, 1e-9)
        self._bar.set_postfix_str(" ".join(f"{k} {v}" for k, v in self.counts.items()) + f" {rate:.2f} img/s")
        self._bar.update(1)

    def __enter__(self) -> ClusterProgress:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._bar.close()
