"""The shapes of registry entries: a model as users have it on disk, the files of a Hugging Face folder and the
groups of files a folder needs (the registry's data lives in ``registry.py``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Callable, NamedTuple

KINDS = ("file", "hf_folder")
STAGES = ("restore", "tag", "caption", "segment", "inpaint", "control")


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
CONTROLNET_FOLDER = (
    *_needs("config.json"),
    FileGroup("weights", (("diffusion_pytorch_model.fp16.safetensors",), ("diffusion_pytorch_model.safetensors",),
                          ("diffusion_pytorch_model.bin",))),
)
"""What diffusers' ``ControlNetModel.from_pretrained`` loads: its config and the weights (the published fp16
safetensors variant, or what ``save_pretrained`` writes)."""
DPT_FOLDER = (*_needs("config.json"), WEIGHTS, *_needs("preprocessor_config.json"))
"""What ``DPTForDepthEstimation`` + ``DPTImageProcessor`` load from a folder."""


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


def hf_files(repo: str, revision: str, entries: list[tuple[str, str | None, int | None]]) -> tuple[RemoteFile, ...]:
    base = f"https://huggingface.co/{repo}/resolve/{revision}"
    return tuple(RemoteFile(name, f"{base}/{name}", sha, size) for name, sha, size in entries)
