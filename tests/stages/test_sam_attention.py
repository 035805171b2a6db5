"""The fused SAM encoder attention computes what segment-anything's own attention computes."""

from __future__ import annotations

import copy

import pytest
import torch
from segment_anything.modeling.image_encoder import Attention, ImageEncoderViT

from alien_filters.stages.sam_attention import FusedAttention, use_fused_attention


def _randomise_relative_positions(module: torch.nn.Module, seed: int) -> None:
    """SAM initialises relative positions to zero; trained checkpoints are not zero, so test with noise."""
    generator = torch.Generator().manual_seed(seed)
    for name, parameter in module.named_parameters():
        if "rel_pos" in name:
            with torch.no_grad():
                parameter.copy_(torch.randn(parameter.shape, generator=generator) * 0.5)


@pytest.mark.parametrize(
    ("batch", "height", "width", "use_rel_pos"),
    [(6, 14, 14, True), (1, 24, 32, True), (2, 9, 5, False)],
    ids=["windows", "global-rectangular", "no-relative-positions"],
)
def test_fused_attention_matches_segment_anything(batch: int, height: int, width: int, use_rel_pos: bool) -> None:
    torch.manual_seed(batch + height)
    upstream = Attention(96, num_heads=6, use_rel_pos=use_rel_pos, input_size=(height, width)).eval()
    _randomise_relative_positions(upstream, seed=height)
    fused = copy.deepcopy(upstream)
    assert use_fused_attention(fused) == 1
    x = torch.randn(batch, height, width, 96)
    with torch.no_grad():
        expected, got = upstream(x), fused(x)
    assert got.shape == expected.shape == (batch, height, width, 96)
    torch.testing.assert_close(got, expected, atol=2e-5, rtol=1e-4)


def test_whole_encoder_switched_in_place_with_the_same_weights_and_output() -> None:
    torch.manual_seed(3)
    upstream = ImageEncoderViT(img_size=128, patch_size=16, embed_dim=64, depth=4, num_heads=4, out_chans=32,
                               use_rel_pos=True, window_size=3, global_attn_indexes=(1, 3)).eval()
    _randomise_relative_positions(upstream, seed=4)
    fused = copy.deepcopy(upstream)
    keys = list(fused.state_dict())

    assert use_fused_attention(fused) == 4
    assert [type(block.attn) for block in fused.blocks] == [FusedAttention] * 4
    assert list(fused.state_dict()) == keys
    assert use_fused_attention(fused) == 0, "already switched: nothing left to switch"
    image = torch.randn(2, 3, 128, 128)
    with torch.no_grad():
        torch.testing.assert_close(fused(image), upstream(image), atol=5e-5, rtol=1e-4)
