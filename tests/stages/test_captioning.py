"""Caption stage on a random-weight BLIP folder (a reduced BlipConfig saved as users keep the released model)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from alien_filters.stages.captioning import BlipCaptioner
from alien_filters.stages.tagging import ObjectStyleTagger
from tests.support.builders_captioning import WORDS, write_blip
from tests.support.builders_detectors import room_image, write_owlvit

IMAGES = [room_image(160, 96, 1), room_image(80, 120, 2)]


@pytest.fixture(scope="module")
def blip_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_blip(tmp_path_factory.mktemp("blip") / "blip-image-captioning-base")


@pytest.fixture(scope="module")
def captioner(blip_folder: Path) -> BlipCaptioner:
    return BlipCaptioner.from_pretrained(blip_folder)


def test_a_caption_is_one_line_of_the_model_words(captioner: BlipCaptioner) -> None:
    before = captioner.calls
    captions = [captioner(image) for image in IMAGES]
    assert captioner.calls == before + 2
    for caption in captions:
        assert caption and "\n" not in caption and caption == caption.strip()
        assert set(caption.split()) <= set(WORDS), "special tokens ([DEC], [SEP], [PAD]) are not in the text"
        assert len(caption.split()) >= 4, "min_length keeps the decoder from stopping at once"
    assert captioner(IMAGES[0]) == captions[0], "greedy decoding: the same image gives the same caption"


def test_offload_moves_the_model_to_the_cpu_and_the_next_caption_still_works(captioner: BlipCaptioner,
                                                                               monkeypatch) -> None:
    released = []
    monkeypatch.setattr("alien_filters.models.device.release_model",
                        lambda model, device, mode: released.append((model, mode)))
    captioner.offload()
    assert released == [(captioner.model, "cpu")]
    assert captioner(IMAGES[1])


def test_a_folder_of_another_model_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "clip"}))
    with pytest.raises(ValueError, match=f"{tmp_path}.*'clip' is not a BLIP captioning model"):
        BlipCaptioner.from_pretrained(tmp_path)
    with pytest.raises(FileNotFoundError, match="config.json: missing"):
        BlipCaptioner.from_pretrained(tmp_path / "nothing")


def test_damaged_weights_name_the_folder(blip_folder: Path, tmp_path: Path) -> None:
    broken = tmp_path / "blip"
    broken.mkdir()
    for path in blip_folder.iterdir():
        (broken / path.name).write_bytes(path.read_bytes())
    (broken / "model.safetensors").write_bytes(b"not safetensors")
    with pytest.raises(OSError, match=f"{broken}: cannot load BLIP"):
        BlipCaptioner.from_pretrained(broken)


def test_tagger_from_folders_with_a_caption_folder(blip_folder: Path, tmp_path: Path) -> None:
    owl = write_owlvit(tmp_path / "owlvit")
    queries = [("a bed", "bed"), ("a lamp", "lamp")]
    tagger = ObjectStyleTagger.from_folders(owl, queries, default_threshold=0.0, caption_folder=blip_folder,
                                            torch_dtype=torch.float32)
    assert tagger.name == "owlvit+blip", "tags cached without a caption are under another key"
    tags = tagger.tag(IMAGES[0])
    assert tags.caption == BlipCaptioner.from_pretrained(blip_folder)(IMAGES[0])
    assert tags.to_dict()["caption"] == tags.caption
    assert ObjectStyleTagger.from_folders(owl, queries).tag(IMAGES[0]).caption is None


def test_release_offloads_the_captioner_too(blip_folder: Path, tmp_path: Path, monkeypatch) -> None:
    tagger = ObjectStyleTagger.from_folders(write_owlvit(tmp_path / "owlvit"), [("a bed", "bed")],
                                            caption_folder=blip_folder)
    released = []
    monkeypatch.setattr("alien_filters.models.device.release_model",
                        lambda model, device, mode: released.append(model))
    tagger.release()
    assert tagger.captioner.model in released and tagger.detector.model in released
