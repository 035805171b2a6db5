"""Every model Alien Filters can use: where it comes from, its checksum, size, license and stage.

Checksums and sizes are the published ones (Meta's SAM list, the SwinIR v0.0 release as recorded by
OpenModelDB, Hugging Face LFS records at a pinned revision). Where no public checksum was found the
value is ``None`` and the manager reports the download as not verified; nothing here is invented.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Callable, NamedTuple

KINDS = ("file", "hf_folder")
STAGES = ("restore", "tag", "caption", "segment", "inpaint")


class RemoteFile(NamedTuple):
    """One file of a Hugging Face folder: its name in the folder, URL, sha256 and size (bytes)."""

    filename: str
    url: str
    sha256: str | None
    size: int | None


class FileGroup(NamedTuple):
    """One thing a model folder needs (``what``), given as alternative ``options``: any one option whose files
    are all there satisfies it. The first option the registry can download is fetched when none is there."""

    what: str
    options: tuple[tuple[str, ...], ...]

    def satisfied(self, has: Callable[[str], bool]) -> bool:
        """Whether every file of some option is there (``has(filename)``)."""
        return any(all(has(name) for name in option) for option in self.options)

    def describe(self) -> str:
        """The group in words: 'config.json', or 'tokenizer (tokenizer.json or vocab.json + merges.txt)'."""
        options = " or ".join(" + ".join(option) for option in self.options)
        return options if options == self.what else f"{self.what} ({options})"


def _needs(*filenames: str) -> tuple[FileGroup, ...]:
    return tuple(FileGroup(name, ((name,),)) for name in filenames)


WEIGHTS = FileGroup("weights", (("model.safetensors",), ("pytorch_model.bin",)))
"""``save_pretrained`` writes model.safetensors (safe_serialization, the default from transformers 4.35) or
pytorch_model.bin; transformers loads either."""
CLIP_TOKENIZER = FileGroup("tokenizer", (("tokenizer.json",), ("vocab.json", "merges.txt")))
"""A fast tokenizer's tokenizer.json, or the vocab.json + merges.txt a slow tokenizer's ``save_pretrained`` writes
(the fast tokenizer is converted from them)."""
CLIP_FAMILY_FOLDER = (
    *_needs("config.json"), WEIGHTS, *_needs("preprocessor_config.json"), CLIP_TOKENIZER,
    *_needs("tokenizer_config.json", "special_tokens_map.json"),
)
"""What transformers needs to load a CLIP, OWL-ViT or OWLv2 model and its processor from a folder
(tokenizer_config.json holds OWL's 16-token length, special_tokens_map.json its padding token)."""
BLIP_FOLDER = (
    *_needs("config.json"), WEIGHTS, *_needs("preprocessor_config.json"),
    FileGroup("tokenizer", (("vocab.txt",), ("tokenizer.json",))),
    *_needs("tokenizer_config.json", "special_tokens_map.json"),
)
"""What ``BlipForConditionalGeneration`` + ``BlipProcessor`` load from a folder (a BERT tokenizer: vocab.txt, or
the fast tokenizer's tokenizer.json)."""


@dataclass(frozen=True)
class ModelSpec:
    """A model as users have it on disk (``relpath`` under the models folder) and where to get it."""

    name: str
    kind: str
    stage: str
    relpath: str
    url: str | None = None
    sha256: str | None = None
    size: int | None = None
    files: tuple[RemoteFile, ...] = ()
    license: str = ""
    description: str = ""
    aliases: tuple[str, ...] = ()
    """Other file names the same weights are known by (for ``file`` models), e.g. the release name."""
    requires: tuple[FileGroup, ...] = ()
    """What a ``hf_folder`` must hold to be used; each group's alternatives name files of ``files``."""

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"model {self.name!r}: kind must be one of {KINDS}, got {self.kind!r}")
        if self.stage not in STAGES:
            raise ValueError(f"model {self.name!r}: stage must be one of {STAGES}, got {self.stage!r}")
        if self.kind == "file" and not self.url:
            raise ValueError(f"model {self.name!r}: a file model needs a url")
        if self.kind == "hf_folder" and not self.files:
            raise ValueError(f"model {self.name!r}: a hf_folder model needs its files")
        if self.kind == "hf_folder":
            self._check_requires()

    def _check_requires(self) -> None:
        if not self.requires:
            raise ValueError(f"model {self.name!r}: a hf_folder model needs its required file groups")
        remote = {f.filename for f in self.files}
        for group in self.requires:
            if not any(set(option) <= remote for option in group.options):
                raise ValueError(f"model {self.name!r}: no downloadable option for {group.describe()}")
        named = {name for group in self.requires for option in group.options for name in option}
        if remote - named:
            raise ValueError(f"model {self.name!r}: files no required group names: {', '.join(sorted(remote - named))}")

    def missing_groups(self, has: Callable[[str], bool]) -> list[FileGroup]:
        """The required groups of a ``hf_folder`` that no option satisfies, given ``has(filename)``."""
        return [group for group in self.requires if not group.satisfied(has)]

    def files_to_fetch(self, has: Callable[[str], bool]) -> list[RemoteFile]:
        """What to download so the folder is complete: for each missing group, the missing files of its downloadable
        option that lacks the fewest (the first such option on a tie), in ``files`` order."""
        remote = {f.filename: f for f in self.files}
        wanted: set[str] = set()
        for group in self.missing_groups(has):
            options = [option for option in group.options if set(option) <= set(remote)]
            best = min(options, key=lambda option: sum(not has(name) for name in option))
            wanted.update(name for name in best if not has(name))
        return [f for f in self.files if f.filename in wanted]

    @property
    def subdir(self) -> str:
        """The models subfolder kind: 'sam', 'SwinIR' or 'transformers' (keys of ``search_dirs``)."""
        return PurePosixPath(self.relpath).parts[0]

    @property
    def filename(self) -> str:
        return PurePosixPath(self.relpath).name

    @property
    def repo_id(self) -> str | None:
        """'ORG/NAME' of a Hugging Face folder (from ``transformers/ORG/NAME``), else None."""
        if self.kind != "hf_folder":
            return None
        parts = PurePosixPath(self.relpath).parts
        return "/".join(parts[1:3])

    @property
    def revision(self) -> str | None:
        """The pinned Hugging Face revision the files are downloaded at (from their URLs), else None."""
        if self.kind != "hf_folder":
            return None
        return self.files[0].url.split("/resolve/", 1)[1].split("/", 1)[0]

    @property
    def verified(self) -> bool:
        """True when every file this model downloads has a published sha256."""
        if self.kind == "file":
            return self.sha256 is not None
        return all(f.sha256 is not None for f in self.files)

    @property
    def total_size(self) -> int | None:
        """Expected bytes on disk, or None when a size is unknown."""
        if self.kind == "file":
            return self.size
        sizes = [f.size for f in self.files]
        return None if any(s is None for s in sizes) else sum(sizes)  # type: ignore[misc]


def _hf_files(repo: str, revision: str, entries: list[tuple[str, str | None, int | None]]) -> tuple[RemoteFile, ...]:
    base = f"https://huggingface.co/{repo}/resolve/{revision}"
    return tuple(RemoteFile(name, f"{base}/{name}", sha, size) for name, sha, size in entries)


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
        files=_hf_files(
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
        files=_hf_files(
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
        files=_hf_files(
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
        files=_hf_files(
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
