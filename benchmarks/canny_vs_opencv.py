"""``python -m benchmarks.canny_vs_opencv``: core.edges.canny against ``cv2.Canny`` on the same images.

OpenCV is not a dependency; run this where ``opencv-python-headless`` is installed (any venv with numpy, scipy and
Pillow; put the repository on ``PYTHONPATH``). It compares the edge maps of generated rooms (tests/support/rooms.py)
and of blurred noise at three threshold pairs and prints how many edge pixels differ.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageFilter

from alien_filters.core.edges import canny
from tests.support.rooms import room_image

THRESHOLDS = ((100, 200), (50, 150), (20, 60))


def images() -> list[np.ndarray]:
    rooms = [np.asarray(room_image(seed, n_objects=6)[0]) for seed in range(12)]
    rng = np.random.default_rng(1)
    noise = [np.asarray(Image.fromarray(rng.integers(0, 256, (97, 131, 3), dtype=np.uint8))
                        .filter(ImageFilter.GaussianBlur(i * 0.5))) for i in range(6)]
    return rooms + noise


def main() -> None:
    import cv2

    maps = differing = edges = 0
    for pixels in images():
        for low, high in THRESHOLDS:
            reference = cv2.Canny(pixels, low, high) > 0
            differing += int((reference != canny(pixels, low, high)).sum())
            edges += int(reference.sum())
            maps += 1
    print(f"cv2 {cv2.__version__}: {maps} edge maps, {edges} edge pixels, {differing} pixels differ")


if __name__ == "__main__":
    main()
