"""Property tests (hypothesis) for the mask operations and the RLE round trip."""

from __future__ import annotations

import json

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy import ndimage

from alien_filters.core import masks as M

quick = settings(max_examples=80, deadline=None)

small_side = st.integers(min_value=1, max_value=20)


@st.composite
def masks(draw, min_side: int = 1, max_side: int = 20) -> np.ndarray:
    """Random masks, plus the all-True and all-False ones."""
    shape = (draw(st.integers(min_side, max_side)), draw(st.integers(min_side, max_side)))
    kind = draw(st.sampled_from(["random", "random", "random", "full", "empty"]))
    if kind == "full":
        return np.ones(shape, bool)
    if kind == "empty":
        return np.zeros(shape, bool)
    return draw(arrays(bool, shape))


@st.composite
def mask_stacks(draw) -> tuple[list[np.ndarray], list[int]]:
    shape = (draw(small_side), draw(small_side))
    count = draw(st.integers(0, 5))
    stack = [draw(arrays(bool, shape)) for _ in range(count)]
    priorities = draw(st.lists(st.integers(-3, 3), min_size=count, max_size=count))
    return stack, priorities


def disk(radius: int) -> np.ndarray:
    y, x = np.mgrid[-radius : radius + 1, -radius : radius + 1]
    return x * x + y * y <= radius * radius


@quick
@given(masks(min_side=0))
def test_rle_round_trip_is_exact(mask):
    encoded = json.loads(json.dumps(M.rle_encode(mask)))
    assert encoded["size"] == list(mask.shape)
    assert sum(encoded["counts"]) == mask.size
    assert all(c > 0 for c in encoded["counts"][1:]), "only the first run may be empty"
    decoded = M.rle_decode(encoded)
    assert decoded.shape == mask.shape and decoded.dtype == bool
    np.testing.assert_array_equal(decoded, mask)


@quick
@given(masks(), st.integers(1, 5))
def test_rle_decode_rejects_a_count_off_by_some(mask, delta):
    encoded = M.rle_encode(mask)
    encoded["counts"][-1] += delta
    try:
        M.rle_decode(encoded)
    except ValueError as exc:
        assert "needs" in str(exc)
    else:
        raise AssertionError("a wrong pixel count must be rejected")


@quick
@given(mask_stacks())
def test_resolve_overlaps_is_a_priority_partition_of_the_union(stack_and_priorities):
    stack, priorities = stack_and_priorities
    out = M.resolve_overlaps(stack, priorities)
    assert len(out) == len(stack)
    if not stack:
        return
    count = np.sum(out, axis=0)
    assert count.max(initial=0) <= 1, "no pixel belongs to two results"
    np.testing.assert_array_equal(count > 0, np.any(stack, axis=0))
    for i, (result, original) in enumerate(zip(out, stack, strict=True)):
        assert not (result & ~original).any(), "a result only holds pixels of its own mask"
        for j, other in enumerate(stack):
            beats = priorities[j] > priorities[i] or (priorities[j] == priorities[i] and j < i)
            if beats:
                assert not (result & other).any(), f"mask {j} outranks mask {i} where both cover a pixel"


@quick
@given(masks(), st.integers(0, 4))
def test_grow_matches_dilation_by_a_euclidean_disk(mask, px):
    expected = ndimage.binary_dilation(mask, structure=disk(px)) if px else mask
    np.testing.assert_array_equal(M.grow(mask, px), expected)


@quick
@given(masks(), st.integers(0, 4), st.integers(0, 4))
def test_grow_then_shrink_stays_inside_the_grown_mask_and_contains_the_original(mask, grown, shrunk):
    big = M.grow(mask, grown)
    closed = M.shrink(big, shrunk)
    assert not (closed & ~big).any()
    assert not (mask & ~big).any()
    if shrunk <= grown:
        assert not (mask & ~closed).any(), "shrinking by no more than the growth keeps the original"


@quick
@given(masks(), st.integers(0, 4))
def test_shrink_is_the_dual_of_grow_and_never_grows(mask, px):
    shrunk = M.shrink(mask, px)
    np.testing.assert_array_equal(shrunk, ~M.grow(~mask, px))
    assert not (shrunk & ~mask).any()
    np.testing.assert_array_equal(M.grow(mask, -px), shrunk)


@quick
@given(masks(), st.integers(0, 6))
def test_feather_is_zero_outside_and_full_deep_inside(mask, px):
    alpha = M.feather(mask, px)
    assert alpha.dtype == np.float32 and alpha.shape == mask.shape
    assert (alpha[~mask] == 0).all()
    assert (alpha[mask] > 0).all()
    assert (alpha <= 1).all()
    assert (alpha[M.shrink(mask, px + 1)] == 1).all()


@quick
@given(masks(), st.integers(0, 5))
def test_bounding_box_contains_every_true_pixel(mask, padding):
    box = M.bounding_box(mask, padding)
    if not mask.any():
        assert box is None
        return
    x0, y0, x1, y1 = box
    height, width = mask.shape
    assert 0 <= x0 < x1 <= width and 0 <= y0 < y1 <= height
    ys, xs = np.nonzero(mask)
    assert x0 <= xs.min() and xs.max() < x1 and y0 <= ys.min() and ys.max() < y1
    assert x0 == max(0, xs.min() - padding) and x1 == min(width, xs.max() + 1 + padding)
    assert y0 == max(0, ys.min() - padding) and y1 == min(height, ys.max() + 1 + padding)


@quick
@given(masks())
def test_fill_holes_without_limit_matches_scipy(mask):
    filled = M.fill_holes(mask)
    np.testing.assert_array_equal(filled, ndimage.binary_fill_holes(mask))
    np.testing.assert_array_equal(M.fill_holes(filled), filled)


@quick
@given(masks(), st.integers(0, 6))
def test_fill_holes_only_fills_small_holes(mask, limit):
    filled = M.fill_holes(mask, limit)
    added = filled & ~mask
    assert not (mask & ~filled).any()
    labels, count = ndimage.label(added, structure=ndimage.generate_binary_structure(2, 1))
    for k in range(1, count + 1):
        assert (labels == k).sum() <= limit


@quick
@given(masks(), st.integers(0, 8))
def test_drop_specks_keeps_exactly_the_large_components(mask, min_area):
    kept = M.drop_specks(mask, min_area)
    labels, count = ndimage.label(mask, structure=np.ones((3, 3), bool))
    for k in range(1, count + 1):
        component = labels == k
        if component.sum() >= min_area:
            assert kept[component].all()
        else:
            assert not kept[component].any()
    assert not (kept & ~mask).any()


@quick
@given(st.lists(st.tuples(st.sampled_from(["bed", "lamp", "wall"]), arrays(bool, (4, 5))), max_size=6))
def test_union_by_class_is_the_or_of_its_instances(instances):
    merged = M.union_by_class(instances, (4, 5))
    assert set(merged) == {label for label, _ in instances}
    for label, union in merged.items():
        np.testing.assert_array_equal(union, np.any([m for name, m in instances if name == label], axis=0))
