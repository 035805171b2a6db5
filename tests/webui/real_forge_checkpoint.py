"""Run with Forge's Python: ``python real_forge_checkpoint.py FORGE_DIR OUT.safetensors``.

Writes a FULL-SIZE random-weight SD1.5 inpainting checkpoint (fp16 safetensors, about 2 GB) that Forge loads:
its loader asks huggingface_guess for the model type from the state dict's shapes, and only SD1.5's real sizes
(UNet model_channels 320, context_dim 768; 9 input channels for inpainting) are recognised. The parts are Forge's
own classes (IntegratedUNet2DConditionModel, IntegratedAutoencoderKL with the VAE config in Forge's repository)
and transformers' CLIPTextModel with the text-encoder config there, saved under the LDM prefixes Forge reads.
The result is checked with huggingface_guess before it is written. Nothing is downloaded.
"""

import sys
from pathlib import Path

SD15_INPAINT_UNET = {  # LDM names, SD1.5's shapes with the inpainting model's 9 input channels
    "in_channels": 9, "out_channels": 4, "model_channels": 320, "num_res_blocks": [2, 2, 2, 2],
    "channel_mult": [1, 2, 4, 4], "num_heads": 8, "num_head_channels": -1, "use_spatial_transformer": True,
    "context_dim": 768, "use_linear_in_transformer": False, "adm_in_channels": None,
    "transformer_depth": [1, 1, 1, 1, 1, 1, 0, 0], "transformer_depth_middle": 1,
    "transformer_depth_output": [1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0],
}
PREFIXES = {"unet": "model.diffusion_model.", "vae": "first_stage_model.", "clip": "cond_stage_model.transformer."}


def build_state_dict(forge: Path) -> dict:
    """The checkpoint's state dict (fp16) from randomly initialised full-size parts."""
    import torch
    from backend.nn.unet import IntegratedUNet2DConditionModel
    from backend.nn.vae import IntegratedAutoencoderKL
    from transformers import CLIPTextConfig, CLIPTextModel

    repo = forge / "backend" / "huggingface" / "runwayml" / "stable-diffusion-v1-5"
    torch.manual_seed(0)
    parts = {
        "unet": IntegratedUNet2DConditionModel(**SD15_INPAINT_UNET),
        "vae": IntegratedAutoencoderKL.from_config(IntegratedAutoencoderKL.load_config(str(repo / "vae"))),
        "clip": CLIPTextModel(CLIPTextConfig.from_pretrained(str(repo / "text_encoder"))),
    }
    state = {}
    for part, model in parts.items():
        for key, value in model.state_dict().items():
            if key.endswith("position_ids"):
                continue
            if value.is_floating_point() and value.dim() > 1 and not value.any():  # zero-initialised output layers
                value = torch.randn_like(value) * 1e-3
            state[PREFIXES[part] + key] = (value.half() if value.is_floating_point() else value).contiguous()
    return state


def check(state: dict) -> str:
    """What huggingface_guess makes of ``state``; raises unless it is an SD1.5 inpainting model."""
    import huggingface_guess

    guess = huggingface_guess.guess(state)
    name = type(guess).__name__
    config = guess.unet_config
    if name != "SD15" or config["in_channels"] != 9 or not guess.inpaint_model():
        raise SystemExit(f"huggingface_guess sees {name} with {config.get('in_channels')} input channels, "
                         "not an SD1.5 inpainting model")
    differing = {k: (v, config[k]) for k, v in SD15_INPAINT_UNET.items() if k in config and config[k] != v}
    if differing:
        raise SystemExit(f"huggingface_guess reads a different UNet config: {differing}")
    return name


def save_whole(state: dict, out: Path) -> None:
    """``state`` as a safetensors file at ``out``, written beside it and renamed (never a half-written file)."""
    from safetensors.torch import save_file

    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + ".part")
    save_file(state, str(partial))
    partial.replace(out)


def main(forge: Path, out: Path) -> None:
    sys.argv = [sys.argv[0], "--always-cpu"]  # Forge's backend parses the command line when imported
    # the folders modules/paths.py puts on sys.path
    sys.path[:0] = [str(forge / p) for p in ("", "repositories/huggingface_guess", "packages_3rdparty")]
    state = build_state_dict(forge)
    name = check(state)
    save_whole(state, out)
    print(f"wrote {out} ({out.stat().st_size // 2**20} MB; huggingface_guess: {name}, 9 input channels)")


if __name__ == "__main__":
    main(Path(sys.argv[1]).resolve(), Path(sys.argv[2]).resolve())
