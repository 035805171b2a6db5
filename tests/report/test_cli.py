"""``report`` on the command line with random-weight OWL-ViT and CLIP saved where users keep them."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

import alien_filters.stages.factory as factory
from alien_filters.report.cli import add_parser
from tests.support.builders_detectors import CLIP_DIR, OWLVIT_DIR, write_clip, write_owlvit
from tests.support.report_rooms import write_bad_files, write_group


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="python -m alien_filters")
    add_parser(root.add_subparsers(dest="command"))
    return root


def run(*argv: str | Path) -> int:
    args = parser().parse_args([str(a) for a in argv])
    return args.handler(args)


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Tiny random-weight OWL-ViT and CLIP folders where the model manager looks for them."""
    root = tmp_path_factory.mktemp("models")
    write_owlvit(root / OWLVIT_DIR)
    write_clip(root / CLIP_DIR)
    return root


@pytest.fixture(scope="module")
def photos(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("photos")
    write_group(root, "room", ["bed", "lamp", "window"], 3, seed=7)
    write_bad_files(root / "broken")
    return root


def test_arguments():
    args = parser().parse_args(["report", "a", "b", "--out", "o", "--manifests", "m1", "--manifests", "m2"])
    assert args.inputs == [Path("a"), Path("b")] and args.out == Path("o") and args.theme == "alien"
    assert args.manifests == [Path("m1"), Path("m2")] and args.device == "auto"


def test_report_with_real_models_then_from_cache(models, photos, tmp_path, monkeypatch, capsys):
    out = tmp_path / "report"
    assert run("report", photos, "--out", out, "--models-dir", models, "--device", "cpu", "--offline") == 0
    data = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert data["tag_sources"] == {"cache": 0, "manifest": 0, "tagger": 3}
    assert data["embedder"] == "clip:clip-vit-base-patch32"
    assert [c["kind"] for c in data["clusters"]] == ["tags", "embeddings"]
    assert sorted(Path(b["path"]).name for b in data["bad_files"]) == ["empty.jpg", "notes.png", "truncated.jpg"]
    assert data["stats"]["theme"]["name"] == "alien"
    assert "3 images, 3 bad file(s)" in capsys.readouterr().out

    def no_models(*args, **kwargs):
        raise AssertionError("a model was loaded although every tag is cached")

    monkeypatch.setattr(factory, "build_tagger", no_models)
    monkeypatch.setattr("alien_filters.report.embed.ClipImageEmbedder.from_folder", no_models)
    assert run("report", photos, "--out", out, "--models-dir", models, "--device", "cpu", "--offline") == 0
    again = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert again["tag_sources"] == {"cache": 3, "manifest": 0, "tagger": 0}
    assert again["clusters"] == data["clusters"]


def test_missing_models_stop_with_where_to_put_them(photos, tmp_path, capsys):
    code = run("report", photos, "--out", tmp_path / "r", "--models-dir", tmp_path / "none", "--offline",
               "--device", "cpu")
    assert code == 2
    err = capsys.readouterr().err
    assert "error: cannot load" in err and "owlvit" in err


def test_unknown_theme_is_a_usage_error(photos, tmp_path, capsys):
    assert run("report", photos, "--out", tmp_path / "r", "--theme", "nope") == 2
    assert "no theme named 'nope'" in capsys.readouterr().err
