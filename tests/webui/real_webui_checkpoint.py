"""Run with the WebUI's Python: ``python real_webui_checkpoint.py WEBUI_DIR OUT.safetensors HF_HOME [--full-unet]``.

Writes a tiny random-weight SD1 inpainting checkpoint (LatentInpaintDiffusion: UNet with 32 base channels and
one res block, a small VAE that still downsamples by 8, the full-size CLIP-L text encoder the WebUI expects;
with ``--full-unet`` the UNet keeps SD1.5's sizes, which a ControlNet's outputs must match),
the .yaml next to it that makes the WebUI build exactly that model, and the CLIP-L config and tokenizer files
into an offline Hugging Face cache under HF_HOME (no download anywhere).
"""

import json
import sys
from pathlib import Path

CLIP_L = "openai/clip-vit-large-patch14"
REVISION = "0" * 40
TEXT_CONFIG = {"hidden_size": 768, "intermediate_size": 3072, "num_attention_heads": 12, "num_hidden_layers": 12,
               "max_position_embeddings": 77, "vocab_size": 49408, "projection_dim": 768, "hidden_act": "quick_gelu",
               "bos_token_id": 0, "eos_token_id": 2, "pad_token_id": 1}
VISION_CONFIG = {"hidden_size": 1024, "intermediate_size": 4096, "num_attention_heads": 16, "num_hidden_layers": 24,
                 "image_size": 224, "patch_size": 14, "projection_dim": 768, "hidden_act": "quick_gelu"}


def write_hf_cache(hf_home: Path, tests_root: Path) -> None:
    sys.path.insert(0, str(tests_root))
    from tests.support.tokenizer_files import write_clip_tokenizer

    repo = hf_home / "hub" / f"models--{CLIP_L.replace('/', '--')}"
    snapshot = repo / "snapshots" / REVISION
    write_clip_tokenizer(snapshot)
    config = {"architectures": ["CLIPModel"], "model_type": "clip", "projection_dim": 768,
              "text_config": TEXT_CONFIG, "vision_config": VISION_CONFIG}
    (snapshot / "config.json").write_text(json.dumps(config), encoding="utf-8")
    (repo / "refs").mkdir(parents=True, exist_ok=True)
    (repo / "refs" / "main").write_text(REVISION, encoding="utf-8")


def tiny_config(webui: Path, full_unet: bool = False):
    from omegaconf import OmegaConf

    config = OmegaConf.load(webui / "configs" / "v1-inpainting-inference.yaml")
    if full_unet:
        config.model.params.use_ema = False  # no EMA copy of 860 M parameters (the WebUI loads without one)
    else:
        unet = config.model.params.unet_config.params
        unet.model_channels, unet.num_res_blocks, unet.channel_mult = 32, 1, [1, 2]
        unet.attention_resolutions, unet.num_heads = [2], 2
    dd = config.model.params.first_stage_config.params.ddconfig
    dd.ch, dd.ch_mult, dd.num_res_blocks = 32, [1, 1, 1, 1], 1
    return config


def main(webui: Path, out: Path, hf_home: Path, full_unet: bool = False) -> None:
    import os

    os.environ["HF_HOME"] = str(hf_home)
    os.environ["HF_HUB_OFFLINE"] = os.environ["TRANSFORMERS_OFFLINE"] = "1"
    write_hf_cache(hf_home, Path(__file__).resolve().parents[2])
    sys.path[:0] = [str(webui / "repositories" / "stable-diffusion-stability-ai"), str(webui)]
    import torch
    import transformers
    from ldm.util import instantiate_from_config
    from omegaconf import OmegaConf
    from safetensors.torch import save_file

    def from_config(cls):
        return classmethod(lambda klass, name, **kw: klass(transformers.CLIPTextConfig(**TEXT_CONFIG)))

    transformers.CLIPTextModel.from_pretrained = from_config(transformers.CLIPTextModel)  # random text encoder
    torch.manual_seed(0)
    config = tiny_config(webui, full_unet)
    model = instantiate_from_config(config.model).half()  # in place, tensor by tensor: no second full copy
    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    out.parent.mkdir(parents=True, exist_ok=True)
    save_file(state, str(out))
    OmegaConf.save(config, out.with_suffix(".yaml"))
    print(f"wrote {out} ({out.stat().st_size // 2**20} MB) and {out.with_suffix('.yaml').name}")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]), "--full-unet" in sys.argv[4:])
