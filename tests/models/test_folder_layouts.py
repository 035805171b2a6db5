"""Model folders in the layouts transformers writes are used as they are and really load through our tagging code.

The registry downloads pytorch_model.bin and tokenizer.json for CLIP; a folder that ``save_pretrained`` wrote with
model.safetensors and a slow tokenizer (vocab.json + merges.txt) is just as complete and must not trigger a download.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from alien_filters.core.run_options import StageChoices
from alien_filters.models.manager import ModelManager
from alien_filters.stages.factory import build_tagger
from tests.support.builders_detectors import CLIP_DIR, OWLVIT_DIR, room_image, write_clip, write_owlvit


class RefusingDownloader:
    """Fails the test on any download."""

    def __call__(self, url: str, dest: Path, *args: object, **kwargs: object) -> Path:
        raise AssertionError(f"unexpected download of {url} to {dest}")


@pytest.mark.parametrize("layout", ["slow tokenizer", "tokenizer.json only"])
def test_safetensors_folders_with_either_tokenizer_load_without_download(tmp_path: Path, layout: str) -> None:
    slow = layout == "slow tokenizer"
    folders = [write_owlvit(tmp_path / OWLVIT_DIR, slow_tokenizer=slow),
               write_clip(tmp_path / CLIP_DIR, slow_tokenizer=slow)]
    for folder in folders:
        if not slow:  # what a fast tokenizer's save_pretrained(legacy_format=False) leaves
            (folder / "vocab.json").unlink()
            (folder / "merges.txt").unlink()
        names = {p.name for p in folder.iterdir()}
        assert "model.safetensors" in names and "pytorch_model.bin" not in names
        assert ("tokenizer.json" in names) != slow and ({"vocab.json", "merges.txt"} <= names) == slow
    manager = ModelManager(tmp_path, downloader=RefusingDownloader())
    tagger = build_tagger(manager, StageChoices(detector="owlvit"), "cpu")
    assert tagger.detector.model.config.model_type == "owlvit"
    tags = tagger.tag(room_image(96, 64))
    assert tags.styles and abs(sum(tags.styles.values()) - 1.0) < 1e-3  # CLIP's softmax over the style prompts
    assert manager.load_count == {"owlvit_base": 1, "clip_vit_b32": 1}
