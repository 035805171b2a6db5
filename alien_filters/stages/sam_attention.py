"""SAM's image-encoder attention through PyTorch's fused ``scaled_dot_product_attention``.

segment-anything writes attention out as matrices: ``q @ k^T``, plus the decomposed relative positions, softmax,
``@ v``. Profiled on CPU (``python -m benchmarks.profile_sam``), vit_b's four global-attention blocks (4,096
tokens each) take over half of the encoder's time. The same arithmetic with the relative positions passed as an
additive mask to the fused kernel gives the same output (to float rounding, tests/test_sam_attention.py) and
skips the separate softmax copy of the attention matrix. The checkpoint's weights are untouched.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from segment_anything.modeling.image_encoder import Attention, get_rel_pos


class FusedAttention(Attention):
    """segment-anything's :class:`Attention` with its forward pass through the fused attention kernel."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, height, width, _ = x.shape
        tokens = height * width
        qkv = self.qkv(x).reshape(batch, tokens, 3, self.num_heads, -1).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.unbind(0)  # each (batch, heads, tokens, head_dim)
        bias = self._relative_position_bias(q, height, width) if self.use_rel_pos else None
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=bias)  # its default scale is self.scale
        out = out.view(batch, self.num_heads, height, width, -1).permute(0, 2, 3, 1, 4)
        return self.proj(out.reshape(batch, height, width, -1))

    def _relative_position_bias(self, q: torch.Tensor, height: int, width: int) -> torch.Tensor:
        """The additive (batch, heads, tokens, tokens) bias that ``add_decomposed_rel_pos`` adds to the logits."""
        batch, heads, tokens, head_dim = q.shape
        grid_q = q.reshape(batch * heads, height, width, head_dim)
        rel_h = torch.einsum("bhwc,hkc->bhwk", grid_q, get_rel_pos(height, height, self.rel_pos_h))
        rel_w = torch.einsum("bhwc,wkc->bhwk", grid_q, get_rel_pos(width, width, self.rel_pos_w))
        bias = torch.empty((batch * heads, height, width, height, width), dtype=q.dtype, device=q.device)
        torch.add(rel_h[:, :, :, :, None], rel_w[:, :, :, None, :], out=bias)  # into one buffer: half the time
        return bias.view(batch, heads, tokens, tokens)


def use_fused_attention(image_encoder: torch.nn.Module) -> int:
    """Route every attention block of a SAM ``image_encoder`` through :class:`FusedAttention`, in place;
    returns how many blocks now use it. Parameters and state dict keys stay as they were."""
    switched = 0
    for module in image_encoder.modules():
        if type(module) is Attention:
            module.__class__ = FusedAttention
            switched += 1
    return switched
