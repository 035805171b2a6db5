"""Per-image rows of a report kept on disk, so that 10,000 images cost no more memory than ten.

Rows are appended while images stream through; the clustering reads them back at the end as a dense
class-score matrix and a float16 embedding memmap.
"""

from __future__ import annotations

import json
from pathlib import Path
from types import TracebackType

import numpy as np

from .collect import TagRecord


class RecordStore:
    """Paths, sparse class scores and optional embeddings of every image, in files under ``folder``."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self._paths = open(self.folder / "paths.jsonl", "w", encoding="utf-8", newline="\n")
        self._tags = open(self.folder / "tags.bin", "wb")
        self._embeddings = open(self.folder / "embeddings.f16", "wb")
        self.class_ids: dict[str, int] = {}
        self.count = 0
        self.dim: int | None = None

    def add(self, record: TagRecord) -> None:
        """Append one image's row; every record must have an embedding of the same size, or none do."""
        ids = np.array([self.class_ids.setdefault(c, len(self.class_ids)) for c in record.classes], dtype="<u4")
        scores = np.array(list(record.classes.values()), dtype="<f4")
        self._tags.write(np.array([ids.size], dtype="<u4").tobytes() + ids.tobytes() + scores.tobytes())
        self._paths.write(json.dumps(record.path) + "\n")
        has_embedding = record.embedding is not None
        if self.count and has_embedding != (self.dim is not None):
            raise ValueError(f"{record.path}: embedding {'given' if has_embedding else 'missing'}, unlike earlier rows")
        if record.embedding is not None:
            vector = np.ascontiguousarray(record.embedding, dtype="<f2").ravel()
            if self.dim is not None and vector.size != self.dim:
                raise ValueError(f"{record.path}: embedding has {vector.size} values, earlier ones {self.dim}")
            self.dim = vector.size
            self._embeddings.write(vector.tobytes())
        self.count += 1

    def close(self) -> None:
        for handle in (self._paths, self._tags, self._embeddings):
            handle.close()

    def _flush(self) -> None:
        """Make every row written so far readable (also after :meth:`close`)."""
        for handle in (self._paths, self._tags, self._embeddings):
            if not handle.closed:
                handle.flush()

    def __enter__(self) -> RecordStore:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def class_names(self) -> list[str]:
        """Column names of :meth:`tag_matrix`, in order of first appearance."""
        return sorted(self.class_ids, key=self.class_ids.__getitem__)

    def tag_matrix(self) -> np.ndarray:
        """(images, classes) float32 class scores, 0 where a class was not found."""
        self._flush()
        matrix = np.zeros((self.count, len(self.class_ids)), dtype=np.float32)
        data = np.fromfile(self.folder / "tags.bin", dtype=np.uint8)
        offset = 0
        for row in range(self.count):
            (n,) = np.frombuffer(data, dtype="<u4", count=1, offset=offset)
            ids = np.frombuffer(data, dtype="<u4", count=int(n), offset=offset + 4)
            scores = np.frombuffer(data, dtype="<f4", count=int(n), offset=offset + 4 + 4 * int(n))
            matrix[row, ids] = scores
            offset += 4 + 8 * int(n)
        return matrix

    def embeddings(self) -> np.ndarray | None:
        """(images, dim) float16 memmap of the embeddings, or None when there are none."""
        self._flush()
        if self.dim is None or self.count == 0:
            return None
        return np.memmap(self.folder / "embeddings.f16", dtype="<f2", mode="r", shape=(self.count, self.dim))

    def paths(self) -> list[str]:
        self._flush()
        with open(self.folder / "paths.jsonl", encoding="utf-8") as handle:
            return [json.loads(line) for line in handle]
