"""Clusters of images by tag vectors or embeddings; the number of clusters comes from the data.

k-means runs for every k from 2 up to ``max_k`` (never more than the number of distinct vectors) and the k
with the best silhouette score wins; identical vectors all land in one cluster.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
from PIL import Image
from sklearn.cluster import KMeans
from sklearn.metrics import silhouette_score

from ..batch.imageio import ImageLoadError, load_image


@dataclass
class Clustering:
    """Cluster labels (0 = largest cluster) of the rows of ``vectors``, and how k was chosen."""

    kind: str
    labels: np.ndarray
    k: int
    silhouettes: dict[int, float]
    """Silhouette score of each k tried (empty when the data allowed one cluster only)."""
    vectors: np.ndarray
    """The normalised rows that were clustered."""

    def members(self, cluster: int) -> np.ndarray:
        return np.flatnonzero(self.labels == cluster)

    def representatives(self, cluster: int, limit: int) -> list[int]:
        """Up to ``limit`` members nearest the cluster's centre, nearest first (ties by index)."""
        members = self.members(cluster)
        centre = self.vectors[members].mean(axis=0)
        distance = np.linalg.norm(self.vectors[members] - centre, axis=1)
        order = np.lexsort((members, np.round(distance, 6)))
        return [int(i) for i in members[order[:limit]]]


def normalise_rows(matrix: np.ndarray) -> np.ndarray:
    """float32 copy with every non-zero row scaled to unit length (cosine geometry)."""
    rows = np.asarray(matrix, dtype=np.float32)
    norms = np.linalg.norm(rows, axis=1, keepdims=True)
    return rows / np.where(norms > 0, norms, 1.0)


def choose_clusters(matrix: np.ndarray, kind: str, max_k: int = 10, seed: int = 0,
                    sample_size: int = 2000) -> Clustering:
    """Cluster the rows of ``matrix``, choosing k in 2..max_k by silhouette score.

    Above ``sample_size`` rows, k is chosen on an even random sample and every row then joins its nearest
    centre, so 10,000 images cost about as much as 2,000."""
    vectors = normalise_rows(matrix)
    n = vectors.shape[0]
    if n == 0:
        return Clustering(kind, np.zeros(0, dtype=np.int32), 0, {}, vectors)
    sample = vectors
    if n > sample_size:
        sample = vectors[np.sort(np.random.default_rng(seed).choice(n, sample_size, replace=False))]
    distinct = np.unique(np.round(sample, 4), axis=0).shape[0]
    top_k = min(max_k, distinct, sample.shape[0] - 1)
    scores: dict[int, float] = {}
    best: KMeans | None = None
    for k in range(2, top_k + 1):
        model = KMeans(n_clusters=k, n_init=4, random_state=seed).fit(sample)
        if len(np.unique(model.labels_)) < 2:
            continue
        score = round(float(silhouette_score(sample, model.labels_)), 4)
        if best is None or score > max(scores.values()):
            best = model
        scores[k] = score
    if best is None:
        return Clustering(kind, np.zeros(n, dtype=np.int32), 1, scores, vectors)
    labels = _by_size(best.predict(vectors) if n > sample_size else best.labels_)
    return Clustering(kind, labels, int(labels.max()) + 1, scores, vectors)


def _by_size(labels: np.ndarray) -> np.ndarray:
    """Renumber clusters largest first (ties: the cluster of the earlier image first)."""
    ids, first, counts = np.unique(labels, return_index=True, return_counts=True)
    order = sorted(range(len(ids)), key=lambda i: (-counts[i], first[i]))
    mapping = np.empty(int(ids.max()) + 1, dtype=np.int32)
    for new, i in enumerate(order):
        mapping[ids[i]] = new
    return mapping[labels]


def top_tags(tag_matrix: np.ndarray, class_names: Sequence[str], rows: np.ndarray, limit: int = 6) -> list[dict]:
    """The classes most often found in ``rows``: class, fraction of those images, mean score where found."""
    if rows.size == 0 or not class_names:
        return []
    block = tag_matrix[rows]
    present = block > 0
    counts = present.sum(axis=0)
    order = sorted(range(len(class_names)), key=lambda j: (-counts[j], class_names[j]))
    return [
        {"class": class_names[j], "fraction": round(float(counts[j]) / rows.size, 4),
         "mean_score": round(float(block[present[:, j], j].mean()), 4)}
        for j in order[:limit] if counts[j] > 0
    ]


def describe(clustering: Clustering, tag_matrix: np.ndarray, class_names: Sequence[str], paths: Sequence[str],
             sheet_size: int = 12) -> list[dict[str, Any]]:
    """Per cluster: size, members, top tags and the representatives shown on its contact sheet."""
    out = []
    for cluster in range(clustering.k):
        members = clustering.members(cluster)
        out.append({
            "cluster": cluster,
            "size": int(members.size),
            "top_tags": top_tags(tag_matrix, class_names, members),
            "representatives": [paths[i] for i in clustering.representatives(cluster, sheet_size)],
            "members": [paths[i] for i in members],
        })
    return out


def projection_2d(vectors: np.ndarray) -> np.ndarray:
    """(n, 2) principal-component coordinates of ``vectors`` (zeros where there is no spread)."""
    n = vectors.shape[0]
    if n == 0:
        return np.zeros((0, 2), dtype=np.float32)
    centred = vectors - vectors.mean(axis=0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    coords = centred @ vt[:2].T
    if coords.shape[1] < 2:
        coords = np.hstack([coords, np.zeros((n, 2 - coords.shape[1]), dtype=coords.dtype)])
    return coords.astype(np.float32)


def contact_sheet(paths: Sequence[str], thumb: int = 112, columns: int = 6,
                  max_pixels: int = 40_000_000) -> tuple[Image.Image | None, list[str]]:
    """A grid of thumbnails of ``paths`` (decoded one at a time) and the paths that could not be shown."""
    thumbs: list[Image.Image] = []
    missing: list[str] = []
    for path in paths:
        try:
            image = load_image(path, max_pixels)
        except ImageLoadError:
            missing.append(path)
            continue
        image.thumbnail((thumb, thumb), Image.LANCZOS)
        thumbs.append(image)
    if not thumbs:
        return None, missing
    cols = min(columns, len(thumbs))
    rows = (len(thumbs) + cols - 1) // cols
    pad = 4
    sheet = Image.new("RGB", (cols * (thumb + pad) + pad, rows * (thumb + pad) + pad), (32, 36, 40))
    for i, image in enumerate(thumbs):
        x = pad + (i % cols) * (thumb + pad) + (thumb - image.width) // 2
        y = pad + (i // cols) * (thumb + pad) + (thumb - image.height) // 2
        sheet.paste(image, (x, y))
    return sheet, missing
