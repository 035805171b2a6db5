"""Allowed roots: relative paths looked up root by root; '..', symlink escapes and absolute paths elsewhere are
refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from alien_filters.webui.paths import PathNotAllowed, outside_roots, parse_roots, resolve_inside


@pytest.fixture
def tree(tmp_path: Path) -> dict[str, Path]:
    root = tmp_path / "root"
    (root / "photos").mkdir(parents=True)
    outside = tmp_path / "secret"
    outside.mkdir()
    (outside / "a.jpg").write_bytes(b"x")
    (root / "escape").symlink_to(outside, target_is_directory=True)
    (root / "photos" / "link.jpg").symlink_to(outside / "a.jpg")
    return {"root": root, "outside": outside}


def test_paths_inside_are_resolved(tree):
    root = tree["root"]
    assert resolve_inside("photos", [root]) == (root / "photos").resolve()
    assert resolve_inside(str(root / "photos"), [root]) == (root / "photos").resolve()
    assert resolve_inside(str(root), [root]) == root.resolve()


@pytest.mark.parametrize("requested", ["../secret", "photos/../../secret", "photos/..", "..\\secret"])
def test_dot_dot_is_refused(tree, requested):
    with pytest.raises(PathNotAllowed, match="'..' is not allowed"):
        resolve_inside(requested, [tree["root"]])


def test_symlink_escape_is_refused(tree):
    with pytest.raises(PathNotAllowed, match="outside the allowed roots"):
        resolve_inside("escape", [tree["root"]])


def test_absolute_path_elsewhere_is_refused(tree):
    with pytest.raises(PathNotAllowed, match="outside the allowed roots"):
        resolve_inside(str(tree["outside"]), [tree["root"]])
    with pytest.raises(PathNotAllowed):
        resolve_inside("/etc", [tree["root"]])


def test_prefix_siblings_are_not_inside(tree, tmp_path):
    sibling = tmp_path / "root2"
    sibling.mkdir()
    with pytest.raises(PathNotAllowed):
        resolve_inside(str(sibling), [tree["root"]])


def test_no_roots_means_nothing_is_allowed(tree):
    with pytest.raises(PathNotAllowed, match="no allowed roots"):
        resolve_inside(str(tree["root"]), [])


def test_symlinked_files_pointing_out_are_found(tree):
    photos = tree["root"] / "photos"
    (photos / "ok.jpg").write_bytes(b"x")
    assert outside_roots([photos / "ok.jpg", photos / "link.jpg"], [tree["root"]]) == [photos / "link.jpg"]


def test_parse_roots_lines_and_semicolons():
    assert parse_roots("/a\n /b ; /c\n\n") == [Path("/a"), Path("/b"), Path("/c")]


@pytest.fixture
def two_roots(tmp_path: Path) -> list[Path]:
    """Like the default roots: an outputs root first, an inputs root second."""
    roots = [tmp_path / "outputs", tmp_path / "inputs"]
    for root in roots:
        root.mkdir()
    return roots


def test_a_relative_folder_is_found_in_a_later_root(two_roots):
    outputs, inputs = two_roots
    (inputs / "rooms").mkdir()
    assert resolve_inside("rooms", two_roots) == (inputs / "rooms").resolve()
    (inputs / "rooms" / "floor2").mkdir()
    assert resolve_inside("rooms/floor2", two_roots) == (inputs / "rooms" / "floor2").resolve()


def test_the_first_root_holding_the_relative_path_wins(two_roots):
    outputs, inputs = two_roots
    (outputs / "rooms").mkdir()
    (inputs / "rooms").mkdir()
    assert resolve_inside("rooms", two_roots) == (outputs / "rooms").resolve()
    assert resolve_inside("rooms", [inputs, outputs]) == (inputs / "rooms").resolve()


def test_a_relative_path_in_no_root_is_taken_in_the_first(two_roots):
    outputs, _ = two_roots
    assert resolve_inside("new-output/run1", two_roots) == (outputs / "new-output" / "run1").resolve()


def test_a_link_out_in_an_earlier_root_is_refused_not_skipped(two_roots, tmp_path):
    outputs, inputs = two_roots
    secret = tmp_path / "secret"
    secret.mkdir()
    (outputs / "rooms").symlink_to(secret, target_is_directory=True)
    (inputs / "rooms").mkdir()
    with pytest.raises(PathNotAllowed, match="outside the allowed roots"):
        resolve_inside("rooms", two_roots)


def test_escapes_through_a_later_root_are_refused(two_roots, tmp_path):
    _, inputs = two_roots
    secret = tmp_path / "secret"
    secret.mkdir()
    (inputs / "escape").symlink_to(secret, target_is_directory=True)
    with pytest.raises(PathNotAllowed, match="outside the allowed roots"):
        resolve_inside("escape", two_roots)
    (inputs / "rooms").mkdir()
    for requested in ("rooms/../../secret", "../secret", "rooms/.."):
        with pytest.raises(PathNotAllowed, match="'..' is not allowed"):
            resolve_inside(requested, two_roots)
    with pytest.raises(PathNotAllowed, match="outside the allowed roots"):
        resolve_inside(str(secret), two_roots)

