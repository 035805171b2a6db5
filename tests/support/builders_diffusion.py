"""Random-weight Stable Diffusion inpainting checkpoints, written as the files users have.

``write_tiny_inpaint_checkpoint`` builds the real diffusers architectures (UNet2DConditionModel with 9 input
channels, AutoencoderKL, CLIPTextModel, the offline CLIP tokenizer, a scheduler) and saves them either as a
diffusers folder or as one original-layout (LDM) ``.safetensors``/``.ckpt`` file plus a weight-less config folder,
which is what ``from_single_file`` needs offline.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

import torch
from diffusers import AutoencoderKL, PNDMScheduler, StableDiffusionInpaintPipeline, UNet2DConditionModel
from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

from tests.support.tokenizer_files import write_clip_tokenizer

TINY_NAME = "tiny-sd-inpainting"

_TINY_UNET: dict[str, Any] = dict(
    sample_size=32,
    layers_per_block=1,
    block_out_channels=(32, 64),
    down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
    up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"),
    cross_attention_dim=32,
    attention_head_dim=2,
)
_FULL_UNET: dict[str, Any] = dict(  # runwayml/stable-diffusion-inpainting
    sample_size=64,
    layers_per_block=2,
    block_out_channels=(320, 640, 1280, 1280),
    down_block_types=("CrossAttnDownBlock2D",) * 3 + ("DownBlock2D",),
    up_block_types=("UpBlock2D",) + ("CrossAttnUpBlock2D",) * 3,
    cross_attention_dim=768,
    attention_head_dim=8,
)
_TINY_VAE: dict[str, Any] = dict(block_out_channels=(32, 64), layers_per_block=1, sample_size=64)
_FULL_VAE: dict[str, Any] = dict(block_out_channels=(128, 256, 512, 512), layers_per_block=2, sample_size=512)
_TINY_CLIP: dict[str, Any] = dict(hidden_size=32, intermediate_size=37, num_attention_heads=4, num_hidden_layers=2,
                                  projection_dim=32)
_FULL_CLIP: dict[str, Any] = dict(hidden_size=768, intermediate_size=3072, num_attention_heads=12,
                                  num_hidden_layers=12, projection_dim=768)


def build_tiny_inpaint_pipeline(
    inpainting: bool = True, full_size: bool = False, seed: int = 0
) -> StableDiffusionInpaintPipeline:
    """A random-weight StableDiffusionInpaintPipeline, no safety checker; a 4-channel UNet if not ``inpainting``."""
    return build_inpaint_pipeline(_FULL_UNET if full_size else _TINY_UNET, _FULL_VAE if full_size else _TINY_VAE,
                                  _FULL_CLIP if full_size else _TINY_CLIP, inpainting=inpainting, seed=seed)


def build_inpaint_pipeline(unet_cfg: dict[str, Any], vae_cfg: dict[str, Any], clip_cfg: dict[str, Any],
                           inpainting: bool = True, seed: int = 0) -> StableDiffusionInpaintPipeline:
    """A random-weight SD inpainting pipeline of the given UNet, VAE and text-encoder sizes (offline tokenizer)."""
    torch.manual_seed(seed)
    unet = UNet2DConditionModel(in_channels=9 if inpainting else 4, out_channels=4, **unet_cfg)
    n = len(vae_cfg["block_out_channels"])
    vae = AutoencoderKL(in_channels=3, out_channels=3, latent_channels=4, down_block_types=("DownEncoderBlock2D",) * n,
                        up_block_types=("UpDecoderBlock2D",) * n, **vae_cfg)
    text_config = CLIPTextConfig(vocab_size=49408, max_position_embeddings=77, bos_token_id=49406, eos_token_id=49407,
                                 pad_token_id=1, hidden_act="quick_gelu", **clip_cfg)
    text_encoder = CLIPTextModel(text_config).eval()
    with tempfile.TemporaryDirectory() as tmp:
        tokenizer = CLIPTokenizer.from_pretrained(write_clip_tokenizer(Path(tmp)))
    scheduler = PNDMScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", skip_prk_steps=True,
                              steps_offset=1, set_alpha_to_one=False)
    return StableDiffusionInpaintPipeline(vae=vae, text_encoder=text_encoder, tokenizer=tokenizer, unet=unet,
                                          scheduler=scheduler, safety_checker=None, feature_extractor=None,
                                          requires_safety_checker=False)


def write_tiny_inpaint_checkpoint(
    folder: Path,
    as_single_file: bool = False,
    full_size: bool = False,
    inpainting: bool = True,
    suffix: str = ".safetensors",
) -> Path:
    """Write a random-weight SD inpainting model into ``folder`` and return the path a user would pass.

    Folder form: ``folder/tiny-sd-inpainting`` (diffusers ``save_pretrained``). Single-file form:
    ``folder/tiny-sd-inpainting{suffix}`` in the original LDM key layout, with its weight-less config folder
    next to it (see :func:`single_file_config_dir`). ``full_size`` gives the real SD1.5-inpainting shapes.
    """
    folder.mkdir(parents=True, exist_ok=True)
    pipe = build_tiny_inpaint_pipeline(inpainting=inpainting, full_size=full_size)
    target = folder / TINY_NAME
    pipe.save_pretrained(target, safe_serialization=True)
    if not as_single_file:
        return target
    state = ldm_state_dict(pipe)
    checkpoint = folder / f"{TINY_NAME}{suffix}"
    if suffix == ".safetensors":
        from safetensors.torch import save_file

        save_file(state, str(checkpoint))
    elif suffix == ".ckpt":
        torch.save({"state_dict": state}, checkpoint)
    else:
        raise ValueError(f"unsupported single-file suffix {suffix!r}")
    config_dir = single_file_config_dir(checkpoint)
    shutil.move(str(target), config_dir)
    for weights in [*config_dir.rglob("*.safetensors"), *config_dir.rglob("*.bin")]:
        weights.unlink()
    return checkpoint


def single_file_config_dir(checkpoint: Path) -> Path:
    """The weight-less diffusers config folder written next to a single-file checkpoint."""
    return checkpoint.with_name(checkpoint.stem + "-config")


def ldm_state_dict(pipe: StableDiffusionInpaintPipeline) -> dict[str, torch.Tensor]:
    """The pipeline's weights under the original Stable Diffusion (LDM) checkpoint keys."""
    state: dict[str, torch.Tensor] = {}
    for key, value in _unet_to_ldm(pipe.unet.state_dict(), dict(pipe.unet.config)).items():
        state["model.diffusion_model." + key] = value
    for key, value in _vae_to_ldm(pipe.vae.state_dict(), len(pipe.vae.config.up_block_types)).items():
        state["first_stage_model." + key] = value
    for key, value in pipe.text_encoder.state_dict().items():
        state["cond_stage_model.transformer." + key] = value
    return {k: v.detach().clone().contiguous() for k, v in state.items()}


_UNET_RESNET = {"norm1": "in_layers.0", "conv1": "in_layers.2", "norm2": "out_layers.0", "conv2": "out_layers.3",
                "time_emb_proj": "emb_layers.1", "conv_shortcut": "skip_connection"}
_VAE_ATTENTION = {"group_norm": "norm", "to_q": "q", "to_k": "k", "to_v": "v", "to_out.0": "proj_out"}


def _rename(prefixes: dict[str, str], key: str, resnet_names: dict[str, str]) -> str:
    """Swap the longest matching diffusers prefix of ``key``; rename resnet layers after '.resnets.' prefixes."""
    best = max((p for p in prefixes if key.startswith(p)), key=len, default=None)
    if best is None:
        raise KeyError(f"no LDM name for diffusers key {key}")
    rest = key[len(best):]
    if ".resnets." in best or best.startswith("mid_block.resnets"):
        for old, new in resnet_names.items():
            if rest.startswith(old + "."):
                rest = new + rest[len(old):]
                break
    return prefixes[best] + rest


def _unet_to_ldm(state: dict[str, torch.Tensor], config: dict[str, Any]) -> dict[str, torch.Tensor]:
    per = config["layers_per_block"] + 1
    prefixes = {"time_embedding.linear_1.": "time_embed.0.", "time_embedding.linear_2.": "time_embed.2.",
                "conv_in.": "input_blocks.0.0.", "conv_norm_out.": "out.0.", "conv_out.": "out.2.",
                "mid_block.resnets.0.": "middle_block.0.", "mid_block.attentions.0.": "middle_block.1.",
                "mid_block.resnets.1.": "middle_block.2."}
    for b, up_type in enumerate(config["up_block_types"]):
        for j in range(config["layers_per_block"]):
            prefixes[f"down_blocks.{b}.resnets.{j}."] = f"input_blocks.{per * b + j + 1}.0."
            prefixes[f"down_blocks.{b}.attentions.{j}."] = f"input_blocks.{per * b + j + 1}.1."
        prefixes[f"down_blocks.{b}.downsamplers.0.conv."] = f"input_blocks.{per * (b + 1)}.0.op."
        for j in range(per):
            prefixes[f"up_blocks.{b}.resnets.{j}."] = f"output_blocks.{per * b + j}.0."
            prefixes[f"up_blocks.{b}.attentions.{j}."] = f"output_blocks.{per * b + j}.1."
        upsampler_slot = 2 if "CrossAttn" in up_type else 1
        prefixes[f"up_blocks.{b}.upsamplers.0."] = f"output_blocks.{per * b + per - 1}.{upsampler_slot}."
    return {_rename(prefixes, k, _UNET_RESNET): v for k, v in state.items()}


def _vae_to_ldm(state: dict[str, torch.Tensor], n_blocks: int) -> dict[str, torch.Tensor]:
    prefixes = {"quant_conv.": "quant_conv.", "post_quant_conv.": "post_quant_conv."}
    for part in ("encoder", "decoder"):
        prefixes.update({f"{part}.conv_in.": f"{part}.conv_in.", f"{part}.conv_out.": f"{part}.conv_out.",
                         f"{part}.conv_norm_out.": f"{part}.norm_out.",
                         f"{part}.mid_block.resnets.0.": f"{part}.mid.block_1.",
                         f"{part}.mid_block.resnets.1.": f"{part}.mid.block_2.",
                         f"{part}.mid_block.attentions.0.": f"{part}.mid.attn_1."})
    for i in range(n_blocks):
        prefixes[f"encoder.down_blocks.{i}.resnets."] = f"encoder.down.{i}.block."
        prefixes[f"encoder.down_blocks.{i}.downsamplers.0."] = f"encoder.down.{i}.downsample."
        prefixes[f"decoder.up_blocks.{i}.resnets."] = f"decoder.up.{n_blocks - 1 - i}.block."
        prefixes[f"decoder.up_blocks.{i}.upsamplers.0."] = f"decoder.up.{n_blocks - 1 - i}.upsample."
    out: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        new = _rename(prefixes, key, {}).replace(".conv_shortcut.", ".nin_shortcut.")
        if ".mid.attn_1." in new:
            head, tail = new.split(".mid.attn_1.")
            for old, ldm in _VAE_ATTENTION.items():
                if tail.startswith(old + "."):
                    tail = ldm + tail[len(old):]
                    if ldm != "norm" and tail.endswith(".weight"):
                        value = value[:, :, None, None]  # LDM stores these as 1x1 convolutions
                    break
            new = f"{head}.mid.attn_1.{tail}"
        out[new] = value
    return out
