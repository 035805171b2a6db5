"""Every model Alien Filters can use: where it comes from, its checksum, size, license and stage.

Checksums and sizes are the published ones (Meta's SAM list, the SwinIR v0.0 release as recorded by
OpenModelDB, Hugging Face LFS records at a pinned revision). Where no public checksum was found the
value is ``None`` and the manager reports the download as not verified; nothing here is invented.
"""

from __future__ import annotations

from .specs import (
    BLIP_FOLDER,
    CLIP_FAMILY_FOLDER,
    CLIP_TOKENIZER,
    CONTROLNET_FOLDER,
    DPT_FOLDER,
    KINDS,
    STAGES,
    WEIGHTS,
    FileGroup,
    ModelSpec,
    RemoteFile,
    hf_files,
)

__all__ = ["BLIP_FOLDER", "CLIP_FAMILY_FOLDER", "CLIP_TOKENIZER", "CONTROLNET_FOLDER", "DPT_FOLDER", "KINDS",
           "REGISTRY", "STAGES", "WEIGHTS", "FileGroup", "ModelSpec", "RemoteFile", "get_spec", "specs_for_stage"]

_SAM_BASE = "https://dl.fbaipublicfiles.com/segment_anything"
_SWINIR_BASE = "https://github.com/JingyunLiang/SwinIR/releases/download/v0.0"
SWINIR_X4_RELEASE_NAME = "003_realSR_BSRGAN_DFOWMFC_s64w8_SwinIR-L_x4_GAN.pth"
SWINIR_X2_RELEASE_NAME = "003_realSR_BSRGAN_DFO_s64w8_SwinIR-M_x2_GAN.pth"

_SPECS = [
    ModelSpec(
        name="sam_vit_b",
        kind="file",
        stage="segment",
        relpath="sam/sam_vit_b_01ec64.pth",
        url=f"{_SAM_BASE}/sam_vit_b_01ec64.pth",
        sha256="ec2df62732614e57411cdcf32a23ffdf28910380d03139ee0f4fcbe91eb8c912",
        size=375_042_383,
        license="Apache-2.0",
        description="Segment Anything ViT-B (default segmenter)",
    ),
    ModelSpec(
        name="sam_vit_l",
        kind="file",
        stage="segment",
        relpath="sam/sam_vit_l_0b3195.pth",
        url=f"{_SAM_BASE}/sam_vit_l_0b3195.pth",
        sha256="3adcc4315b642a4d2101128f611684e8734c41232a17c648ed1693702a49a622",
        size=1_249_524_607,
        license="Apache-2.0",
        description="Segment Anything ViT-L",
    ),
    ModelSpec(
        name="sam_vit_h",
        kind="file",
        stage="segment",
        relpath="sam/sam_vit_h_4b8939.pth",
        url=f"{_SAM_BASE}/sam_vit_h_4b8939.pth",
        sha256="a7bf3b02f3ebf1267aba913ff637d9a2d5c33d3173bb679e46d9f338c26f262e",
        size=2_564_550_879,
        license="Apache-2.0",
        description="Segment Anything ViT-H",
    ),
    ModelSpec(
        name="swinir_x4",
        kind="file",
        stage="restore",
        relpath="SwinIR/SwinIR_4x.pth",
        url=f"{_SWINIR_BASE}/{SWINIR_X4_RELEASE_NAME}",
        sha256="99adfa91350a84c99e946c1eb3d8fce34bc28f57d807b09dc8fe40a316328c0a",
        size=142_473_939,
        license="Apache-2.0",
        description="SwinIR-L real-world x4 GAN (the WebUI's SwinIR_4x.pth)",
        aliases=(SWINIR_X4_RELEASE_NAME,),
    ),
    ModelSpec(
        name="swinir_x2",
        kind="file",
        stage="restore",
        relpath=f"SwinIR/{SWINIR_X2_RELEASE_NAME}",
        url=f"{_SWINIR_BASE}/{SWINIR_X2_RELEASE_NAME}",
        sha256="f397408977a3e07eb06afb7238d453a12ef35ebab7328a54241f307860dbe342",
        size=66_974_517,
        license="Apache-2.0",
        description="SwinIR-M real-world x2 GAN (used when 2x reaches the working size)",
    ),
    ModelSpec(
        name="owlvit_base",
        kind="hf_folder",
        stage="tag",
        relpath="transformers/google/owlvit-base-patch32",
        files=hf_files(
            "google/owlvit-base-patch32",
            "cbc355fb364588351c5d51c7f74465e8e7ec6f72",
            [
                ("config.json", "b5934e0d2933194b8a85f93674e577feaa1a1ba2dc1d143b2d5e5305ff7a9d7c", 4418),
                ("model.safetensors", "4dbe0399f0b7d7c8dddf1535a98769cc30743bebc877aea681998c8d984ce52b", 612_983_940),
                ("preprocessor_config.json", "2010d320cd2c68a8bb1de69aaa8f89daf173ef17cc22a30e4baf44b2f0e9bb6e", 392),
                ("merges.txt", "9fd691f7c8039210e0fced15865466c65820d09b63988b0174bfe25de299051a", 524_619),
                ("vocab.json", "e089ad92ba36837a0d31433e555c8f45fe601ab5c221d4f607ded32d9f7a4349", 1_059_962),
                ("special_tokens_map.json", "f118ab3a983206e4f32583448de6bd6aae4ee21869135cef1f5848a753cdaab6", 460),
                ("tokenizer_config.json", "da35aceebeda2adf44094a5867940b09379323b9390fa9197b57044e106bfb6e", 775),
            ],
        ),
        requires=CLIP_FAMILY_FOLDER,
        license="Apache-2.0",
        description="OWL-ViT base patch32 open-vocabulary detector (works with transformers 4.30)",
    ),
    ModelSpec(
        name="owlv2_base",
        kind="hf_folder",
        stage="tag",
        relpath="transformers/google/owlv2-base-patch16-ensemble",
        files=hf_files(
            "google/owlv2-base-patch16-ensemble",
            "cfd3195ba4ea9592eec887ded089f4c08eff231d",
            [
                ("config.json", None, None),
                ("model.safetensors", "e1e130b9e404cf91a75ad45644c1da9d7fa5284085eecc864266a6923efb99e7", 619_918_824),
                ("preprocessor_config.json", None, None),
                ("merges.txt", None, None),
                ("vocab.json", None, None),
                ("special_tokens_map.json", None, None),
                ("tokenizer_config.json", None, None),
            ],
        ),
        requires=CLIP_FAMILY_FOLDER,
        license="Apache-2.0",
        description="OWLv2 base patch16 ensemble detector (needs transformers >= 4.35, e.g. Forge)",
    ),
    ModelSpec(
        name="clip_vit_b32",
        kind="hf_folder",
        stage="tag",
        relpath="transformers/openai/clip-vit-base-patch32",
        files=hf_files(
            "openai/clip-vit-base-patch32",
            "3d74acf9a28c67741b2f4f2ea7635f0aaf6f0268",
            [
                ("config.json", "b575ef3c36f2a057fa19e221650105052d61cc9c1a972ec15019c6261ec98770", 4186),
                ("pytorch_model.bin", "a63082132ba4f97a80bea76823f544493bffa8082296d62d71581a4feff1576f", 605_247_071),
                ("preprocessor_config.json", "910e70b3956ac9879ebc90b22fb3bc8a75b6a0677814500101a4c072bd7857bd", 316),
                ("merges.txt", "f526393189112391ce6f9795d4695f704121ce452c3aad1f5335cc41337eba85", 524_657),
                ("vocab.json", "5047b556ce86ccaf6aa22b3ffccfc52d391ea4accdab9c2f2407da5b742d4363", 862_328),
                ("tokenizer.json", "b556ac8c99757ffb677208af34bc8c6721572114111a6e0aaf5fa69ff0b8d842", 2_224_041),
                ("special_tokens_map.json", "f8c0d6c39aee3f8431078ef6646567b0aba7f2246e9c54b8b99d55c22b707cbf", 389),
                ("tokenizer_config.json", "34b7336e4bee12e0a9730eaf5189f582ef3c3eea5027f65730e5717256755aad", 592),
            ],
        ),
        requires=CLIP_FAMILY_FOLDER,
        license="MIT",
        description="CLIP ViT-B/32 for zero-shot interior-style tags",
    ),
    ModelSpec(
        name="blip_base",
        kind="hf_folder",
        stage="caption",
        relpath="transformers/Salesforce/blip-image-captioning-base",
        # No published sha256 of these files was found; sizes only where the Hub lists them to the byte (the
        # weights are listed as "990 MB"). Downloads are therefore reported as not verified.
        files=hf_files(
            "Salesforce/blip-image-captioning-base",
            "82a37760796d32b1411fe092ab5d4e227313294b",
            [
                ("config.json", None, None),
                ("pytorch_model.bin", None, None),
                ("preprocessor_config.json", None, 287),
                ("vocab.txt", None, None),
                ("tokenizer.json", None, None),
                ("special_tokens_map.json", None, 125),
                ("tokenizer_config.json", None, 506),
            ],
        ),
        requires=BLIP_FOLDER,
        license="BSD-3-Clause",
        description="BLIP base image captioning (COCO), one sentence per image (works with transformers 4.30)",
    ),
]

# Structure guidance (stand-alone): the ControlNet 1.1 SD1.5 models as diffusers folders, the fp16 safetensors
# variant (723 MB each; sha256 from the Hub's LFS records at the pinned revision, exact byte sizes not listed), and
# DPT-Hybrid MiDaS, the depth model ControlNet's own depth annotator runs (as transformers' DPTForDepthEstimation,
# which transformers 4.30 loads; its pytorch_model.bin sha256 is the Hub's LFS record of the upload commit 45026d3
# that every later revision keeps). config.json files are not LFS: no published sha256.
_SPECS += [
    ModelSpec(
        name="control_v11p_sd15_canny",
        kind="hf_folder",
        stage="control",
        relpath="diffusers/lllyasviel/control_v11p_sd15_canny",
        files=hf_files(
            "lllyasviel/control_v11p_sd15_canny",
            "1924abb7afb3f36fecd21f424c126f0195454c87",
            [
                ("config.json", None, None),
                ("diffusion_pytorch_model.fp16.safetensors",
                 "9ed3a7f834aca0d2b26f9c7f186b3ee29465de1d13e152459e8c9cbb25a0c0bc", None),
            ],
        ),
        requires=CONTROLNET_FOLDER,
        license="OpenRAIL",
        description="ControlNet 1.1 canny for SD1.5 (structure guidance, kind canny)",
    ),
    ModelSpec(
        name="control_v11f1p_sd15_depth",
        kind="hf_folder",
        stage="control",
        relpath="diffusers/lllyasviel/control_v11f1p_sd15_depth",
        files=hf_files(
            "lllyasviel/control_v11f1p_sd15_depth",
            "69a0c83163bc4ab91cf0c1c06725463fc705e296",
            [
                ("config.json", None, None),
                ("diffusion_pytorch_model.fp16.safetensors",
                 "838f3e848cb93231d41084d858d117416ab32907a5c8c80c421a131d101ba1ef", None),
            ],
        ),
        requires=CONTROLNET_FOLDER,
        license="OpenRAIL",
        description="ControlNet 1.1 depth for SD1.5 (structure guidance, kind depth)",
    ),
    ModelSpec(
        name="dpt_hybrid_midas",
        kind="hf_folder",
        stage="control",
        relpath="transformers/Intel/dpt-hybrid-midas",
        files=hf_files(
            "Intel/dpt-hybrid-midas",
            "11eaf7a1cf4bd70740697dbc216f98980c0aeb03",
            [
                ("config.json", None, None),
                ("pytorch_model.bin", "b6c4d44f9d96ca3fa76dd3bbb153989a60b4ad5526559f3c598562a368d687ec", None),
                ("preprocessor_config.json", None, 382),
            ],
        ),
        requires=DPT_FOLDER,
        license="Apache-2.0",
        description="DPT-Hybrid MiDaS depth estimator: the depth preprocessor (works with transformers 4.30)",
    ),
]

REGISTRY: dict[str, ModelSpec] = {spec.name: spec for spec in _SPECS}


def get_spec(name: str) -> ModelSpec:
    """The registry entry called ``name``; a KeyError lists the known names."""
    try:
        return REGISTRY[name]
    except KeyError:
        raise KeyError(f"unknown model {name!r}; known models: {', '.join(sorted(REGISTRY))}") from None


def specs_for_stage(stage: str) -> list[ModelSpec]:
    """Registry entries used by ``stage`` (one of ``STAGES``), in registry order."""
    if stage not in STAGES:
        raise ValueError(f"unknown stage {stage!r}; stages: {', '.join(STAGES)}")
    return [spec for spec in _SPECS if spec.stage == stage]
