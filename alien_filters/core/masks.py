"""Mask operations on boolean (H, W) numpy arrays: union, grow/shrink, feather, clean-up, overlaps, RLE, colours.

Border convention: the image border is not an edge of a mask. Growing never spills past the image (the result
is clipped to it); shrinking and feathering only work inward from pixels that have a False neighbour *inside*
the image, so a mask that touches the border (a floor, a wall) keeps reaching it. Shrinking is the exact dual of
growing: ``shrink(m, px) == ~grow(~m, px)``, and its result is always a subset of the mask.
"""

from __future__ import annotations

import colorsys
import hashlib
from typing import Iterable, Mapping, Sequence

import numpy as np
from PIL import Image
from scipy import ndimage

_CROSS = ndimage.generate_binary_structure(2, 1)
"""4-connectivity: background components (holes) are connected through edges only."""
_SQUARE = ndimage.generate_binary_structure(2, 2)
"""8-connectivity: foreground components (specks) are connected through edges and corners."""


def _as_mask(mask: np.ndarray, name: str = "mask") -> np.ndarray:
    array = np.asarray(mask)
    if array.ndim != 2:
        raise ValueError(f"{name} must be a 2-D (H, W) array, got shape {array.shape}")
    return array.astype(bool, copy=False)


def _non_negative(value: int, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
    return int(value)


def union_by_class(instances: Iterable[tuple[str, np.ndarray]], shape: tuple[int, int]) -> dict[str, np.ndarray]:
    """Union of instance masks per class name, in first-seen class order; every mask must have ``shape``."""
    shape = (int(shape[0]), int(shape[1]))
    merged: dict[str, np.ndarray] = {}
    for label, instance in instances:
        mask = _as_mask(instance, f"mask of {label!r}")
        if mask.shape != shape:
            raise ValueError(f"mask of {label!r} has shape {mask.shape}, expected {shape}")
        if label in merged:
            merged[label] |= mask
        else:
            merged[label] = mask.copy()
    return merged


def _within(mask: np.ndarray, px: int) -> np.ndarray:
    """Pixels at Euclidean distance <= px from a True pixel of ``mask`` (px >= 1)."""
    if not mask.any():
        return np.zeros(mask.shape, dtype=bool)
    return ndimage.distance_transform_edt(~mask) <= px


def grow(mask: np.ndarray, px: int) -> np.ndarray:
    """Dilate by a Euclidean disk of radius ``px`` (all offsets with dx² + dy² <= px²), clipped to the image.

    ``px == 1`` turns a single pixel into the 5-pixel 3x3 cross; ``px == 2`` into a 13-pixel diamond
    (offsets with dx² + dy² <= 4); ``px == 3`` into a 29-pixel disk.
    A negative ``px`` shrinks by ``-px``; 0 returns a copy.
    """
    mask = _as_mask(mask)
    px = int(px)
    if px < 0:
        return shrink(mask, -px)
    if px == 0 or mask.size == 0:
        return mask.copy()
    return _within(mask, px)


def shrink(mask: np.ndarray, px: int) -> np.ndarray:
    """Erode by a Euclidean disk of radius ``px``: keep pixels with no False pixel within distance ``px``.

    Only False pixels inside the image count (see the module's border convention); a negative ``px`` grows.
    """
    mask = _as_mask(mask)
    px = int(px)
    if px < 0:
        return grow(mask, -px)
    if px == 0 or mask.size == 0:
        return mask.copy()
    return ~_within(~mask, px)


def feather(mask: np.ndarray, px: int) -> np.ndarray:
    """Inward soft edge as float32 in [0, 1]: exactly 0 outside the mask, 1 from depth ``px + 1`` inward.

    A mask pixel at Euclidean distance d from the nearest False pixel gets ``min(1, d / (px + 1))``: with
    ``px == 3`` the edge pixels read 0.25, 0.5, 0.75 going inward, then 1. ``px == 0`` gives the hard mask.
    Pasting through it never changes a pixel outside the mask.
    """
    mask = _as_mask(mask)
    px = _non_negative(px, "feather width")
    if px == 0 or mask.size == 0 or mask.all() or not mask.any():
        return mask.astype(np.float32)
    depth = ndimage.distance_transform_edt(mask)
    alpha = np.minimum(depth / (px + 1), 1.0).astype(np.float32)
    alpha[~mask] = 0.0
    return alpha


def fill_holes(mask: np.ndarray, max_hole_area: int | None = None) -> np.ndarray:
    """Fill enclosed background regions (4-connected, not touching the border) of at most ``max_hole_area`` pixels.

    ``None`` fills every hole; 0 fills none.
    """
    mask = _as_mask(mask)
    limit = None if max_hole_area is None else _non_negative(max_hole_area, "max_hole_area")
    labels, count = ndimage.label(~mask, structure=_CROSS)
    if count == 0:
        return mask.copy()
    sizes = np.bincount(labels.ravel(), minlength=count + 1)
    fillable = np.ones(count + 1, dtype=bool)
    fillable[0] = False
    border = np.concatenate([labels[0, :], labels[-1, :], labels[:, 0], labels[:, -1]])
    fillable[np.unique(border)] = False
    if limit is not None:
        fillable &= sizes <= limit
    return mask | fillable[labels]


def drop_specks(mask: np.ndarray, min_area: int) -> np.ndarray:
    """Remove 8-connected components smaller than ``min_area`` pixels."""
    mask = _as_mask(mask)
    min_area = _non_negative(min_area, "min_area")
    labels, count = ndimage.label(mask, structure=_SQUARE)
    if count == 0:
        return mask.copy()
    sizes = np.bincount(labels.ravel(), minlength=count + 1)
    keep = sizes >= min_area
    keep[0] = False
    return keep[labels]


def resolve_overlaps(masks: Sequence[np.ndarray], priorities: Sequence[int]) -> list[np.ndarray]:
    """Give each pixel to the highest-priority mask covering it (ties: the earlier mask).

    The results are pairwise disjoint, each is a subset of its input, and their union equals the input union.
    """
    if len(masks) != len(priorities):
        raise ValueError(f"got {len(masks)} masks but {len(priorities)} priorities")
    arrays = [_as_mask(m, f"mask {i}") for i, m in enumerate(masks)]
    for i, array in enumerate(arrays[1:], start=1):
        if array.shape != arrays[0].shape:
            raise ValueError(f"mask {i} has shape {array.shape}, mask 0 has {arrays[0].shape}")
    if not arrays:
        return []
    resolved: list[np.ndarray] = [arrays[0]] * len(arrays)
    taken = np.zeros(arrays[0].shape, dtype=bool)
    for i in sorted(range(len(arrays)), key=lambda k: (-priorities[k], k)):
        resolved[i] = arrays[i] & ~taken
        taken |= arrays[i]
    return resolved


def bounding_box(mask: np.ndarray, padding: int = 0) -> tuple[int, int, int, int] | None:
    """x0, y0, x1, y1 (x1, y1 exclusive) of the True pixels, padded and clamped to the image; None when empty."""
    mask = _as_mask(mask)
    padding = _non_negative(padding, "padding")
    rows = np.flatnonzero(mask.any(axis=1))
    if rows.size == 0:
        return None
    cols = np.flatnonzero(mask.any(axis=0))
    height, width = mask.shape
    return (
        max(0, int(cols[0]) - padding),
        max(0, int(rows[0]) - padding),
        min(width, int(cols[-1]) + 1 + padding),
        min(height, int(rows[-1]) + 1 + padding),
    )


def area_fraction(mask: np.ndarray) -> float:
    """Fraction of True pixels (0.0 for an image with no pixels)."""
    mask = _as_mask(mask)
    return float(mask.mean()) if mask.size else 0.0


def rle_encode(mask: np.ndarray) -> dict:
    """JSON-ready run-length encoding: ``{"size": [h, w], "counts": [...]}``.

    Counts are row-major run lengths alternating False, True, False...; the first run is False (possibly 0).
    """
    mask = _as_mask(mask)
    flat = mask.ravel()
    if flat.size == 0:
        return {"size": [int(mask.shape[0]), int(mask.shape[1])], "counts": [0]}
    changes = np.flatnonzero(flat[1:] != flat[:-1]) + 1
    bounds = np.concatenate([[0], changes, [flat.size]])
    counts = np.diff(bounds).tolist()
    if flat[0]:
        counts.insert(0, 0)
    return {"size": [int(mask.shape[0]), int(mask.shape[1])], "counts": [int(c) for c in counts]}


def _is_int(value: object) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def rle_decode(rle: Mapping) -> np.ndarray:
    """Decode :func:`rle_encode`'s output back to a boolean (h, w) mask; bad data raises ValueError saying why."""
    if not isinstance(rle, Mapping) or "size" not in rle or "counts" not in rle:
        raise ValueError("RLE must be a mapping with 'size' and 'counts'")
    size, counts = rle["size"], rle["counts"]
    if not isinstance(size, (list, tuple)) or len(size) != 2 or not all(_is_int(v) and v >= 0 for v in size):
        raise ValueError(f"RLE size must be [height, width] with non-negative integers, got {size!r}")
    if not isinstance(counts, (list, tuple)) or not all(_is_int(c) and c >= 0 for c in counts):
        raise ValueError("RLE counts must be a list of non-negative integers")
    height, width = int(size[0]), int(size[1])
    total = sum(int(c) for c in counts)
    if total != height * width:
        raise ValueError(f"RLE counts sum to {total} pixels but size {height}x{width} needs {height * width}")
    values = np.arange(len(counts)) % 2 == 1
    flat = np.repeat(values, np.asarray(counts, dtype=np.int64))
    return flat.reshape(height, width)


_HUES = 18
_PALETTE: tuple[tuple[int, int, int], ...] = tuple(
    tuple(int(round(c * 255)) for c in colorsys.hsv_to_rgb(((i * 7) % _HUES) / _HUES, sat, val))
    for sat, val in ((0.85, 0.95), (0.55, 0.75))
    for i in range(_HUES)
)
"""36 saturated, mid-to-bright colours: 18 hues at two shades, ordered so neighbours differ in hue."""


def class_color(label: str) -> tuple[int, int, int]:
    """The colour a class name gets on its own: a palette slot chosen by a stable hash of the name."""
    return _PALETTE[_palette_slot(label)]


def _palette_slot(label: str) -> int:
    digest = hashlib.sha256(label.encode("utf-8")).digest()
    return int.from_bytes(digest[:4], "big") % len(_PALETTE)


def colorize(
    masks: Mapping[str, np.ndarray], size: tuple[int, int], alpha: int = 150
) -> tuple[Image.Image, dict[str, tuple[int, int, int]]]:
    """RGBA overlay of class masks plus the legend (label -> rgb), for previews.

    ``size`` is PIL's (width, height); masks of another size are scaled to it (nearest neighbour). Each label
    gets :func:`class_color` unless a label before it (sorted by name) already holds that colour, in which case
    it takes the next free palette colour, so the colours of one overlay are distinct (up to 36 classes).
    Where masks overlap, the label later in sorted order is drawn on top; uncovered pixels are transparent.
    """
    width, height = int(size[0]), int(size[1])
    if not 0 <= alpha <= 255:
        raise ValueError(f"alpha must be in 0..255, got {alpha}")
    legend: dict[str, tuple[int, int, int]] = {}
    used: set[int] = set()
    pixels = np.zeros((height, width, 4), dtype=np.uint8)
    for label in sorted(masks):
        slot = _palette_slot(label)
        for step in range(len(_PALETTE)):
            if (slot + step) % len(_PALETTE) not in used:
                slot = (slot + step) % len(_PALETTE)
                break
        used.add(slot)
        legend[label] = _PALETTE[slot]
        mask = _as_mask(masks[label], f"mask of {label!r}")
        if mask.shape != (height, width):
            scaled = Image.fromarray(mask.astype(np.uint8) * 255).resize((width, height), Image.Resampling.NEAREST)
            mask = np.asarray(scaled) > 127
        pixels[mask] = (*legend[label], alpha)
    return Image.fromarray(pixels, "RGBA"), legend
