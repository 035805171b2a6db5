"""Mask operations, checked against exact small arrays."""

from __future__ import annotations

import json

import numpy as np
import pytest

from alien_filters.core import masks as M


def arr(text: str) -> np.ndarray:
    """Boolean mask from rows of '#' (True) and '.' (False)."""
    return np.array([[c == "#" for c in row] for row in text.split()], dtype=bool)


def dot(size: int = 7) -> np.ndarray:
    mask = np.zeros((size, size), dtype=bool)
    mask[size // 2, size // 2] = True
    return mask


# union_by_class


def test_union_by_class_merges_instances_per_class_in_first_seen_order():
    a, b, c = arr("#.. ... ..."), arr("... .#. ..."), arr("... ... ..#")
    merged = M.union_by_class([("lamp", a), ("bed", b), ("lamp", c)], (3, 3))
    assert list(merged) == ["lamp", "bed"]
    np.testing.assert_array_equal(merged["lamp"], arr("#.. ... ..#"))
    np.testing.assert_array_equal(merged["bed"], b)
    assert not a[2, 2], "inputs must not be modified"


def test_union_by_class_rejects_a_mask_of_the_wrong_shape():
    with pytest.raises(ValueError, match=r"'bed'.*\(2, 2\).*\(3, 3\)"):
        M.union_by_class([("bed", np.ones((2, 2), bool))], (3, 3))


# grow / shrink


def test_grow_by_one_turns_a_pixel_into_the_cross():
    expected = arr("....... ....... ...#... ..###.. ...#... ....... .......")
    np.testing.assert_array_equal(M.grow(dot(), 1), expected)


def test_grow_by_two_and_three_follow_the_euclidean_disk():
    expected = arr("....... ...#... ..###.. .#####. ..###.. ...#... .......")
    np.testing.assert_array_equal(M.grow(dot(), 2), expected)
    assert M.grow(dot(), 3).sum() == 29


def test_grow_is_clipped_at_the_image_border():
    corner = arr("#.. ... ...")
    np.testing.assert_array_equal(M.grow(corner, 1), arr("##. #.. ..."))


def test_grow_zero_returns_a_copy_and_negative_shrinks():
    mask = arr("### ### ###")
    same = M.grow(mask, 0)
    np.testing.assert_array_equal(same, mask)
    same[0, 0] = False
    assert mask[0, 0], "grow(…, 0) must return a copy"
    block = np.zeros((5, 5), bool)
    block[1:4, 1:4] = True
    np.testing.assert_array_equal(M.grow(block, -1), dot(5))


def test_shrink_erodes_from_inner_edges_but_not_from_the_image_border():
    mask = arr("####.. ####.. ####.. ####..")
    np.testing.assert_array_equal(M.shrink(mask, 1), arr("###... ###... ###... ###..."))
    np.testing.assert_array_equal(M.shrink(np.ones((4, 4), bool), 2), np.ones((4, 4), bool))


def test_shrink_removes_a_plus_and_keeps_a_disk_core():
    np.testing.assert_array_equal(M.shrink(M.grow(dot(), 1), 1), dot())
    np.testing.assert_array_equal(M.shrink(M.grow(dot(), 3), 2), M.grow(dot(), 1))
    assert not M.shrink(dot(), 1).any()


def test_grow_and_shrink_accept_non_bool_input():
    np.testing.assert_array_equal(M.grow(dot().astype(np.uint8), 1), M.grow(dot(), 1))
    with pytest.raises(ValueError, match="2-D"):
        M.grow(np.zeros((2, 2, 3), bool), 1)


# feather


def test_feather_ramps_inward_and_is_exactly_zero_outside():
    mask = np.zeros((3, 8), bool)
    mask[:, 2:] = True
    alpha = M.feather(mask, 3)
    assert alpha.dtype == np.float32
    np.testing.assert_array_equal(alpha[1], np.array([0, 0, 0.25, 0.5, 0.75, 1, 1, 1], np.float32))
    assert (alpha[~mask] == 0).all()
    assert (alpha[mask] > 0).all()


def test_feather_zero_is_the_hard_mask_and_negative_is_refused():
    mask = arr("##. #.. ...")
    np.testing.assert_array_equal(M.feather(mask, 0), mask.astype(np.float32))
    np.testing.assert_array_equal(M.feather(np.ones((2, 3), bool), 5), np.ones((2, 3), np.float32))
    with pytest.raises(ValueError, match="feather width"):
        M.feather(mask, -1)


def test_feather_of_a_single_pixel_is_partial():
    alpha = M.feather(dot(), 2)
    assert alpha[3, 3] == pytest.approx(1 / 3)
    assert alpha.sum() == pytest.approx(1 / 3)


# fill_holes


def test_fill_holes_fills_enclosed_regions_only():
    mask = arr("##### #..## ##### #...# #####")
    ring_open = arr("###.. #.#.. ###..")
    np.testing.assert_array_equal(M.fill_holes(mask), np.ones((5, 5), bool))
    np.testing.assert_array_equal(M.fill_holes(ring_open), arr("###.. ###.. ###.."))


def test_fill_holes_respects_the_area_limit():
    mask = arr("###### #.#..# ###### #....# ######")
    np.testing.assert_array_equal(M.fill_holes(mask, max_hole_area=2), arr("###### ###### ###### #....# ######"))
    np.testing.assert_array_equal(M.fill_holes(mask, max_hole_area=0), mask)
    np.testing.assert_array_equal(M.fill_holes(mask, max_hole_area=4), np.ones((5, 6), bool))


def test_fill_holes_leaves_background_touching_the_border():
    mask = arr("#.### #...# #####")
    np.testing.assert_array_equal(M.fill_holes(mask), mask)


def test_fill_holes_treats_a_diagonal_gap_as_closed():
    mask = arr(".#. #.# .#.")
    np.testing.assert_array_equal(M.fill_holes(mask), arr(".#. ### .#."))


# drop_specks


def test_drop_specks_uses_eight_connectivity():
    mask = arr("#.... .#... ..... ...## ....#")
    np.testing.assert_array_equal(M.drop_specks(mask, 3), arr("..... ..... ..... ...## ....#"))
    np.testing.assert_array_equal(M.drop_specks(mask, 2), mask)
    assert not M.drop_specks(mask, 4).any()
    np.testing.assert_array_equal(M.drop_specks(mask, 0), mask)


# resolve_overlaps


def test_resolve_overlaps_gives_pixels_to_the_highest_priority():
    wall, painting, lamp = arr("#### #### ####"), arr(".##. .##. ...."), arr("...# ...# ...#")
    out = M.resolve_overlaps([wall, painting, lamp], [0, 5, 5])
    np.testing.assert_array_equal(out[0], arr("#... #... ###."))
    np.testing.assert_array_equal(out[1], painting)
    np.testing.assert_array_equal(out[2], lamp)


def test_resolve_overlaps_ties_go_to_the_earlier_mask():
    a, b = arr("##. ##."), arr(".## .##")
    first, second = M.resolve_overlaps([a, b], [1, 1])
    np.testing.assert_array_equal(first, a)
    np.testing.assert_array_equal(second, arr("..# ..#"))
    first, second = M.resolve_overlaps([a, b], [1, 2])
    np.testing.assert_array_equal(first, arr("#.. #.."))
    np.testing.assert_array_equal(second, b)


def test_resolve_overlaps_checks_its_arguments():
    assert M.resolve_overlaps([], []) == []
    with pytest.raises(ValueError, match="2 masks but 1 priorities"):
        M.resolve_overlaps([dot(), dot()], [1])
    with pytest.raises(ValueError, match="mask 1 has shape"):
        M.resolve_overlaps([dot(3), dot(5)], [1, 1])


# bounding_box / area_fraction


def test_bounding_box_is_exclusive_padded_and_clamped():
    mask = arr("...... ..#... ...#.. ......")
    assert M.bounding_box(mask) == (2, 1, 4, 3)
    assert M.bounding_box(mask, padding=1) == (1, 0, 5, 4)
    assert M.bounding_box(mask, padding=10) == (0, 0, 6, 4)
    assert M.bounding_box(np.zeros((3, 3), bool)) is None
    with pytest.raises(ValueError, match="padding"):
        M.bounding_box(mask, padding=-1)


def test_area_fraction():
    assert M.area_fraction(arr("#... ##..")) == 0.375
    assert M.area_fraction(np.zeros((0, 4), bool)) == 0.0


# RLE


def test_rle_encode_starts_with_a_false_run():
    assert M.rle_encode(arr("..## #...")) == {"size": [2, 4], "counts": [2, 3, 3]}
    assert M.rle_encode(arr("##.. ....")) == {"size": [2, 4], "counts": [0, 2, 6]}
    assert M.rle_encode(np.ones((2, 2), bool)) == {"size": [2, 2], "counts": [0, 4]}
    assert M.rle_encode(np.zeros((2, 2), bool)) == {"size": [2, 2], "counts": [4]}
    assert M.rle_encode(np.zeros((0, 3), bool)) == {"size": [0, 3], "counts": [0]}


def test_rle_round_trip_survives_json():
    mask = arr("#..# .##. #### ....")
    encoded = json.loads(json.dumps(M.rle_encode(mask)))
    decoded = M.rle_decode(encoded)
    assert decoded.dtype == bool
    np.testing.assert_array_equal(decoded, mask)


@pytest.mark.parametrize(
    ("rle", "message"),
    [
        ({"size": [2, 2], "counts": [1, 2]}, r"sum to 3 pixels but size 2x2 needs 4"),
        ({"size": [2, 2], "counts": [1, 2, 3]}, r"sum to 6"),
        ({"size": [2], "counts": [2]}, r"size must be \[height, width\]"),
        ({"size": [-1, 2], "counts": []}, r"non-negative"),
        ({"size": [2, 2], "counts": [1, -1, 4]}, r"counts must be a list of non-negative integers"),
        ({"size": [2, 2], "counts": [1.5, 2.5]}, r"counts must be"),
        ({"size": [2, 2], "counts": "4"}, r"counts must be"),
        ({"counts": [4]}, r"'size' and 'counts'"),
        ([4], r"mapping"),
    ],
)
def test_rle_decode_rejects_bad_data(rle, message):
    with pytest.raises(ValueError, match=message):
        M.rle_decode(rle)


# colorize


def test_colorize_paints_each_class_in_its_legend_colour():
    bed, lamp = arr("##.. ##.. ...."), arr("...# .... ....")
    overlay, legend = M.colorize({"lamp": lamp, "bed": bed}, (4, 3))
    assert overlay.mode == "RGBA" and overlay.size == (4, 3)
    assert list(legend) == ["bed", "lamp"]
    assert legend["bed"] != legend["lamp"]
    pixels = np.asarray(overlay)
    assert tuple(pixels[0, 0, :3]) == legend["bed"]
    assert tuple(pixels[0, 3, :3]) == legend["lamp"]
    assert (pixels[~(bed | lamp), 3] == 0).all()
    assert (pixels[bed | lamp, 3] == 150).all()


def test_colorize_is_deterministic_and_readable():
    labels = [f"class {i}" for i in range(20)] + ["bed", "pillow", "wall", "floor"]
    masks = {name: np.zeros((2, 2), bool) for name in labels}
    _, legend = M.colorize(masks, (2, 2))
    _, again = M.colorize(masks, (2, 2))
    assert legend == again
    assert len(set(legend.values())) == len(labels), "colours within one overlay are distinct"
    for r, g, b in legend.values():
        assert max(r, g, b) >= 180, "bright enough to read labels against"
        assert max(r, g, b) - min(r, g, b) >= 70, "saturated, not grey"
    assert M.colorize({"bed": np.zeros((2, 2), bool)}, (2, 2))[1]["bed"] == M.class_color("bed")


def test_colorize_scales_masks_to_the_requested_size():
    mask = arr("#. ..")
    overlay, legend = M.colorize({"bed": mask}, (4, 4))
    alpha = np.asarray(overlay)[..., 3] > 0
    np.testing.assert_array_equal(alpha, arr("##.. ##.. .... ...."))
