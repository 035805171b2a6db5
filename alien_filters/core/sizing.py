"""The working size every image is restored to before tagging, segmentation and inpainting."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class WorkingSize:
    """Short side ``short_side`` (rounded to ``multiple``), long side capped at ``max_long_side``."""

    short_side: int = 512
    max_long_side: int = 1024
    multiple: int = 8

    def for_image(self, width: int, height: int) -> tuple[int, int]:
        """(width, height) of the working image for an input of ``width`` x ``height``."""
        if width <= 0 or height <= 0:
            raise ValueError(f"image size must be positive, got {width}x{height}")
        scale = self.short_side / min(width, height)
        scale = min(scale, self.max_long_side / max(width, height))
        return self._round(width * scale), self._round(height * scale)

    def _round(self, value: float) -> int:
        return max(self.multiple, int(round(value / self.multiple)) * self.multiple)
