"""Regional prompting for one diffusion call: each region's prompt acts only inside its own mask.

The technique of regional prompting / attention couple, as a diffusers attention processor on the UNet's
cross-attention (``attn2``): the text embeddings of the call's regions are concatenated along the token axis (77
tokens each); every region attends to its own tokens, and the outputs are mixed per pixel by the region's mask,
downsampled to the attention layer's resolution. Outside every mask (the shared context) the regions' outputs are
averaged. The unconditional half of classifier-free guidance is regional the same way, with each region's negative
prompt (where they are all the same, that is the plain attention to the one negative prompt). The weights sum to one
everywhere, so one region gives exactly the plain attention. Self-attention is left to the UNet's own processor.
"""

from __future__ import annotations

import math
from contextlib import contextmanager
from typing import Any, Iterator

import torch
import torch.nn.functional as F

TEXT_TOKENS = 77
"""CLIP's context length: the tokens of one region's prompt."""


class RegionWeights:
    """Per batch item and region, the weight of the region's prompt at every latent pixel.

    ``masks`` is (items, regions, height, width) in latent pixels with values in [0, 1] and regions disjoint (their
    sum at most 1); ``active`` (items, regions) marks real regions (padding slots get weight 0)."""

    def __init__(self, masks: torch.Tensor, active: torch.Tensor) -> None:
        if masks.ndim != 4 or active.shape != masks.shape[:2]:
            raise ValueError(f"masks must be (items, regions, H, W) with active (items, regions); got "
                             f"{tuple(masks.shape)} and {tuple(active.shape)}")
        self.masks = masks.float()
        self.active = active.float()
        self._cache: dict[int, torch.Tensor] = {}

    @property
    def regions(self) -> int:
        return int(self.masks.shape[1])

    def for_tokens(self, tokens: int) -> torch.Tensor:
        """(items, regions, tokens): the weights at the layer whose feature map flattens to ``tokens`` pixels (the
        UNet halves each side, rounding up, per level)."""
        if tokens not in self._cache:
            height, width = self.masks.shape[-2:]
            while height * width > tokens:
                height, width = math.ceil(height / 2), math.ceil(width / 2)
            if height * width != tokens:
                raise ValueError(f"no level of a {self.masks.shape[-1]}x{self.masks.shape[-2]} latent has {tokens} "
                                 "pixels")
            masks = F.adaptive_avg_pool2d(self.masks, (height, width)) * self.active[..., None, None]
            rest = (1.0 - masks.sum(dim=1, keepdim=True)).clamp(min=0.0)
            weights = masks + rest * (self.active / self.active.sum(dim=1, keepdim=True))[..., None, None]
            self._cache[tokens] = weights.flatten(2)
        return self._cache[tokens]


class RegionalAttnProcessor:
    """Cross-attention with one prompt per region (see the module docstring); self-attention goes to ``base``."""

    def __init__(self, base: Any, weights: RegionWeights) -> None:
        self.base = base
        self.weights = weights

    def __call__(self, attn: Any, hidden_states: torch.Tensor, encoder_hidden_states: torch.Tensor | None = None,
                 attention_mask: torch.Tensor | None = None, temb: torch.Tensor | None = None, *args: Any,
                 **kwargs: Any) -> torch.Tensor:
        if encoder_hidden_states is None:
            return self.base(attn, hidden_states, encoder_hidden_states, attention_mask, temb, *args, **kwargs)
        if hidden_states.ndim != 3 or attention_mask is not None or attn.spatial_norm is not None \
                or attn.group_norm is not None or attn.norm_cross or attn.residual_connection:
            raise ValueError("regional attention supports Stable Diffusion's plain cross-attention only")
        batch, pixels, _ = hidden_states.shape
        regions = self.weights.regions
        if encoder_hidden_states.shape[1] != regions * TEXT_TOKENS:
            raise ValueError(f"expected {regions} x {TEXT_TOKENS} text tokens, got {encoder_hidden_states.shape[1]}")
        heads = attn.heads
        query = attn.to_q(hidden_states)
        key = attn.to_k(encoder_hidden_states)
        value = attn.to_v(encoder_hidden_states)
        head_dim = key.shape[-1] // heads
        query = query.view(batch, 1, pixels, heads, head_dim).expand(-1, regions, -1, -1, -1)
        query = query.reshape(batch * regions, pixels, heads, head_dim).transpose(1, 2)
        key = key.view(batch * regions, TEXT_TOKENS, heads, head_dim).transpose(1, 2)
        value = value.view(batch * regions, TEXT_TOKENS, heads, head_dim).transpose(1, 2)
        out = F.scaled_dot_product_attention(query, key, value, dropout_p=0.0, is_causal=False)
        out = out.view(batch, regions, heads, pixels, head_dim)
        weights = self._weights(batch, pixels).to(out.dtype)
        out = (out * weights[:, :, None, :, None]).sum(dim=1)
        out = out.transpose(1, 2).reshape(batch, pixels, heads * head_dim).to(hidden_states.dtype)
        out = attn.to_out[1](attn.to_out[0](out))
        return out / attn.rescale_output_factor

    def _weights(self, batch: int, pixels: int) -> torch.Tensor:
        weights = self.weights.for_tokens(pixels)
        items = weights.shape[0]
        if batch % items:
            raise ValueError(f"a batch of {batch} does not split into the {items} items' region weights")
        return weights.repeat(batch // items, 1, 1)  # classifier-free guidance: [negative, positive] halves


@contextmanager
def regional_attention(unet: Any, weights: RegionWeights) -> Iterator[None]:
    """Within the block, the UNet's cross-attention layers prompt per region; its processors are restored after."""
    saved = dict(unet.attn_processors)
    processors = {name: RegionalAttnProcessor(proc, weights) if name.endswith("attn2.processor") else proc
                  for name, proc in saved.items()}
    unet.set_attn_processor(processors)
    try:
        yield
    finally:
        unet.set_attn_processor(saved)
