"""Random-weight structure-guidance models written as the folders users have: a diffusers ControlNet of the tiny
inpainting checkpoint's shape (tests/support/builders_diffusion.py) and a transformers DPT-Hybrid depth model."""

from __future__ import annotations

from pathlib import Path

import torch
from diffusers import ControlNetModel

from tests.support.builders_diffusion import _TINY_UNET, _TINY_VAE

TINY_CONDITIONING_CHANNELS = (16,) * len(_TINY_VAE["block_out_channels"])
"""The control image's embedding downsamples 2x per block after the first: as far as the tiny VAE does."""


def build_tiny_controlnet(seed: int = 0) -> ControlNetModel:
    """A ControlNet of the tiny UNet's blocks; its zero convolutions (zeros in a fresh ControlNet, so it would
    add nothing) get random weights too, so the control image really changes the result."""
    torch.manual_seed(seed)
    model = ControlNetModel(in_channels=4, conditioning_embedding_out_channels=TINY_CONDITIONING_CHANNELS,
                            **{k: v for k, v in _TINY_UNET.items() if k not in ("sample_size", "up_block_types")})
    with torch.no_grad():
        for module in [*model.controlnet_down_blocks, model.controlnet_mid_block,
                       model.controlnet_cond_embedding.conv_out]:
            for param in module.parameters():
                param.normal_(0.0, 0.5)
    return model.eval()


def write_tiny_controlnet(folder: Path, fp16_variant: bool = False, seed: int = 0) -> Path:
    """``folder`` holding a random-weight ControlNet as ``save_pretrained`` writes it; ``fp16_variant``: as the
    registry downloads it (diffusion_pytorch_model.fp16.safetensors beside config.json)."""
    model = build_tiny_controlnet(seed)
    if fp16_variant:
        model = model.half()
    model.save_pretrained(folder, safe_serialization=True, variant="fp16" if fp16_variant else None)
    return folder


def write_tiny_dpt(folder: Path, seed: int = 0) -> Path:
    """``folder`` holding a random-weight DPT-Hybrid depth model (a BiT backbone under the ViT, as
    Intel/dpt-hybrid-midas) at a tiny size, and its image processor, as ``save_pretrained`` writes them."""
    from transformers import DPTConfig, DPTForDepthEstimation, DPTImageProcessor

    torch.manual_seed(seed)
    bit = dict(global_padding="same", layer_type="bottleneck", depths=[1, 1, 1], hidden_sizes=[32, 64, 128],
               embedding_size=32, num_groups=8, out_features=["stage1", "stage2", "stage3"],
               embedding_dynamic_padding=True)
    config = DPTConfig(is_hybrid=True, backbone_config=bit, backbone_featmap_shape=[1, 128, 4, 4], hidden_size=32,
                       num_hidden_layers=4, num_attention_heads=4, intermediate_size=37, image_size=64,
                       patch_size=16, neck_hidden_sizes=[32, 64, 64, 64], fusion_hidden_size=32,
                       backbone_out_indices=[0, 1, 2, 3], reassemble_factors=[1, 1, 1, 0.5], readout_type="project")
    DPTForDepthEstimation(config).eval().save_pretrained(folder)
    # as Intel/dpt-hybrid-midas's preprocessor_config.json: a square input (its 384 here 64), mean and std 0.5
    DPTImageProcessor(size={"height": 64, "width": 64}, keep_aspect_ratio=False, ensure_multiple_of=1,
                      do_normalize=True, image_mean=[0.5] * 3, image_std=[0.5] * 3).save_pretrained(folder)
    return folder
