"""Canny edges as ControlNet's canny annotator makes them (``cv2.Canny(image, low, high)`` on the RGB image).

OpenCV is not a dependency of Alien Filters (neither WebUI pins it, and a second OpenCV wheel beside the one an
extension installs breaks imports), and scikit-image's canny smooths with a Gaussian and thresholds a different
magnitude, so the control image would differ from what the ControlNet was trained on. This follows OpenCV's
algorithm with numpy and scipy: 3x3 Sobel with replicated borders, per pixel the colour channel with the largest
L1 magnitude ``|dx| + |dy|``, non-maximum suppression in four directions with OpenCV's tie rules, and hysteresis
(weak edges kept where 8-connected to a strong one).
"""

from __future__ import annotations

import math

import numpy as np
from PIL import Image
from scipy import ndimage

_TAN_22_5 = math.tan(math.radians(22.5))
_TAN_67_5 = math.tan(math.radians(67.5))


def _gradients(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """dx, dy (int32, H x W): per pixel those of the channel with the largest |dx| + |dy| (the first on a tie)."""
    data = rgb.astype(np.int32)
    if data.ndim == 2:
        data = data[..., None]
    dx = np.stack([ndimage.sobel(data[..., c], axis=1, mode="nearest") for c in range(data.shape[2])], axis=-1)
    dy = np.stack([ndimage.sobel(data[..., c], axis=0, mode="nearest") for c in range(data.shape[2])], axis=-1)
    best = np.argmax(np.abs(dx) + np.abs(dy), axis=-1)[..., None]
    return np.take_along_axis(dx, best, -1)[..., 0], np.take_along_axis(dy, best, -1)[..., 0]


def _shifted(mag: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """``mag`` at (y + dy, x + dx), zero outside the image."""
    padded = np.pad(mag, 1)
    h, w = mag.shape
    return padded[1 + dy : 1 + dy + h, 1 + dx : 1 + dx + w]


def canny(image: Image.Image | np.ndarray, low: int, high: int) -> np.ndarray:
    """Boolean (H, W) edge map of an RGB (or L) image with OpenCV Canny's thresholds on ``|dx| + |dy|``."""
    if low > high:
        low, high = high, low  # as OpenCV does
    dx, dy = _gradients(np.asarray(image))
    mag = np.abs(dx) + np.abs(dy)
    ax, ay = np.abs(dx).astype(np.float64), np.abs(dy).astype(np.float64)
    horizontal = ay < ax * _TAN_22_5
    vertical = ~horizontal & (ay > ax * _TAN_67_5)
    diagonal = ~horizontal & ~vertical
    s = np.where((dx < 0) ^ (dy < 0), -1, 1)
    left, right = _shifted(mag, 0, -1), _shifted(mag, 0, 1)
    up, down = _shifted(mag, -1, 0), _shifted(mag, 1, 0)
    up_left, down_right = _shifted(mag, -1, -1), _shifted(mag, 1, 1)
    up_right, down_left = _shifted(mag, -1, 1), _shifted(mag, 1, -1)
    prev_diag = np.where(s > 0, up_left, up_right)
    next_diag = np.where(s > 0, down_right, down_left)
    maximum = (
        (horizontal & (mag > left) & (mag >= right))
        | (vertical & (mag > up) & (mag >= down))
        | (diagonal & (mag > prev_diag) & (mag > next_diag))
    )
    candidate = maximum & (mag > low)
    strong = candidate & (mag > high)
    labels, count = ndimage.label(candidate, structure=np.ones((3, 3), dtype=bool))
    if count == 0:
        return np.zeros(mag.shape, dtype=bool)
    keep = np.zeros(count + 1, dtype=bool)
    keep[np.unique(labels[strong])] = True
    keep[0] = False
    return keep[labels]


def canny_image(image: Image.Image, low: int, high: int) -> Image.Image:
    """The control image of the canny ControlNet: white edges on black, RGB, ``image``'s size."""
    edges = canny(image.convert("RGB"), low, high)
    return Image.fromarray(np.repeat((edges.astype(np.uint8) * 255)[..., None], 3, axis=-1), mode="RGB")
