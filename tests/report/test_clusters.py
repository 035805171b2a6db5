"""Clustering with k chosen from the data, the on-disk row store and the embedding encoding."""

from __future__ import annotations

import numpy as np
import pytest

from alien_filters.report.clusters import choose_clusters, contact_sheet, projection_2d, top_tags
from alien_filters.report.collect import TagRecord
from alien_filters.report.embed import decode_embedding, encode_embedding
from alien_filters.report.store import RecordStore
from tests.support.report_rooms import chosen_room


def blobs(sizes: list[int], dim: int = 12, spread: float = 0.04, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Points around orthogonal directions (one blob per size), and each point's blob."""
    rng = np.random.default_rng(seed)
    centres = np.eye(dim)[: len(sizes)] + 0.2
    points = np.vstack([centres[i] + rng.normal(0, spread, (n, dim)) for i, n in enumerate(sizes)])
    truth = np.repeat(np.arange(len(sizes)), sizes)
    order = rng.permutation(len(truth))
    return points[order], truth[order]


def same_partition(labels: np.ndarray, truth: np.ndarray) -> bool:
    pairs = set(zip(labels.tolist(), truth.tolist(), strict=True))
    return len(pairs) == len(set(labels.tolist())) == len(set(truth.tolist()))


@pytest.mark.parametrize("sizes", [[20, 12, 16], [9, 30, 14, 22, 11]])
def test_k_is_chosen_by_silhouette_and_finds_the_blobs(sizes):
    points, truth = blobs(sizes)
    clustering = choose_clusters(points, "test", max_k=8)
    assert clustering.k == len(sizes)
    assert same_partition(clustering.labels, truth)
    assert max(clustering.silhouettes, key=clustering.silhouettes.get) == len(sizes)
    assert sorted(clustering.silhouettes) == list(range(2, 9))


def test_above_the_sample_size_k_is_chosen_on_a_sample_and_every_row_is_assigned():
    points, truth = blobs([70, 50, 40])
    clustering = choose_clusters(points, "test", max_k=6, sample_size=45)
    assert clustering.k == 3 and clustering.labels.shape == (160,)
    assert same_partition(clustering.labels, truth)
    assert [int((clustering.labels == c).sum()) for c in range(3)] == [70, 50, 40]


def test_clusters_are_numbered_largest_first():
    points, truth = blobs([5, 17, 9])
    clustering = choose_clusters(points, "test")
    assert [int((clustering.labels == c).sum()) for c in range(clustering.k)] == [17, 9, 5]


def test_max_k_caps_the_search():
    points, _ = blobs([10, 10, 10, 10, 10, 10])
    clustering = choose_clusters(points, "test", max_k=4)
    assert clustering.k <= 4 and sorted(clustering.silhouettes) == [2, 3, 4]


def test_identical_vectors_make_one_cluster_and_k_never_exceeds_distinct_vectors():
    same = choose_clusters(np.tile([0.2, 1.0, 0.0], (8, 1)), "test")
    assert same.k == 1 and same.silhouettes == {} and set(same.labels.tolist()) == {0}
    two = choose_clusters(np.array([[1, 0, 0]] * 5 + [[0, 1, 1]] * 3, dtype=float), "test")
    assert two.k == 2 and sorted(two.silhouettes) == [2]
    assert two.labels.tolist() == [0] * 5 + [1] * 3


def test_no_images_and_one_image():
    assert choose_clusters(np.zeros((0, 4)), "test").k == 0
    assert choose_clusters(np.ones((1, 4)), "test").labels.tolist() == [0]


def test_representatives_are_nearest_the_centre_first():
    points = np.array([[1.0, 0.2], [1.0, -0.1], [1.0, 0.0], [1.0, 0.1], [1.0, -0.2], [0, 1], [0.05, 1]])
    clustering = choose_clusters(points, "test")
    assert clustering.labels.tolist() == [0, 0, 0, 0, 0, 1, 1]
    assert clustering.representatives(0, 4) == [2, 1, 3, 0]  # the centre, then equal distances by index
    assert clustering.representatives(1, 10) == [5, 6]


def test_top_tags_rank_classes_by_presence():
    matrix = np.array([[0.9, 0.0, 0.5], [0.7, 0.4, 0.0], [0.0, 0.0, 0.6]], dtype=np.float32)
    tags = top_tags(matrix, ["bed", "lamp", "window"], np.array([0, 1]))
    assert tags == [{"class": "bed", "fraction": 1.0, "mean_score": 0.8},
                    {"class": "lamp", "fraction": 0.5, "mean_score": 0.4},
                    {"class": "window", "fraction": 0.5, "mean_score": 0.5}]


def test_projection_separates_clusters_on_the_first_component():
    points, truth = blobs([10, 10], dim=5)
    coords = projection_2d(points)
    assert coords.shape == (20, 2)
    first = coords[:, 0]
    assert first[truth == 0].max() < first[truth == 1].min() or first[truth == 1].max() < first[truth == 0].min()


def test_record_store_round_trip(tmp_path):
    rows = [
        TagRecord("a/ünï code.jpg", "1" * 64, {"bed": 0.5, "lamp": 0.25}, {}, {}, "tagger",
                  np.array([1, 2, 3], dtype=np.float16)),
        TagRecord("b/new\nline.png", "2" * 64, {}, {}, {}, "cache", np.array([4, 5, 6], dtype=np.float16)),
        TagRecord("c.png", "3" * 64, {"window": 1.0, "bed": 0.75}, {}, {}, "manifest",
                  np.array([7, 8, 9], dtype=np.float16)),
    ]
    with RecordStore(tmp_path / "rows") as store:
        for row in rows:
            store.add(row)
    assert store.paths() == ["a/ünï code.jpg", "b/new\nline.png", "c.png"]
    assert store.class_names() == ["bed", "lamp", "window"]
    np.testing.assert_array_equal(store.tag_matrix(), [[0.5, 0.25, 0], [0, 0, 0], [0.75, 0, 1.0]])
    np.testing.assert_array_equal(store.embeddings(), [[1, 2, 3], [4, 5, 6], [7, 8, 9]])


def test_record_store_refuses_mixed_embeddings(tmp_path):
    with RecordStore(tmp_path / "rows") as store:
        store.add(TagRecord("a.jpg", "1", {}, {}, {}, "tagger", np.zeros(4, dtype=np.float16)))
        with pytest.raises(ValueError, match="b.jpg: embedding has 3 values, earlier ones 4"):
            store.add(TagRecord("b.jpg", "2", {}, {}, {}, "tagger", np.zeros(3, dtype=np.float16)))
        with pytest.raises(ValueError, match="c.jpg: embedding missing"):
            store.add(TagRecord("c.jpg", "3", {}, {}, {}, "tagger"))


def test_embedding_encoding_round_trip_and_garbage():
    vector = np.array([0.1, -2.5, 3.0, 65504.0], dtype=np.float32)
    decoded = decode_embedding(encode_embedding(vector))
    assert decoded.dtype == np.float16
    np.testing.assert_array_equal(decoded, vector.astype(np.float16))
    assert decode_embedding({"dim": 4, "f16": "not base64!"}) is None
    assert decode_embedding({"dim": 5, "f16": encode_embedding(vector)["f16"]}) is None
    assert decode_embedding(["no", "mapping"]) is None


def test_contact_sheet_names_images_it_cannot_show(tmp_path):
    good = tmp_path / "good.png"
    chosen_room(["bed", "lamp"], 1).save(good)
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n broken")
    sheet, missing = contact_sheet([str(good), str(bad), str(good)], thumb=40, columns=6)
    assert missing == [str(bad)]
    assert sheet.size == (2 * 44 + 4, 48)
    assert contact_sheet([str(bad)]) == (None, [str(bad)])
