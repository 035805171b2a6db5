"""Offline CLIP tokenizer files, rebuilt from the BPE table that open_clip_torch ships.

The ids match OpenAI's CLIP tokenizer (49408 tokens), so any transformers CLIP-family model
(CLIP, OWL-ViT, Stable Diffusion's text encoder) can load them with ``from_pretrained(folder)``.
"""

from __future__ import annotations

import gzip
import json
from functools import lru_cache
from pathlib import Path

import open_clip

MERGES = 48894
"""CLIP uses lines 1..48894 of the BPE file (49152 - 256 - 2 = 48894 merges)."""


def _bytes_to_unicode() -> list[str]:
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    codes = printable[:]
    extra = 0
    for byte in range(256):
        if byte not in printable:
            printable.append(byte)
            codes.append(256 + extra)
            extra += 1
    return [chr(c) for c in codes]


@lru_cache(maxsize=1)
def _vocab_and_merges() -> tuple[dict[str, int], list[str]]:
    bpe_path = Path(open_clip.__file__).parent / "bpe_simple_vocab_16e6.txt.gz"
    merges = gzip.open(bpe_path).read().decode("utf-8").split("\n")[1 : MERGES + 1]
    symbols = _bytes_to_unicode()
    tokens = symbols + [s + "</w>" for s in symbols] + ["".join(m.split()) for m in merges]
    tokens += ["<|startoftext|>", "<|endoftext|>"]
    return {tok: i for i, tok in enumerate(tokens)}, merges


def write_clip_tokenizer(folder: Path, model_max_length: int = 77) -> Path:
    """Write vocab.json, merges.txt and the tokenizer configs of CLIP's tokenizer into ``folder``."""
    vocab, merges = _vocab_and_merges()
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "vocab.json").write_text(json.dumps(vocab), encoding="utf-8")
    (folder / "merges.txt").write_text("#version: 0.2\n" + "\n".join(merges) + "\n", encoding="utf-8")
    special = {"bos_token": "<|startoftext|>", "eos_token": "<|endoftext|>", "unk_token": "<|endoftext|>",
               "pad_token": "<|endoftext|>"}
    (folder / "special_tokens_map.json").write_text(json.dumps(special), encoding="utf-8")
    config = {"model_max_length": model_max_length, "tokenizer_class": "CLIPTokenizer", **special}
    (folder / "tokenizer_config.json").write_text(json.dumps(config), encoding="utf-8")
    return folder
