"""Names of the files a batch writes, shared by input discovery (which must never collide with them)."""

from __future__ import annotations

SUFFIXES = {"result": ".png", "preview": ".preview.jpg", "tags": ".txt", "caption": ".caption", "masks": ".masks.png",
            "manifest": ".json"}
"""Per input image: ``<stem><suffix>`` in the output folder."""
REPORT_NAME = "alien-filters-report.json"
CACHE_DIR_NAME = ".alien-cache"
_INNER_SUFFIXES = (".preview", ".masks")


def is_reserved_stem(rel_stem: str) -> bool:
    """True when an image with this output stem would overwrite another image's outputs or the batch's own files:
    ``x.masks`` gives ``x.masks.png``, the masks file of ``x``; ``alien-filters-report`` gives the report's name."""
    name = rel_stem.rsplit("/", 1)[-1]
    return name.endswith(_INNER_SUFFIXES) or rel_stem + ".json" == REPORT_NAME
