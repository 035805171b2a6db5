"""A tqdm progress bar behind the ProgressSink interface (one bar over images, stage and job as postfix)."""

from __future__ import annotations

import sys
from types import TracebackType

from tqdm import tqdm

from ..core.contracts import ProgressEvent


class TqdmProgress:
    """Shows images done / total on stderr with the current image, stage and inpaint job."""

    def __init__(self) -> None:
        self._bar: tqdm | None = None
        self._image = ""

    def __call__(self, event: ProgressEvent) -> None:
        if event.kind == "image":
            if self._bar is None:
                self._bar = tqdm(total=event.total, unit="img", file=sys.stderr, dynamic_ncols=True)
            self._bar.n = event.index
            self._image = event.text.rsplit("/", 1)[-1]
            self._bar.set_postfix_str(self._image)
        elif self._bar is not None:
            detail = event.text if event.kind == "stage" else f"job {event.index + 1}/{event.total} {event.text}"
            self._bar.set_postfix_str(f"{self._image} {detail}")

    def __enter__(self) -> TqdmProgress:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._bar is not None:
            self._bar.n = self._bar.total
            self._bar.close()
