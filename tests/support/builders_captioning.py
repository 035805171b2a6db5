"""A random-weight BLIP captioning folder laid out as users keep it (no download).

The real ``BlipForConditionalGeneration`` architecture from a reduced ``BlipConfig`` (or blip-image-captioning-base's
shape with ``tiny=False``), saved with ``save_pretrained`` beside a ``BlipProcessor`` whose BERT tokenizer is written
from a small word list, so tests load it through the product's ``from_pretrained(folder)`` path.
"""

from __future__ import annotations

from pathlib import Path

import torch
from transformers import BertTokenizerFast, BlipConfig, BlipForConditionalGeneration, BlipImageProcessor, BlipProcessor

BLIP_DIR = Path("transformers/Salesforce/blip-image-captioning-base")
SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
WORDS = ["a", "the", "room", "bedroom", "hotel", "with", "bed", "and", "lamp", "window", "chair", "table", "white",
         "large", "small", "view", "of", "on", "in", "wooden", "floor", "two", "beds", "desk", "tv", "curtains"]
DECODER_START = "[DEC]"
"""BLIP's decoder start token (its text config's ``bos_token_id``), the last id as in the released vocabulary."""
TINY_IMAGE_SIZE = 64


RELEASED_VOCAB_SIZE = 30524
"""blip-image-captioning-base's vocabulary size (BERT's 30522 tokens, [DEC] and one more)."""


def _tokenizer(folder: Path, size: int | None = None) -> BertTokenizerFast:
    """A BERT tokenizer over SPECIAL + WORDS (+ filler words up to ``size`` tokens) + [DEC] (written as vocab.txt,
    loaded as the fast tokenizer)."""
    folder.mkdir(parents=True, exist_ok=True)
    vocab = folder / "vocab.txt"
    fillers = [f"word{i}" for i in range(max(0, (size or 0) - len(SPECIAL) - len(WORDS) - 1))]
    vocab.write_text("\n".join([*SPECIAL, *WORDS, *fillers, DECODER_START]) + "\n", encoding="utf-8")
    return BertTokenizerFast(vocab_file=str(vocab), bos_token=DECODER_START, model_max_length=512)


def write_blip(folder: Path, tiny: bool = True, seed: int = 0) -> Path:
    """Save a random-weight BLIP captioner (model + processor) into ``folder``; ``tiny=False`` has the base model's
    shape (ViT-B/16 at 384 pixels, a 12-layer BERT decoder, the released vocabulary's size: the words beyond WORDS
    are fillers)."""
    tokenizer = _tokenizer(folder, None if tiny else RELEASED_VOCAB_SIZE)
    vocab_size = len(tokenizer)
    ids = {"vocab_size": vocab_size, "bos_token_id": tokenizer.convert_tokens_to_ids(DECODER_START),
           "sep_token_id": tokenizer.sep_token_id, "eos_token_id": tokenizer.sep_token_id,
           "pad_token_id": tokenizer.pad_token_id}
    if tiny:
        tower = {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 2}
        text = {**tower, "max_position_embeddings": 64, **ids}
        vision = {**tower, "image_size": TINY_IMAGE_SIZE, "patch_size": 16}
        config = BlipConfig(text_config=text, vision_config=vision, projection_dim=32, image_text_hidden_size=32)
    else:
        config = BlipConfig(text_config=ids)
    torch.manual_seed(seed)
    side = config.vision_config.image_size
    processor = BlipProcessor(image_processor=BlipImageProcessor(size={"height": side, "width": side}),
                              tokenizer=tokenizer)
    BlipForConditionalGeneration(config).eval().save_pretrained(folder, safe_serialization=True)
    processor.save_pretrained(folder)
    return folder
