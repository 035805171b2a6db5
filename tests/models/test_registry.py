"""The model registry: names, official file layout, published checksums, lookups by name and stage."""

from __future__ import annotations

import re

import pytest

from alien_filters.models.registry import (
    CLIP_TOKENIZER,
    REGISTRY,
    WEIGHTS,
    FileGroup,
    ModelSpec,
    RemoteFile,
    get_spec,
    specs_for_stage,
)

HEX64 = re.compile(r"^[0-9a-f]{64}$")
PINNED_HF_URL = re.compile(r"^https://huggingface\.co/[\w.-]+/[\w.-]+/resolve/[0-9a-f]{40}/[\w.-]+$")


def test_registry_has_every_model_the_stages_use() -> None:
    assert {"sam_vit_b", "sam_vit_l", "sam_vit_h", "swinir_x4", "swinir_x2", "owlvit_base", "owlv2_base",
            "clip_vit_b32"} <= set(REGISTRY)


def test_official_file_layout() -> None:
    assert get_spec("sam_vit_b").relpath == "sam/sam_vit_b_01ec64.pth"
    assert get_spec("sam_vit_l").relpath == "sam/sam_vit_l_0b3195.pth"
    assert get_spec("sam_vit_h").relpath == "sam/sam_vit_h_4b8939.pth"
    x4 = get_spec("swinir_x4")
    assert x4.relpath == "SwinIR/SwinIR_4x.pth"  # the name the WebUI saves it under
    assert x4.url.endswith("/v0.0/003_realSR_BSRGAN_DFOWMFC_s64w8_SwinIR-L_x4_GAN.pth")
    assert "003_realSR_BSRGAN_DFOWMFC_s64w8_SwinIR-L_x4_GAN.pth" in x4.aliases
    assert get_spec("swinir_x2").relpath == "SwinIR/003_realSR_BSRGAN_DFO_s64w8_SwinIR-M_x2_GAN.pth"
    assert get_spec("owlvit_base").relpath == "transformers/google/owlvit-base-patch32"
    assert get_spec("clip_vit_b32").repo_id == "openai/clip-vit-base-patch32"
    assert get_spec("control_v11p_sd15_canny").relpath == "diffusers/lllyasviel/control_v11p_sd15_canny"
    assert get_spec("dpt_hybrid_midas").repo_id == "Intel/dpt-hybrid-midas"
    assert {spec.subdir for spec in REGISTRY.values()} == {"sam", "SwinIR", "transformers", "diffusers"}


@pytest.mark.parametrize("spec", list(REGISTRY.values()), ids=list(REGISTRY))
def test_entries_are_well_formed(spec: ModelSpec) -> None:
    assert spec.license and spec.description
    if spec.kind == "file":
        assert spec.url.startswith("https://") and spec.url.endswith(".pth")
        assert spec.sha256 is None or HEX64.match(spec.sha256)
        assert spec.size is None or spec.size > 1_000_000
    else:
        names = [f.filename for f in spec.files]
        assert "config.json" in names
        assert {"model.safetensors", "pytorch_model.bin", "diffusion_pytorch_model.fp16.safetensors"} & set(names)
        assert len(names) == len(set(names))
        for remote in spec.files:
            assert PINNED_HF_URL.match(remote.url), remote.url  # pinned revision: checksums stay true
            assert remote.url.endswith("/" + remote.filename)
            assert remote.sha256 is None or HEX64.match(remote.sha256)


def test_published_checksums_of_the_default_models() -> None:
    assert get_spec("sam_vit_b").sha256 == "ec2df62732614e57411cdcf32a23ffdf28910380d03139ee0f4fcbe91eb8c912"
    assert get_spec("sam_vit_b").size == 375_042_383
    assert get_spec("swinir_x4").sha256 == "99adfa91350a84c99e946c1eb3d8fce34bc28f57d807b09dc8fe40a316328c0a"
    assert get_spec("swinir_x2").size == 66_974_517
    canny, depth = get_spec("control_v11p_sd15_canny"), get_spec("control_v11f1p_sd15_depth")
    assert canny.files[1].sha256 == "9ed3a7f834aca0d2b26f9c7f186b3ee29465de1d13e152459e8c9cbb25a0c0bc"
    assert depth.files[1].sha256 == "838f3e848cb93231d41084d858d117416ab32907a5c8c80c421a131d101ba1ef"
    assert get_spec("dpt_hybrid_midas").files[1].sha256 == (
        "b6c4d44f9d96ca3fa76dd3bbb153989a60b4ad5526559f3c598562a368d687ec")


def test_verified_flag_follows_the_known_checksums() -> None:
    assert get_spec("sam_vit_h").verified
    assert get_spec("clip_vit_b32").verified
    owlv2 = get_spec("owlv2_base")
    assert not owlv2.verified  # only its weights have a published sha256
    assert owlv2.total_size is None
    clip = get_spec("clip_vit_b32")
    assert clip.total_size == sum(f.size for f in clip.files)


def test_get_spec_unknown_lists_known_names() -> None:
    with pytest.raises(KeyError, match="sam_vit_b"):
        get_spec("sam_vit_x")


def test_specs_for_stage() -> None:
    assert [s.name for s in specs_for_stage("segment")] == ["sam_vit_b", "sam_vit_l", "sam_vit_h"]
    assert [s.name for s in specs_for_stage("restore")] == ["swinir_x4", "swinir_x2"]
    assert {s.name for s in specs_for_stage("tag")} == {"owlvit_base", "owlv2_base", "clip_vit_b32"}
    assert [s.name for s in specs_for_stage("caption")] == ["blip_base"]
    assert specs_for_stage("inpaint") == []
    assert [s.name for s in specs_for_stage("control")] == [
        "control_v11p_sd15_canny", "control_v11f1p_sd15_depth", "dpt_hybrid_midas"]
    with pytest.raises(ValueError, match="unknown stage"):
        specs_for_stage("paint")


def test_spec_validation() -> None:
    with pytest.raises(ValueError, match="kind"):
        ModelSpec(name="x", kind="zip", stage="tag", relpath="sam/x.pth", url="https://e/x.pth")
    with pytest.raises(ValueError, match="stage"):
        ModelSpec(name="x", kind="file", stage="paint", relpath="sam/x.pth", url="https://e/x.pth")
    with pytest.raises(ValueError, match="needs a url"):
        ModelSpec(name="x", kind="file", stage="tag", relpath="sam/x.pth")
    with pytest.raises(ValueError, match="needs its files"):
        ModelSpec(name="x", kind="hf_folder", stage="tag", relpath="transformers/a/b")
    config = RemoteFile("config.json", "https://e/config.json", None, 10)
    needs_config = (FileGroup("config.json", (("config.json",),)),)
    with pytest.raises(ValueError, match="needs its required file groups"):
        ModelSpec(name="x", kind="hf_folder", stage="tag", relpath="transformers/a/b", files=(config,))
    with pytest.raises(ValueError, match=r"no downloadable option for weights \(model.safetensors or pytorch"):
        ModelSpec(name="x", kind="hf_folder", stage="tag", relpath="transformers/a/b", files=(config,),
                  requires=(*needs_config, WEIGHTS))
    extra = RemoteFile("added_tokens.json", "https://e/added_tokens.json", None, 10)
    with pytest.raises(ValueError, match="files no required group names: added_tokens.json"):
        ModelSpec(name="x", kind="hf_folder", stage="tag", relpath="transformers/a/b", files=(config, extra),
                  requires=needs_config)
    folder = ModelSpec(name="x", kind="hf_folder", stage="tag", relpath="transformers/a/b", files=(config,),
                       requires=needs_config)
    assert folder.repo_id == "a/b" and folder.subdir == "transformers" and not folder.verified


def test_required_groups_take_any_option() -> None:
    clip = get_spec("clip_vit_b32")
    assert {g.what for g in clip.requires} >= {"config.json", "weights", "tokenizer", "tokenizer_config.json"}
    slow_save = {"config.json", "model.safetensors", "preprocessor_config.json", "vocab.json", "merges.txt",
                 "tokenizer_config.json", "special_tokens_map.json"}
    assert clip.missing_groups(slow_save.__contains__) == []
    assert clip.files_to_fetch(slow_save.__contains__) == []
    no_tokenizer = slow_save - {"vocab.json", "merges.txt"}
    assert clip.missing_groups(no_tokenizer.__contains__) == [CLIP_TOKENIZER]
    assert [f.filename for f in clip.files_to_fetch(no_tokenizer.__contains__)] == ["tokenizer.json"]
    assert CLIP_TOKENIZER.describe() == "tokenizer (tokenizer.json or vocab.json + merges.txt)"
    nothing = [f.filename for f in clip.files_to_fetch(lambda name: False)]
    assert nothing == ["config.json", "pytorch_model.bin", "preprocessor_config.json", "tokenizer.json",
                       "special_tokens_map.json", "tokenizer_config.json"]  # one option per group, in files order


def test_blip_is_registered_as_released_and_unverified() -> None:
    blip = get_spec("blip_base")
    assert blip.repo_id == "Salesforce/blip-image-captioning-base" and blip.stage == "caption"
    assert blip.revision == "82a37760796d32b1411fe092ab5d4e227313294b"
    assert not blip.verified and blip.total_size is None, "no published checksums or weight size were found"
    names = {f.filename for f in blip.files}
    assert {"config.json", "pytorch_model.bin", "vocab.txt", "preprocessor_config.json"} <= names
    has_bin_and_vocab = {"config.json", "pytorch_model.bin", "preprocessor_config.json", "vocab.txt",
                         "tokenizer_config.json", "special_tokens_map.json"}.__contains__
    assert blip.missing_groups(has_bin_and_vocab) == []
    only_fast = {"config.json", "model.safetensors", "preprocessor_config.json", "tokenizer.json",
                 "tokenizer_config.json", "special_tokens_map.json"}.__contains__
    assert blip.missing_groups(only_fast) == [], "what save_pretrained writes on 4.46 is a complete folder"
