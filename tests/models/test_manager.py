"""ModelManager: lookup in the WebUI folders, the models dir and the HF cache; downloads; status."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from alien_filters.models.manager import (
    ModelManager,
    ModelMissingError,
    default_models_dir,
    hf_hub_cache,
)
from alien_filters.models.registry import REGISTRY, get_spec


class RecordingDownloader:
    """Writes a small file where the manager asks and records what it asked for."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Path, str | None, int | None]] = []

    def __call__(self, url: str, dest: Path, sha256: str | None, size: int | None, progress: bool = True) -> Path:
        self.calls.append((url, dest, sha256, size))
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(b"downloaded")
        return dest


def _touch(path: Path, data: bytes = b"weights") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def _hf_folder(folder: Path, weights: str = "pytorch_model.bin") -> Path:
    _touch(folder / "config.json", b"{}")
    _touch(folder / weights)
    return folder


CLIP_FAMILY_BUT_WEIGHTS_AND_TOKENIZER = (
    "config.json", "preprocessor_config.json", "tokenizer_config.json", "special_tokens_map.json",
)


def _complete_folder(folder: Path, weights: str = "model.safetensors",
                     tokenizer: tuple[str, ...] = ("vocab.json", "merges.txt")) -> Path:
    """Every file a CLIP-family folder needs, with the weights and tokenizer files given (see write_clip for
    real ones)."""
    for name in (*CLIP_FAMILY_BUT_WEIGHTS_AND_TOKENIZER, weights, *tokenizer):
        _touch(folder / name)
    return folder


def test_locate_in_models_dir_with_official_names(tmp_path: Path) -> None:
    manager = ModelManager(tmp_path)
    assert manager.locate("sam_vit_b") is None
    sam = _touch(tmp_path / "sam" / "sam_vit_b_01ec64.pth")
    assert manager.locate("sam_vit_b") == sam
    _touch(tmp_path / "SwinIR" / "SwinIR_4x.pth", b"")  # an empty file is not a model
    assert manager.locate("swinir_x4") is None


def test_search_dirs_are_looked_in_first(tmp_path: Path) -> None:
    webui_sam = tmp_path / "webui" / "models" / "sam"
    ours = _touch(tmp_path / "models" / "sam" / "sam_vit_b_01ec64.pth")
    manager = ModelManager(tmp_path / "models", search_dirs={"sam": [webui_sam]})
    assert manager.locate("sam_vit_b") == ours
    theirs = _touch(webui_sam / "sam_vit_b_01ec64.pth")
    assert manager.locate("sam_vit_b") == theirs


def test_swinir_release_file_name_is_found_too(tmp_path: Path) -> None:
    webui_swinir = tmp_path / "webui" / "SwinIR"
    release = _touch(webui_swinir / "003_realSR_BSRGAN_DFOWMFC_s64w8_SwinIR-L_x4_GAN.pth")
    manager = ModelManager(tmp_path / "models", search_dirs={"SwinIR": [webui_swinir]})
    assert manager.locate("swinir_x4") == release


def test_hf_cache_layout_is_searched(tmp_path: Path) -> None:
    hub = tmp_path / "hf" / "hub"
    repo = hub / "models--openai--clip-vit-base-patch32"
    _complete_folder(repo / "snapshots" / "aaaa")
    newest = _complete_folder(repo / "snapshots" / "bbbb")
    _touch(repo / "refs" / "main", b"bbbb\n")
    as_hub = ModelManager(tmp_path / "models", search_dirs={"transformers": [hub]})
    assert as_hub.locate("clip_vit_b32") == newest
    as_hf_home = ModelManager(tmp_path / "models", search_dirs={"transformers": [tmp_path / "hf"]})
    assert as_hf_home.locate("clip_vit_b32") == newest
    assert as_hub.locate("owlvit_base") is None


def test_save_pretrained_folders_in_a_search_dir(tmp_path: Path) -> None:
    extra = tmp_path / "extra"
    folder = _complete_folder(extra / "google" / "owlvit-base-patch32", tokenizer=("tokenizer.json",))
    manager = ModelManager(tmp_path / "models", search_dirs={"transformers": [extra]})
    assert manager.locate("owlvit_base") == folder


def test_a_folder_without_the_tokenizer_is_passed_over(tmp_path: Path) -> None:
    """config + weights alone (what CLIPModel.from_pretrained caches) cannot load the processor: the next candidate
    that can is used instead."""
    hub = tmp_path / "hf" / "hub"
    repo = hub / "models--openai--clip-vit-base-patch32"
    weights_only = _hf_folder(repo / "snapshots" / "aaaa", weights="model.safetensors")
    _touch(repo / "refs" / "main", b"aaaa")
    manager = ModelManager(tmp_path / "models", search_dirs={"transformers": [hub]})
    assert manager.locate("clip_vit_b32") is None
    complete = _complete_folder(repo / "snapshots" / "bbbb")
    assert manager.locate("clip_vit_b32") == complete
    _complete_folder(weights_only, tokenizer=("tokenizer.json",))
    assert manager.locate("clip_vit_b32") == weights_only


def test_own_folder_counts_only_when_every_file_is_there(tmp_path: Path) -> None:
    spec = get_spec("clip_vit_b32")
    target = tmp_path / spec.relpath
    _hf_folder(target)  # config + weights but no tokenizer files: an interrupted download
    manager = ModelManager(tmp_path)
    assert manager.locate("clip_vit_b32") is None
    for remote in spec.files:
        _touch(target / remote.filename)
    assert manager.locate("clip_vit_b32") == target


def test_own_folder_accepts_either_weights_format(tmp_path: Path) -> None:
    spec = get_spec("clip_vit_b32")  # the hub serves pytorch_model.bin for this one
    target = tmp_path / spec.relpath
    for remote in spec.files:
        if remote.filename != "pytorch_model.bin":
            _touch(target / remote.filename)
    manager = ModelManager(tmp_path)
    assert manager.locate("clip_vit_b32") is None  # no weights at all
    _touch(target / "model.safetensors")  # what save_pretrained(safe_serialization=True) writes
    assert manager.locate("clip_vit_b32") == target


def test_present_files_are_used_without_download(tmp_path: Path) -> None:
    downloader = RecordingDownloader()
    sam = _touch(tmp_path / "sam" / "sam_vit_b_01ec64.pth", b"not the official bytes")
    manager = ModelManager(tmp_path, downloader=downloader)
    assert manager.ensure("sam_vit_b") == sam
    assert downloader.calls == []


def test_ensure_downloads_a_missing_file_to_its_official_path(tmp_path: Path) -> None:
    downloader = RecordingDownloader()
    manager = ModelManager(tmp_path, downloader=downloader)
    path = manager.ensure("swinir_x2")
    spec = get_spec("swinir_x2")
    assert path == tmp_path / spec.relpath and path.is_file()
    assert downloader.calls == [(spec.url, path, spec.sha256, spec.size)]
    assert manager.ensure("swinir_x2") == path and len(downloader.calls) == 1


def test_ensure_downloads_every_missing_file_of_a_folder(tmp_path: Path) -> None:
    downloader = RecordingDownloader()
    spec = get_spec("owlvit_base")
    target = tmp_path / spec.relpath
    _touch(target / "config.json", b"{}")  # left by an earlier, interrupted run
    manager = ModelManager(tmp_path, downloader=downloader)
    assert manager.ensure("owlvit_base") == target
    wanted = [(f.url, target / f.filename, f.sha256, f.size) for f in spec.files if f.filename != "config.json"]
    assert downloader.calls == wanted
    assert manager.locate("owlvit_base") == target


@pytest.mark.parametrize("tokenizer", [("vocab.json", "merges.txt"), ("tokenizer.json",)])
def test_a_folder_with_either_weights_and_either_tokenizer_is_used_without_download(tmp_path: Path, tokenizer) -> None:
    downloader = RecordingDownloader()
    spec = get_spec("clip_vit_b32")  # the registry downloads pytorch_model.bin and tokenizer.json for it
    target = _complete_folder(tmp_path / spec.relpath, weights="model.safetensors", tokenizer=tokenizer)
    manager = ModelManager(tmp_path, downloader=downloader)
    assert manager.ensure("clip_vit_b32") == target
    assert downloader.calls == []


def test_ensure_fetches_only_the_missing_tokenizer(tmp_path: Path) -> None:
    downloader = RecordingDownloader()
    spec = get_spec("clip_vit_b32")
    target = _complete_folder(tmp_path / spec.relpath, weights="model.safetensors", tokenizer=())
    manager = ModelManager(tmp_path, downloader=downloader)
    assert manager.ensure("clip_vit_b32") == target
    tokenizer = next(f for f in spec.files if f.filename == "tokenizer.json")
    assert downloader.calls == [(tokenizer.url, target / "tokenizer.json", tokenizer.sha256, tokenizer.size)]
    assert manager.locate("clip_vit_b32") == target


def test_offline_a_folder_missing_only_the_tokenizer_names_the_tokenizer(tmp_path: Path) -> None:
    spec = get_spec("clip_vit_b32")
    target = _complete_folder(tmp_path / spec.relpath, weights="model.safetensors", tokenizer=())
    manager = ModelManager(tmp_path, allow_download=False)
    with pytest.raises(ModelMissingError) as info:
        manager.ensure("clip_vit_b32")
    message = str(info.value)
    assert f"Missing in {target}: tokenizer (tokenizer.json or vocab.json + merges.txt)." in message
    assert f"{spec.files[0].url.rsplit('/', 1)[0]}/tokenizer.json into the folder: {target}" in message
    assert "pytorch_model.bin" not in message and "config.json" not in message


def test_a_half_written_tokenizer_is_completed_with_the_fewest_files(tmp_path: Path) -> None:
    downloader = RecordingDownloader()
    spec = get_spec("owlvit_base")  # only vocab.json + merges.txt are published for it
    target = _complete_folder(tmp_path / spec.relpath, tokenizer=("vocab.json",))
    ModelManager(tmp_path, downloader=downloader).ensure("owlvit_base")
    assert [dest for _, dest, _, _ in downloader.calls] == [target / "merges.txt"]


def test_unverified_download_is_reported(tmp_path: Path, caplog) -> None:
    manager = ModelManager(tmp_path, downloader=RecordingDownloader())
    with caplog.at_level("WARNING"):
        manager.ensure("owlv2_base")
    assert "owlv2_base" in caplog.text and "not be verified" in caplog.text


def test_missing_model_with_downloads_off_says_where_to_put_it(tmp_path: Path) -> None:
    webui_sam = tmp_path / "webui" / "sam"
    manager = ModelManager(tmp_path / "models", search_dirs={"sam": [webui_sam]}, allow_download=False)
    with pytest.raises(ModelMissingError) as info:
        manager.ensure("sam_vit_b")
    message = str(info.value)
    spec = get_spec("sam_vit_b")
    assert spec.url in message
    assert str(tmp_path / "models" / "sam" / "sam_vit_b_01ec64.pth") in message
    assert str(webui_sam / "sam_vit_b_01ec64.pth") in message


def test_status_lists_the_registry(tmp_path: Path) -> None:
    sam = _touch(tmp_path / "sam" / "sam_vit_b_01ec64.pth", b"12345")
    rows = {row["name"]: row for row in ModelManager(tmp_path).status()}
    assert set(rows) == set(REGISTRY)
    assert rows["sam_vit_b"]["present"] and rows["sam_vit_b"]["path"] == str(sam) and rows["sam_vit_b"]["size"] == 5
    missing = rows["swinir_x4"]
    assert not missing["present"] and missing["size"] == get_spec("swinir_x4").size
    assert missing["path"] == str(tmp_path / "SwinIR" / "SwinIR_4x.pth")
    assert rows["clip_vit_b32"]["url"] == "https://huggingface.co/openai/clip-vit-base-patch32"
    assert rows["owlv2_base"]["verified"] is False and rows["sam_vit_h"]["license"] == "Apache-2.0"
    assert {"name", "stage", "present", "path", "size", "license", "url"} <= set(missing)
    assert missing["files"] == [{"name": "SwinIR_4x.pth", "url": get_spec("swinir_x4").url,
                                 "sha256": get_spec("swinir_x4").sha256, "size": get_spec("swinir_x4").size}]
    clip = get_spec("clip_vit_b32")
    assert rows["clip_vit_b32"]["files"] == [
        {"name": f.filename, "url": f.url, "sha256": f.sha256, "size": f.size} for f in clip.files
    ]
    assert all(f["sha256"] for f in rows["clip_vit_b32"]["files"])
    owlv2_files = {f["name"]: f["sha256"] for f in rows["owlv2_base"]["files"]}
    assert owlv2_files["model.safetensors"] == get_spec("owlv2_base").files[1].sha256
    assert owlv2_files["config.json"] is None  # none published: null, never made up
    requires = {group["what"]: group["options"] for group in rows["clip_vit_b32"]["requires"]}
    assert requires["weights"] == [["model.safetensors"], ["pytorch_model.bin"]]
    assert requires["tokenizer"] == [["tokenizer.json"], ["vocab.json", "merges.txt"]]
    assert rows["sam_vit_b"]["requires"] == []
    json.dumps(list(rows.values()))  # the CLI prints it with --json


def test_record_load_counts_per_model(tmp_path: Path) -> None:
    manager = ModelManager(tmp_path)
    manager.record_load("sam_vit_b")
    manager.record_load("sam_vit_b")
    manager.record_load("swinir_x2")
    assert manager.load_count == {"sam_vit_b": 2, "swinir_x2": 1}


def test_default_folders_follow_the_environment(tmp_path: Path, monkeypatch) -> None:
    for var in ("ALIEN_FILTERS_MODELS_DIR", "HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "HF_HOME"):
        monkeypatch.delenv(var, raising=False)
    assert default_models_dir() == Path.home() / ".cache" / "alien-filters" / "models"
    assert hf_hub_cache() == Path.home() / ".cache" / "huggingface" / "hub"
    monkeypatch.setenv("ALIEN_FILTERS_MODELS_DIR", str(tmp_path / "m"))
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    assert default_models_dir() == tmp_path / "m"
    assert hf_hub_cache() == tmp_path / "hf" / "hub"
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "cache"))
    assert hf_hub_cache() == tmp_path / "cache"
