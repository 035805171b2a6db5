"""Run with Forge's Python: ``python real_forge_controlnet.py FORGE_DIR OUT.safetensors``.

Writes a FULL-SIZE random-weight SD1.5 ControlNet (diffusers' ControlNetModel at SD1.5's sizes, the layout of
lllyasviel/control_v11p_sd15_canny's diffusion_pytorch_model.safetensors; fp16, about 700 MB) that Forge's built-in
ControlNet loads: its loader (modules_forge/supported_controlnet.py) asks huggingface_guess's
``unet_config_from_diffusers_unet`` for the UNet config from the state dict's shapes, which knows only the real
sizes (SD1.5: model_channels 320, context_dim 768, 8 heads), and the ControlNet's outputs are added to the
checkpoint's full-size UNet. The zero-initialised output convolutions get small noise, so the unit changes the
UNet's features. The shapes are checked with huggingface_guess before the file is written. Nothing is downloaded.
"""

import sys
from pathlib import Path

SD15 = {"cross_attention_dim": 768, "attention_head_dim": 8, "block_out_channels": (320, 640, 1280, 1280),
        "layers_per_block": 2, "in_channels": 4, "conditioning_embedding_out_channels": (16, 32, 96, 256)}


def build_state_dict() -> dict:
    """The ControlNet's state dict (fp16) from a randomly initialised diffusers ControlNetModel."""
    import torch
    from diffusers import ControlNetModel

    torch.manual_seed(0)
    state = {}
    for key, value in ControlNetModel(**SD15).state_dict().items():
        if value.is_floating_point() and value.dim() > 1 and not value.any():  # the zero convolutions
            value = torch.randn_like(value) * 1e-3
        state[key] = value.half().contiguous()
    return state


def check(state: dict) -> None:
    """Raises unless huggingface_guess reads ``state`` as an SD1.5-shaped UNet (Forge's ControlNet detection)."""
    from huggingface_guess.detection import unet_config_from_diffusers_unet

    config = unet_config_from_diffusers_unet(state)
    if config is None or config["context_dim"] != 768 or config["model_channels"] != 320:
        raise SystemExit(f"huggingface_guess does not read an SD1.5 ControlNet: {config}")


def main(forge: Path, out: Path) -> None:
    sys.path[:0] = [str(forge / "repositories" / "huggingface_guess")]
    from real_forge_checkpoint import save_whole  # its sibling script, on sys.path as this script's folder

    state = build_state_dict()
    check(state)
    save_whole(state, out)
    print(f"wrote {out} ({out.stat().st_size // 2**20} MB; huggingface_guess: SD1.5 ControlNet)")


if __name__ == "__main__":
    main(Path(sys.argv[1]).resolve(), Path(sys.argv[2]).resolve())
